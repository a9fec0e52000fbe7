import { describe, expect, it } from "vitest";
import { emptyForm, emptyLink, emptySource, formOf, linkOf, patternsOf, renamesOf, resourceOf } from "./composer";

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

  it("reads and writes renames by pattern, prefer and links as apply takes them", () => {
    const lending = {
      ...people,
      spec: {
        ...people.spec,
        sources: [
          { service: "members" },
          { service: "directory", typePatterns: { "(Branch)": "Dir\\1", "(.*)Page": "\\1" }, rootFieldPatterns: { "(.*)": "directory_\\1" } },
        ],
        prefer: { Member: "members" },
        links: [
          { type: "Loan", field: "member", service: "members", operation: "member", arguments: { id: "memberId" } },
          { type: "Loan", field: "holder", service: "members", operation: "membersByIds", arguments: { ids: "memberId" }, returns: "Member", description: "Who holds it." },
        ],
      },
    };
    const form = formOf(lending)!;
    expect(form.sources[1]?.typePatterns).toEqual([
      { pattern: "(Branch)", replacement: "Dir\\1" },
      { pattern: "(.*)Page", replacement: "\\1" },
    ]);
    expect(form.prefer).toEqual([{ type: "Member", service: "members" }]);
    expect(form.links[1]).toEqual({
      type: "Loan",
      field: "holder",
      service: "members",
      operation: "membersByIds",
      arguments: "ids=memberId",
      returns: "Member",
      description: "Who holds it.",
    });
    expect(resourceOf(form)).toEqual(lending);
  });

  it("leaves out blank pattern and prefer rows but sends every link row, so spec.links[i] is row i", () => {
    expect(patternsOf([{ pattern: "", replacement: "" }, { pattern: "(.*)", replacement: "x_\\1" }])).toEqual({ "(.*)": "x_\\1" });
    const form = {
      ...emptyForm("identity"),
      name: "lending",
      sources: [{ ...emptySource("members"), rootFieldPatterns: [{ pattern: "", replacement: "" }] }],
      prefer: [{ type: " ", service: "members" }],
      links: [emptyLink(), { ...emptyLink(), type: " Loan ", field: "member", service: "members", operation: "member", arguments: "id = memberId" }],
    };
    const spec = resourceOf(form).spec as Record<string, unknown>;
    expect(spec.sources).toEqual([{ service: "members" }]);
    expect(spec.prefer).toBeUndefined();
    expect(spec.links).toEqual([
      { type: "", field: "", service: "", operation: "", arguments: {} },
      { type: "Loan", field: "member", service: "members", operation: "member", arguments: { id: "memberId" } },
    ]);
    expect(linkOf(form.links[1]!).arguments).toEqual([{ argument: "id", from: "memberId" }]);
  });
});
