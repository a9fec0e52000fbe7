// The product composer's model: a Product resource as `loom apply` reads it, edited as a form.

export interface SourceForm {
  service: string;
  prefix: string;
  hide: string; // "Type.field, Type" as typed
}

export interface ProductForm {
  name: string;
  team: string;
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
    description: String(metadata.description ?? ""),
    version: String(spec.version ?? ""),
    lifecycle: String(spec.lifecycle ?? "draft"),
    clusters: strings(routing.clusters),
    residency: typeof routing.residency === "string" ? routing.residency : "",
    sources: (Array.isArray(spec.sources) ? spec.sources : []).map((s) => {
      const source = record(s);
      return { service: String(source.service ?? ""), prefix: String(source.prefix ?? ""), hide: strings(source.hide).join(", ") };
    }),
    rest: Array.isArray(spec.rest) ? spec.rest : [],
    plans: strings(spec.plans),
  };
}

export function emptyForm(team: string): ProductForm {
  return { name: "", team, description: "", version: "0.1.0", lifecycle: "draft", clusters: [], residency: "", sources: [], rest: [], plans: [] };
}

/** The Product resource the form describes (what `apply` takes). Empty optional parts are left out. */
export function resourceOf(form: ProductForm): Record<string, unknown> {
  const sources = form.sources.map((s) => {
    const hide = s.hide.split(",").map((h) => h.trim()).filter(Boolean);
    return { service: s.service, ...(s.prefix.trim() ? { prefix: s.prefix.trim() } : {}), ...(hide.length ? { hide } : {}) };
  });
  const metadata: Record<string, unknown> = { name: form.name.trim(), team: form.team };
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
