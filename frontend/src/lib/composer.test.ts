import { describe, expect, it } from "vitest";
import { emptyForm, emptySource, formOf, renamesOf, resourceOf } from "./composer";

const people = {
  apiVersion: "loom.dev/v1alpha1",
  kind: "Product",
  metadata: { name: "people", team: "identity", displayName: "Library people", tags: ["library", "members"], description: "Members" },
  spec: {
    version: "1.0.0",
    lifecycle: "published",
    sources: [
      { service: "members", hide: ["Member.tier"] },
      { service: "directory", prefix: "Dir", renameTypes: { Branch: "Site" }, renameFields: { "Query.member": "dirMember" } },
    ],
    routing: { clusters: ["eu-central"], residency: "eu" },
    rest: [{ method: "GET", path: "/members", operation: "{ members { id } }" }],
    plans: ["basic"],
  },
};

describe("the composer", () => {
  it("reads a Product resource and writes it back unchanged", () => {
    const form = formOf(people);
    expect(form).toMatchObject({
      name: "people",
      displayName: "Library people",
      tags: "library, members",
      clusters: ["eu-central"],
      sources: [
        { service: "members", prefix: "", hide: "Member.tier", renameTypes: "" },
        { service: "directory", prefix: "Dir", renameTypes: "Branch=Site", renameFields: "Query.member=dirMember" },
      ],
    });
    expect(resourceOf(form!)).toEqual(people);
  });

  it("writes a new product with only what was filled in", () => {
    const source = { ...emptySource("members"), prefix: " M ", hide: "A.b, , C", renameFields: " Query.a = b ,," };
    const form = { ...emptyForm("identity"), name: " lite ", clusters: ["eu"], sources: [source] };
    expect(resourceOf(form)).toEqual({
      apiVersion: "loom.dev/v1alpha1",
      kind: "Product",
      metadata: { name: "lite", team: "identity" },
      spec: {
        version: "0.1.0",
        lifecycle: "draft",
        sources: [{ service: "members", prefix: "M", renameFields: { "Query.a": "b" }, hide: ["A.b", "C"] }],
        routing: { clusters: ["eu"] },
      },
    });
    expect(formOf({ kind: "Service", metadata: { name: "x" } })).toBeNull();
  });

  it("reads renames as typed, keeping a part without a target for apply to refuse", () => {
    expect(renamesOf("A=B, C = D")).toEqual({ A: "B", C: "D" });
    expect(renamesOf("Lonely")).toEqual({ Lonely: "" });
    expect(renamesOf(" , ")).toEqual({});
  });
});
