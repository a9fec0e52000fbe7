// Publishing a service's new schema from the UI: the Service resource as `loom apply` reads it (from the admin
// API's `resources`), with its SDL replaced. Everything else of the resource stays as it is.

export interface ServiceDocument {
  apiVersion: string;
  kind: "Service";
  metadata: { name: string; team: string };
  spec: { protocol: string; schema: Record<string, unknown>; [key: string]: unknown };
}

/** The Service resources of a `resources(kind: "Service")` answer, read defensively (it is JSON). */
export function serviceDocuments(value: unknown): ServiceDocument[] {
  if (!Array.isArray(value)) return [];
  return value.filter((doc): doc is ServiceDocument => {
    if (!doc || typeof doc !== "object") return false;
    const d = doc as Record<string, unknown>;
    const metadata = d.metadata as Record<string, unknown> | undefined;
    const spec = d.spec as Record<string, unknown> | undefined;
    return (
      d.kind === "Service" &&
      typeof metadata?.name === "string" &&
      typeof metadata?.team === "string" &&
      typeof spec?.protocol === "string" &&
      !!spec.schema &&
      typeof spec.schema === "object"
    );
  });
}

/** The SDL a GraphQL or Federation service publishes now, or null (an OpenAPI service publishes a document). */
export function sdlOf(doc: ServiceDocument): string | null {
  const sdl = doc.spec.schema.sdl;
  return typeof sdl === "string" ? sdl : null;
}

/** The same resource publishing `sdl` instead. */
export function withSdl(doc: ServiceDocument, sdl: string): ServiceDocument {
  return { ...doc, spec: { ...doc.spec, schema: { sdl } } };
}
