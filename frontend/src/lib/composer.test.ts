import { describe, expect, it } from "vitest";
import { emptyForm, formOf, resourceOf } from "./composer";

const people = {
  apiVersion: "loom.dev/v1alpha1",
  kind: "Product",
  metadata: { name: "people", team: "identity", description: "Members" },
  spec: {
    version: "1.0.0",
    lifecycle: "published",
    sources: [{ service: "members", hide: ["Member.tier"] }],
    routing: { clusters: ["eu-central"], residency: "eu" },
    rest: [{ method: "GET", path: "/members", operation: "{ members { id } }" }],
    plans: ["basic"],
  },
};

describe("the composer", () => {
  it("reads a Product resource and writes it back unchanged", () => {
    const form = formOf(people);
    expect(form).toMatchObject({ name: "people", clusters: ["eu-central"], sources: [{ service: "members", prefix: "", hide: "Member.tier" }] });
    expect(resourceOf(form!)).toEqual(people);
  });

  it("writes a new product with only what was filled in", () => {
    const form = { ...emptyForm("identity"), name: " lite ", clusters: ["eu"], sources: [{ service: "members", prefix: " M ", hide: "A.b, , C" }] };
    expect(resourceOf(form)).toEqual({
      apiVersion: "loom.dev/v1alpha1",
      kind: "Product",
      metadata: { name: "lite", team: "identity" },
      spec: {
        version: "0.1.0",
        lifecycle: "draft",
        sources: [{ service: "members", prefix: "M", hide: ["A.b", "C"] }],
        routing: { clusters: ["eu"] },
      },
    });
    expect(formOf({ kind: "Service", metadata: { name: "x" } })).toBeNull();
  });
});
