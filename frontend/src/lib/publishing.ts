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
  entities: EntityForm[];
  traffic: Record<string, string>; // TRAFFIC_FIELDS path -> the value as typed ("" when unset)
  kept: Record<string, unknown>; // spec keys the form does not edit: sent back as they are
}

/** How the gateway fetches one entity type from a GraphQL or REST service (`spec.entities`). */
export interface EntityForm {
  type: string;
  key: string;
  operation: string;
  argument: string;
  batched: "" | "true" | "false"; // "": as the operation says (one list argument: batched)
}

export type TrafficKind = "duration" | "count" | "percent" | "path" | "bytes";

/** What a service may override of the sync worker's traffic settings (`spec.traffic`), by path under it. */
export const TRAFFIC_FIELDS: { group: string; path: string; label: string; kind: TrafficKind }[] = [
  { group: "Timeouts and retries", path: "connectTimeout", label: "Connect timeout", kind: "duration" },
  { group: "Timeouts and retries", path: "requestTimeout", label: "Request timeout", kind: "duration" },
  { group: "Timeouts and retries", path: "retries.attempts", label: "Retry attempts (0 to 10)", kind: "count" },
  { group: "Timeouts and retries", path: "retries.perTryTimeout", label: "Timeout per try", kind: "duration" },
  { group: "Timeouts and retries", path: "maxResponseBytes", label: "Largest response (bytes)", kind: "bytes" },
  { group: "Health checks", path: "healthCheck.path", label: "Health check path", kind: "path" },
  { group: "Health checks", path: "healthCheck.interval", label: "Health check interval", kind: "duration" },
  { group: "Health checks", path: "healthCheck.timeout", label: "Health check timeout", kind: "duration" },
  { group: "Health checks", path: "healthCheck.unhealthyThreshold", label: "Failures before unhealthy", kind: "count" },
  { group: "Health checks", path: "healthCheck.healthyThreshold", label: "Successes before healthy", kind: "count" },
  { group: "Outlier detection", path: "outlierDetection.consecutive5xx", label: "Consecutive 5xx before ejection", kind: "count" },
  { group: "Outlier detection", path: "outlierDetection.consecutiveGatewayFailure", label: "Consecutive gateway failures before ejection", kind: "count" },
  { group: "Outlier detection", path: "outlierDetection.enforcingPercent", label: "Enforcing (%)", kind: "percent" },
  { group: "Outlier detection", path: "outlierDetection.interval", label: "Outlier analysis interval", kind: "duration" },
  { group: "Outlier detection", path: "outlierDetection.baseEjectionTime", label: "Base ejection time", kind: "duration" },
  { group: "Outlier detection", path: "outlierDetection.maxEjectionTime", label: "Longest ejection time", kind: "duration" },
  { group: "Outlier detection", path: "outlierDetection.maxEjectionPercent", label: "Most endpoints ejected (%)", kind: "percent" },
  { group: "Circuit breakers", path: "circuitBreakers.maxConnections", label: "Most connections", kind: "count" },
  { group: "Circuit breakers", path: "circuitBreakers.maxPendingRequests", label: "Most pending requests", kind: "count" },
  { group: "Circuit breakers", path: "circuitBreakers.maxRequests", label: "Most requests at once", kind: "count" },
  { group: "Circuit breakers", path: "circuitBreakers.maxRetries", label: "Most retries at once", kind: "count" },
];

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
    entities: [],
    traffic: {},
    kept: {},
  };
}

export function emptyEntity(): EntityForm {
  return { type: "", key: "", operation: "", argument: "", batched: "" };
}

function entityFormsOf(value: unknown): EntityForm[] {
  return Object.entries(record(value)).map(([type, spec]) => {
    const e = record(spec);
    return {
      type,
      key: str(e.key),
      operation: str(e.operation),
      argument: str(e.argument),
      batched: e.batched === true ? "true" : e.batched === false ? "false" : "",
    };
  });
}

/** `spec.traffic` as the form's flat fields (path -> text). */
export function trafficFormOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { path } of TRAFFIC_FIELDS) {
    const found = path.split(".").reduce<unknown>((at, part) => record(at)[part], value);
    if (found !== undefined && found !== null) out[path] = str(found);
  }
  return out;
}

/** The form's traffic fields as `spec.traffic` (unset ones left out; nothing at all: null). A whole number is sent
 * as a number (milliseconds for a duration); anything else as typed, for the server to accept ("250ms") or refuse
 * beside its field. */
export function trafficOf(form: Record<string, string>): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const { path } of TRAFFIC_FIELDS) {
    const text = (form[path] ?? "").trim();
    if (!text) continue;
    const parts = path.split(".");
    const last = parts.pop() ?? path;
    let at = out;
    for (const part of parts) at = (at[part] ??= {}) as Record<string, unknown>;
    at[last] = /^-?\d+$/.test(text) ? Number(text) : text;
  }
  return Object.keys(out).length ? out : null;
}

/** The entity rows as `spec.entities` (a row without a type is not sent: it names nothing yet; an empty field is
 * left out, for the server to say what is missing beside it). */
export function entitiesOf(rows: EntityForm[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const row of rows) {
    const type = row.type.trim();
    if (!type) continue;
    out[type] = {
      ...(row.key.trim() ? { key: row.key.trim() } : {}), // left empty: apply says it is required, beside it
      ...(row.operation.trim() ? { operation: row.operation.trim() } : {}),
      ...(row.argument.trim() ? { argument: row.argument.trim() } : {}),
      ...(row.batched ? { batched: row.batched === "true" } : {}),
    };
  }
  return out;
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
  const { protocol, schema, deployments, entities, traffic, ...kept } = doc.spec;
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
    entities: entityFormsOf(entities),
    traffic: trafficFormOf(traffic),
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
  const entities = entitiesOf(form.entities);
  const traffic = trafficOf(form.traffic);
  return {
    apiVersion: "loom.dev/v1alpha1",
    kind: "Service",
    metadata,
    spec: {
      ...form.kept,
      protocol: form.protocol,
      schema,
      deployments: form.deployments.map(deploymentOf),
      ...(Object.keys(entities).length ? { entities } : {}),
      ...(traffic ? { traffic } : {}),
    },
  };
}

/** The form field (a path in the resource) an error location names, for the deployment rows: `spec.deployments[2]`
 * and below belong to row 2. */
export function deploymentRowOf(field: string | null | undefined): number | null {
  const found = field ? /^spec\.deployments\[(\d+)\]/.exec(field) : null;
  return found ? Number(found[1]) : null;
}
