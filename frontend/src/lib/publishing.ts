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

// --- the service form: a new service, or an existing one's schema and deployments -----------------------------

export type Protocol = "graphql" | "federation" | "openapi";
export type SchemaMode = "text" | "introspect";

export interface DeploymentForm {
  cluster: string;
  target: "address" | "kube";
  address: string;
  kubeService: string;
  kubeNamespace: string;
  kubePort: string;
  healthPath: string;
}

export interface ServiceForm {
  name: string;
  team: string;
  description: string;
  protocol: Protocol;
  mode: SchemaMode;
  text: string; // the SDL or the OpenAPI document
  files: Record<string, string>; // an OpenAPI document's `$ref` files, relative to it
  introspectCluster: string;
  introspectPath: string;
  deployments: DeploymentForm[];
  kept: Record<string, unknown>; // spec keys the form does not edit (entities, traffic): sent back as they are
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function str(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

export function emptyDeployment(cluster = ""): DeploymentForm {
  return { cluster, target: "address", address: "", kubeService: "", kubeNamespace: "", kubePort: "", healthPath: "" };
}

export function emptyService(team: string): ServiceForm {
  return {
    name: "",
    team,
    description: "",
    protocol: "graphql",
    mode: "text",
    text: "",
    files: {},
    introspectCluster: "",
    introspectPath: "",
    deployments: [],
    kept: {},
  };
}

function deploymentFormOf(value: unknown): DeploymentForm {
  const d = record(value);
  const kube = record(d.kube);
  return {
    cluster: str(d.cluster),
    target: d.kube ? "kube" : "address",
    address: str(d.address),
    kubeService: str(kube.service),
    kubeNamespace: str(kube.namespace),
    kubePort: str(kube.port),
    // `loom get` leaves out a default: a healthCheck without a path checks /healthz
    healthPath: d.healthCheck ? str(record(d.healthCheck).path) || "/healthz" : "",
  };
}

/** A Service resource (from `resources(kind: "Service")`) as the form edits it. */
export function formOfService(doc: ServiceDocument): ServiceForm {
  const { protocol, schema, deployments, ...kept } = doc.spec;
  const s = record(schema);
  const introspect = record(s.introspect);
  const metadata = record(doc.metadata);
  return {
    name: doc.metadata.name,
    team: doc.metadata.team,
    description: str(metadata.description),
    protocol: (["graphql", "federation", "openapi"].includes(protocol) ? protocol : "graphql") as Protocol,
    mode: s.introspect ? "introspect" : "text",
    text: str(s.sdl) || str(s.openapi),
    files: Object.fromEntries(Object.entries(record(s.files)).map(([k, v]) => [k, str(v)])),
    introspectCluster: str(introspect.cluster),
    introspectPath: str(introspect.path),
    deployments: Array.isArray(deployments) ? deployments.map(deploymentFormOf) : [],
    kept,
  };
}

function deploymentOf(form: DeploymentForm): Record<string, unknown> {
  const out: Record<string, unknown> = { cluster: form.cluster };
  if (form.target === "kube") {
    const port = Number(form.kubePort);
    out.kube = {
      service: form.kubeService.trim(),
      namespace: form.kubeNamespace.trim(),
      port: form.kubePort.trim() && Number.isInteger(port) ? port : form.kubePort.trim(),
    };
  } else {
    out.address = form.address.trim();
  }
  if (form.healthPath.trim()) out.healthCheck = { path: form.healthPath.trim() };
  return out;
}

/** The Service resource the form describes (what `apply` takes). */
export function serviceResourceOf(form: ServiceForm): ServiceDocument {
  let schema: Record<string, unknown>;
  if (form.mode === "introspect") {
    schema = { introspect: { cluster: form.introspectCluster, ...(form.introspectPath.trim() ? { path: form.introspectPath.trim() } : {}) } };
  } else if (form.protocol === "openapi") {
    schema = { openapi: form.text, ...(Object.keys(form.files).length ? { files: form.files } : {}) };
  } else {
    schema = { sdl: form.text };
  }
  const metadata: ServiceDocument["metadata"] & { description?: string } = { name: form.name.trim(), team: form.team };
  if (form.description.trim()) metadata.description = form.description.trim();
  return {
    apiVersion: "loom.dev/v1alpha1",
    kind: "Service",
    metadata,
    spec: { ...form.kept, protocol: form.protocol, schema, deployments: form.deployments.map(deploymentOf) },
  };
}

/** The form field (a path in the resource) an error location names, for the deployment rows: `spec.deployments[2]`
 * and below belong to row 2. */
export function deploymentRowOf(field: string | null | undefined): number | null {
  const found = field ? /^spec\.deployments\[(\d+)\]/.exec(field) : null;
  return found ? Number(found[1]) : null;
}
