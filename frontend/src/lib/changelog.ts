// What changed in a product's schema between two versions: graphql-js's own breaking and dangerous change
// detection (the rules every GraphQL tool uses), and the additions it does not list.
import {
  findBreakingChanges,
  findDangerousChanges,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  type GraphQLSchema,
} from "graphql";

export type ChangeKind = "breaking" | "changed" | "added";

export interface SchemaChange {
  kind: ChangeKind;
  description: string;
}

function fieldsOf(schema: GraphQLSchema): Map<string, Map<string, string[]>> {
  const types = new Map<string, Map<string, string[]>>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith("__")) continue;
    const fields = new Map<string, string[]>();
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) fields.set(field.name, field.args.map((a) => a.name));
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) fields.set(field.name, []);
    }
    types.set(type.name, fields);
  }
  return types;
}

/** Types, fields and arguments that are new in `after`. */
export function additions(before: GraphQLSchema, after: GraphQLSchema): SchemaChange[] {
  const old = fieldsOf(before);
  const changes: SchemaChange[] = [];
  for (const [typeName, fields] of fieldsOf(after)) {
    const previous = old.get(typeName);
    if (!previous) {
      changes.push({ kind: "added", description: `${typeName} was added.` });
      continue;
    }
    for (const [fieldName, args] of fields) {
      const previousArgs = previous.get(fieldName);
      if (!previousArgs) {
        changes.push({ kind: "added", description: `${typeName}.${fieldName} was added.` });
        continue;
      }
      for (const arg of args) {
        if (!previousArgs.includes(arg)) {
          changes.push({ kind: "added", description: `${typeName}.${fieldName}(${arg}:) was added.` });
        }
      }
    }
  }
  return changes;
}

/** Every change from `before` to `after`: breaking first, then dangerous ("changed"), then additions. An argument
 * graphql-js already names (required: breaking, optional: dangerous) is not repeated as an addition. */
export function changelog(before: GraphQLSchema, after: GraphQLSchema): SchemaChange[] {
  const breaking = findBreakingChanges(before, after).map((c) => ({ kind: "breaking" as const, description: c.description }));
  const dangerous = findDangerousChanges(before, after).map((c) => ({ kind: "changed" as const, description: c.description }));
  const said = new Set([...breaking, ...dangerous].map((c) => c.description));
  const added = additions(before, after).filter((c) => {
    const argument = /^(\w+)\.(\w+)\((\w+):\) was added\.$/.exec(c.description);
    if (!argument) return true;
    const [, type, field, arg] = argument;
    return ![...said].some((d) => d.includes(`arg ${arg} on ${type}.${field} was added`));
  });
  return [...breaking, ...dangerous, ...added];
}
