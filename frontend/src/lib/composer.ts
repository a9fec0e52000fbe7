// The product composer's model: a Product resource as `loom apply` reads it, edited as a form.

export interface SourceForm {
  service: string;
  prefix: string;
  hide: string; // "Type.field, Type" as typed
  renameTypes: string; // "Old=New, Other=Else" as typed
  renameFields: string; // "Type.field=newName, ..." as typed
  typePatterns: PatternRow[]; // renames of types by regular expression, the first match wins
  rootFieldPatterns: PatternRow[]; // the same for the fields of Query, Mutation and Subscription
}

/** A rename by regular expression: a name `pattern` matches whole becomes `replacement` (`\\1` is a group). */
export interface PatternRow {
  pattern: string;
  replacement: string;
}

/** `prefer`: for a type several services define, the service whose definition wins. */
export interface PreferRow {
  type: string;
  service: string;
}

/** A link: `type.field` is resolved by `operation` of `service`, its arguments taken from fields of `type`. */
export interface LinkForm {
  type: string;
  field: string;
  service: string;
  operation: string;
  arguments: string; // "id=memberId, other=field" as typed: argument of the operation = field of the type
  returns: string;
  description: string;
}

export interface ProductForm {
  name: string;
  team: string;
  displayName: string; // the catalog's title
  tags: string; // "payments, eu" as typed
  description: string;
  version: string;
  lifecycle: string;
  clusters: string[];
  residency: string;
  sources: SourceForm[];
  rest: unknown[];
  plans: string[];
  prefer: PreferRow[];
  links: LinkForm[];
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** A Product resource (from `resources(kind: "Product")`) as the form edits it. */
export function formOf(resource: unknown): ProductForm | null {
  const doc = record(resource);
  const metadata = record(doc.metadata);
  const spec = record(doc.spec);
  if (doc.kind !== "Product" || typeof metadata.name !== "string") return null;
  const routing = record(spec.routing);
  return {
    name: metadata.name,
    team: String(metadata.team ?? ""),
    displayName: typeof metadata.displayName === "string" ? metadata.displayName : "",
    tags: strings(metadata.tags).join(", "),
    description: String(metadata.description ?? ""),
    version: String(spec.version ?? ""),
    lifecycle: String(spec.lifecycle ?? "draft"),
    clusters: strings(routing.clusters),
    residency: typeof routing.residency === "string" ? routing.residency : "",
    sources: (Array.isArray(spec.sources) ? spec.sources : []).map((s) => {
      const source = record(s);
      return {
        service: String(source.service ?? ""),
        prefix: String(source.prefix ?? ""),
        hide: strings(source.hide).join(", "),
        renameTypes: renamesText(source.renameTypes),
        renameFields: renamesText(source.renameFields),
        typePatterns: patternRows(source.typePatterns),
        rootFieldPatterns: patternRows(source.rootFieldPatterns),
      };
    }),
    rest: Array.isArray(spec.rest) ? spec.rest : [],
    plans: strings(spec.plans),
    prefer: Object.entries(record(spec.prefer)).map(([type, service]) => ({ type, service: String(service) })),
    links: (Array.isArray(spec.links) ? spec.links : []).map((l) => {
      const link = record(l);
      return {
        type: String(link.type ?? ""),
        field: String(link.field ?? ""),
        service: String(link.service ?? ""),
        operation: String(link.operation ?? ""),
        arguments: renamesText(link.arguments),
        returns: typeof link.returns === "string" ? link.returns : "",
        description: typeof link.description === "string" ? link.description : "",
      };
    }),
  };
}

function patternRows(value: unknown): PatternRow[] {
  return Object.entries(record(value)).map(([pattern, replacement]) => ({ pattern, replacement: String(replacement) }));
}

/** Pattern rows as the mapping `apply` takes, in their order; a row left blank is no pattern. */
export function patternsOf(rows: PatternRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of rows) if (row.pattern || row.replacement) out[row.pattern] = row.replacement;
  return out;
}

