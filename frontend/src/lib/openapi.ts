// The REST reference of a product: its gateway's openapi.json as a list of routes, read defensively.

export interface Parameter {
  name: string;
  in: string;
  required: boolean;
  type: string;
}

export interface Route {
  method: string;
  path: string;
  operationId: string;
  summary: string;
  parameters: Parameter[];
  body: string | null;
  responses: { status: string; description: string }[];
}

const METHODS = ["get", "post", "put", "patch", "delete"];

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function typeOf(schema: unknown): string {
  const s = record(schema);
  if (typeof s.$ref === "string") return s.$ref.split("/").pop() ?? "object";
  if (s.type === "array") return `${typeOf(s.items)}[]`;
  return typeof s.type === "string" ? s.type : "any";
}

/** Every route of an OpenAPI document, in the document's order; the server URL prefixed to each path. */
export function routesOf(document: unknown): { base: string; routes: Route[] } {
  const doc = record(document);
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  const base = typeof record(servers[0]).url === "string" ? String(record(servers[0]).url) : "";
  const routes: Route[] = [];
  for (const [path, item] of Object.entries(record(doc.paths))) {
    for (const method of METHODS) {
      const operation = record(record(item)[method]);
      if (Object.keys(operation).length === 0) continue;
      const parameters = (Array.isArray(operation.parameters) ? operation.parameters : []).map((p) => {
        const param = record(p);
        return {
          name: String(param.name ?? ""),
          in: String(param.in ?? ""),
          required: param.required === true,
          type: typeOf(param.schema),
        };
      });
      const content = record(record(record(operation.requestBody).content)["application/json"]);
      routes.push({
        method: method.toUpperCase(),
        path,
        operationId: String(operation.operationId ?? ""),
        summary: String(operation.summary ?? ""),
        parameters,
        body: Object.keys(content).length ? typeOf(content.schema) : null,
        responses: Object.entries(record(operation.responses)).map(([status, r]) => ({
          status,
          description: String(record(r).description ?? ""),
        })),
      });
    }
  }
  return { base, routes };
}

export interface RestRoute {
  method: string;
  path: string;
  operation: string;
}

/** The GraphQL operation behind a route, from the product version's REST routes. */
export function operationBehind(rest: RestRoute[], method: string, path: string): string | null {
  const found = rest.find((r) => r.method.toUpperCase() === method && r.path === path);
  return found ? found.operation : null;
}
