import { describe, expect, it } from "vitest";
import { sdlOf, serviceDocuments, withSdl } from "./publishing";

const members = {
  apiVersion: "loom.dev/v1alpha1",
  kind: "Service",
  metadata: { name: "members", team: "identity" },
  spec: { protocol: "federation", schema: { sdl: "type Query { a: Int }" }, deployments: [{ cluster: "eu", address: "x" }] },
};

describe("publishing a service", () => {
  it("reads the Service resources and their SDL", () => {
    const catalog = { ...members, metadata: { name: "catalog", team: "library" }, spec: { protocol: "openapi", schema: { openapi: {} } } };
    const docs = serviceDocuments([members, catalog, { kind: "Product" }, null, "x"]);
    expect(docs.map((d) => d.metadata.name)).toEqual(["members", "catalog"]);
    expect(docs.map(sdlOf)).toEqual(["type Query { a: Int }", null]);
    expect(serviceDocuments({ not: "a list" })).toEqual([]);
  });

  it("replaces only the schema", () => {
    const [doc] = serviceDocuments([members]);
    if (!doc) throw new Error("no document");
    const next = withSdl(doc, "type Query { b: Int }");
    expect(next.spec.schema).toEqual({ sdl: "type Query { b: Int }" });
    expect(next.spec.deployments).toEqual(members.spec.deployments);
    expect(doc.spec.schema).toEqual({ sdl: "type Query { a: Int }" }); // the original is untouched
  });
});

describe("the service form", () => {
  it("reads a resource and writes it back the same, keeping what it does not edit", async () => {
    const { formOfService, serviceResourceOf } = await import("./publishing");
    const doc = {
      apiVersion: "loom.dev/v1alpha1",
      kind: "Service" as const,
      metadata: { name: "members", team: "identity" },
      spec: {
        protocol: "federation",
        schema: { sdl: "type Query { a: Int }" },
        entities: { Member: { key: "id", operation: "member" } },
        deployments: [
          { cluster: "eu", address: "http://127.0.0.1:7000", healthCheck: { path: "/healthz" } },
          { cluster: "us", kube: { service: "members", namespace: "identity", port: 8080 } },
        ],
      },
    };
    const form = formOfService(doc);
    expect(form.deployments.map((d) => d.target)).toEqual(["address", "kube"]);
    expect(serviceResourceOf(form)).toEqual(doc);
  });

  it("writes an OpenAPI document with its files, or an introspection", async () => {
    const { emptyService, serviceResourceOf, emptyDeployment } = await import("./publishing");
    const form = { ...emptyService("identity"), name: " books ", protocol: "openapi" as const, text: "openapi: 3.0.0" };
    expect(serviceResourceOf({ ...form, files: { "schemas/pet.yaml": "type: object" } }).spec.schema).toEqual({
      openapi: "openapi: 3.0.0",
      files: { "schemas/pet.yaml": "type: object" },
    });
    const introspected = serviceResourceOf({
      ...form,
      protocol: "graphql",
      mode: "introspect",
      introspectCluster: "eu",
      deployments: [{ ...emptyDeployment("eu"), address: "http://10.0.0.1:4000" }],
    });
    expect(introspected.metadata.name).toBe("books");
    expect(introspected.spec.schema).toEqual({ introspect: { cluster: "eu" } });
    expect(introspected.spec.deployments).toEqual([{ cluster: "eu", address: "http://10.0.0.1:4000" }]);
  });

  it("finds the deployment row an error is about", async () => {
    const { deploymentRowOf } = await import("./publishing");
    expect(deploymentRowOf("spec.deployments[2].address")).toBe(2);
    expect(deploymentRowOf("spec.schema.introspect")).toBeNull();
    expect(deploymentRowOf(null)).toBeNull();
  });
});

describe("a deployment's health check", () => {
  it("reads a health check without a path as the default /healthz", async () => {
    const { formOfService } = await import("./publishing");
    const doc = {
      apiVersion: "loom.dev/v1alpha1",
      kind: "Service" as const,
      metadata: { name: "m", team: "t" },
      spec: { protocol: "graphql", schema: { sdl: "" }, deployments: [{ cluster: "eu", address: "http://x", healthCheck: {} }] },
    };
    expect(formOfService(doc).deployments[0]?.healthPath).toBe("/healthz");
  });
});

describe("entities and traffic in the service form", () => {
  it("reads them into rows and fields and writes them back as apply takes them", async () => {
    const { formOfService, serviceResourceOf } = await import("./publishing");
    const doc = {
      apiVersion: "loom.dev/v1alpha1",
      kind: "Service" as const,
      metadata: { name: "loans", team: "identity" },
      spec: {
        protocol: "graphql",
        schema: { sdl: "type Query { a: Int }" },
        deployments: [],
        entities: { Loan: { key: "id", operation: "loan", argument: "id" }, Member: { key: "id", operation: "members", batched: true } },
        traffic: {
          connectTimeout: "250ms",
          requestTimeout: 5000,
          retries: { attempts: 2, perTryTimeout: "1s" },
          healthCheck: { path: "/ready", interval: "10s", unhealthyThreshold: 3 },
          outlierDetection: { consecutive5xx: 5, maxEjectionPercent: 50 },
          circuitBreakers: { maxRetries: 0 },
        },
      },
    };
    const form = formOfService(doc);
    expect(form.entities).toEqual([
      { type: "Loan", key: "id", operation: "loan", argument: "id", batched: "" },
      { type: "Member", key: "id", operation: "members", argument: "", batched: "true" },
    ]);
    expect(form.traffic).toMatchObject({ connectTimeout: "250ms", requestTimeout: "5000", "retries.attempts": "2", "outlierDetection.consecutive5xx": "5", "circuitBreakers.maxRetries": "0" });
    expect(form.kept).toEqual({});
    expect(serviceResourceOf(form)).toEqual(doc);
  });

  it("leaves out what is unset, sends whole numbers as numbers and anything else as typed for the server to judge", async () => {
    const { emptyEntity, emptyService, entitiesOf, serviceResourceOf, trafficOf } = await import("./publishing");
    expect(trafficOf({ connectTimeout: " ", "healthCheck.path": "" })).toBeNull();
    expect(trafficOf({ "retries.attempts": " 3 ", "healthCheck.interval": "soon", maxResponseBytes: "-1" })).toEqual({
      retries: { attempts: 3 },
      healthCheck: { interval: "soon" },
      maxResponseBytes: -1,
    });
    expect(entitiesOf([emptyEntity(), { type: " Loan ", key: "id", operation: "loan", argument: " ", batched: "false" }])).toEqual({
      Loan: { key: "id", operation: "loan", batched: false },
    });
    expect(entitiesOf([{ ...emptyEntity(), type: "Book", operation: "book" }])).toEqual({ Book: { operation: "book" } });
    const spec = serviceResourceOf({ ...emptyService("identity"), name: "x", text: "type Query { a: Int }" }).spec;
    expect("entities" in spec || "traffic" in spec).toBe(false);
  });
});
