// The schema reference: a product's SDL as a list of types with their fields and arguments, and a search over it.
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";

export interface ArgumentEntry {
  name: string;
  type: string;
  description: string;
}

export interface FieldEntry {
  name: string;
  type: string;
  description: string;
  args: ArgumentEntry[];
}

export interface TypeEntry {
  name: string;
  kind: "object" | "interface" | "union" | "enum" | "input" | "scalar";
  description: string;
  fields: FieldEntry[];
}

/** The SDL as a schema (for GraphiQL, so it needs no introspection) or the reason it is not one. */
export function parseSdl(sdl: string): { schema: GraphQLSchema } | { error: string } {
  try {
    return { schema: buildSchema(sdl, { assumeValidSDL: false }) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function entryOf(type: GraphQLNamedType): TypeEntry | null {
  const description = type.description ?? "";
  if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
    const fields: FieldEntry[] = isInputObjectType(type)
      ? Object.values(type.getFields()).map((field) => ({
          name: field.name,
          type: String(field.type),
          description: field.description ?? "",
          args: [],
        }))
      : Object.values(type.getFields()).map((field) => ({
          name: field.name,
          type: String(field.type),
          description: field.description ?? "",
          args: field.args.map((arg) => ({ name: arg.name, type: String(arg.type), description: arg.description ?? "" })),
        }));
    const kind = isObjectType(type) ? "object" : isInterfaceType(type) ? "interface" : "input";
    return { name: type.name, kind, description, fields };
  }
  if (isEnumType(type)) {
    const fields = type.getValues().map((v) => ({ name: v.name, type: type.name, description: v.description ?? "", args: [] }));
    return { name: type.name, kind: "enum", description, fields };
  }
  if (isUnionType(type)) {
    const fields = type.getTypes().map((t) => ({ name: t.name, type: t.name, description: "", args: [] }));
    return { name: type.name, kind: "union", description, fields };
  }
  if (isScalarType(type)) return { name: type.name, kind: "scalar", description, fields: [] };
  return null;
}

const ROOTS = ["Query", "Mutation", "Subscription"];

/** Every named type the product defines (not GraphQL's own), root types first, then by name. */
export function indexSchema(schema: GraphQLSchema): TypeEntry[] {
  const builtIn = new Set(["String", "Int", "Float", "Boolean", "ID"]);
  const entries = Object.values(schema.getTypeMap())
    .filter((type) => !type.name.startsWith("__") && !builtIn.has(type.name))
    .map(entryOf)
    .filter((entry): entry is TypeEntry => entry !== null);
  const rank = (name: string) => (ROOTS.includes(name) ? ROOTS.indexOf(name) : ROOTS.length);
  return entries.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** Types whose name or description matches, whole; otherwise only their fields (or arguments) that match. */
export function searchSchema(types: TypeEntry[], term: string): TypeEntry[] {
  const needle = term.trim().toLowerCase();
  if (!needle) return types;
  const has = (text: string) => text.toLowerCase().includes(needle);
  const found: TypeEntry[] = [];
  for (const type of types) {
    if (has(type.name) || has(type.description)) {
      found.push(type);
      continue;
    }
    const fields = type.fields.filter(
      (f) => has(f.name) || has(f.description) || f.args.some((a) => has(a.name) || has(a.description)),
    );
    if (fields.length > 0) found.push({ ...type, fields });
  }
  return found;
}