export function emptyLink(): LinkForm {
  return { type: "", field: "", service: "", operation: "", arguments: "", returns: "", description: "" };
}

/** A link of the form as the API's typed link (to say it in words while it is edited). */
export function linkOf(form: LinkForm) {
  return { ...form, arguments: Object.entries(renamesOf(form.arguments)).map(([argument, from]) => ({ argument, from })) };
}

/** A rename mapping (`{Old: "New"}`) as the form shows it: "Old=New, ...". */
export function renamesText(value: unknown): string {
  return Object.entries(record(value))
    .filter((entry): entry is [string, string] => typeof entry[1] === "string")
    .map(([from, to]) => `${from}=${to}`)
    .join(", ");
}

/** "Old=New, Other=Else" as a mapping; a part without "=" is kept with an empty target, which `apply` refuses
 * (naming the field), rather than dropped silently. */
export function renamesOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    const from = (at < 0 ? part : part.slice(0, at)).trim();
    if (from) out[from] = at < 0 ? "" : part.slice(at + 1).trim();
  }
  return out;
}

export function emptySource(service: string): SourceForm {
  return { service, prefix: "", hide: "", renameTypes: "", renameFields: "", typePatterns: [], rootFieldPatterns: [] };
}

export function emptyForm(team: string): ProductForm {
  return { name: "", team, displayName: "", tags: "", description: "", version: "0.1.0", lifecycle: "draft", clusters: [], residency: "", sources: [], rest: [], plans: [], prefer: [], links: [] };
}

/** The Product resource the form describes (what `apply` takes). Empty optional parts are left out. */
export function resourceOf(form: ProductForm): Record<string, unknown> {
  const sources = form.sources.map((s) => {
    const hide = s.hide.split(",").map((h) => h.trim()).filter(Boolean);
    const renameTypes = renamesOf(s.renameTypes);
    const renameFields = renamesOf(s.renameFields);
    const typePatterns = patternsOf(s.typePatterns);
    const rootFieldPatterns = patternsOf(s.rootFieldPatterns);
    return {
      service: s.service,
      ...(s.prefix.trim() ? { prefix: s.prefix.trim() } : {}),
      ...(Object.keys(renameTypes).length ? { renameTypes } : {}),
      ...(Object.keys(renameFields).length ? { renameFields } : {}),
      ...(Object.keys(typePatterns).length ? { typePatterns } : {}),
      ...(Object.keys(rootFieldPatterns).length ? { rootFieldPatterns } : {}),
      ...(hide.length ? { hide } : {}),
    };
  });
  // a prefer row without a type says nothing yet; every link row is sent, so `spec.links[i]` is row i
  const prefer = Object.fromEntries(form.prefer.filter((p) => p.type.trim()).map((p) => [p.type.trim(), p.service]));
  const links = form.links.map((l) => ({
    type: l.type.trim(),
    field: l.field.trim(),
    service: l.service,
    operation: l.operation.trim(),
    arguments: renamesOf(l.arguments),
    ...(l.returns.trim() ? { returns: l.returns.trim() } : {}),
    ...(l.description.trim() ? { description: l.description.trim() } : {}),
  }));
  const metadata: Record<string, unknown> = { name: form.name.trim(), team: form.team };
  if (form.displayName.trim()) metadata.displayName = form.displayName.trim();
  const tags = form.tags.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length) metadata.tags = tags;
  if (form.description.trim()) metadata.description = form.description.trim();
  const routing: Record<string, unknown> = { clusters: form.clusters };
  if (form.residency) routing.residency = form.residency;
  return {
    apiVersion: "loom.dev/v1alpha1",
    kind: "Product",
    metadata,
    spec: {
      version: form.version.trim(),
      lifecycle: form.lifecycle,
      sources,
      routing,
      ...(form.rest.length ? { rest: form.rest } : {}),
      ...(form.plans.length ? { plans: form.plans } : {}),
      ...(Object.keys(prefer).length ? { prefer } : {}),
      ...(links.length ? { links } : {}),
    },
  };
}
