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
