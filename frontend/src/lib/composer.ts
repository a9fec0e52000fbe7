// The product composer's model: a Product resource as `loom apply` reads it, edited as a form.

export interface SourceForm {
  service: string;
  prefix: string;
  hide: string; // "Type.field, Type" as typed
  renameTypes: string; // "Old=New, Other=Else" as typed
  renameFields: string; // "Type.field=newName, ..." as typed
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
      };
    }),
    rest: Array.isArray(spec.rest) ? spec.rest : [],
    plans: strings(spec.plans),
  };
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
  return { service, prefix: "", hide: "", renameTypes: "", renameFields: "" };
}

export function emptyForm(team: string): ProductForm {
  return { name: "", team, displayName: "", tags: "", description: "", version: "0.1.0", lifecycle: "draft", clusters: [], residency: "", sources: [], rest: [], plans: [] };
}

/** The Product resource the form describes (what `apply` takes). Empty optional parts are left out. */
export function resourceOf(form: ProductForm): Record<string, unknown> {
  const sources = form.sources.map((s) => {
    const hide = s.hide.split(",").map((h) => h.trim()).filter(Boolean);
    const renameTypes = renamesOf(s.renameTypes);
    const renameFields = renamesOf(s.renameFields);
    return {
      service: s.service,
      ...(s.prefix.trim() ? { prefix: s.prefix.trim() } : {}),
      ...(Object.keys(renameTypes).length ? { renameTypes } : {}),
      ...(Object.keys(renameFields).length ? { renameFields } : {}),
      ...(hide.length ? { hide } : {}),
    };
  });
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
    },
  };
}
