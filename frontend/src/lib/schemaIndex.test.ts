import { describe, expect, it } from "vitest";
import { indexSchema, parseSdl, searchSchema } from "./schemaIndex";

const SDL = `
"""A library member."""
type Member { id: ID! displayName: String! tier: Tier! }
enum Tier { BASIC PLUS }
input MemberFilter { tier: Tier }
type Query {
  "One member by id."
  member(id: ID!): Member
  members(first: Int = 20, filter: MemberFilter): [Member!]!
}
`;

function index() {
  const parsed = parseSdl(SDL);
  if (!("schema" in parsed)) throw new Error(parsed.error);
  return indexSchema(parsed.schema);
}

describe("the schema reference", () => {
  it("lists the product's types, Query first, with fields and arguments", () => {
    const types = index();
    expect(types.map((t) => `${t.kind} ${t.name}`)).toEqual(["object Query", "object Member", "input MemberFilter", "enum Tier"]);
    const members = types[0]?.fields.find((f) => f.name === "members");
    expect(members).toMatchObject({ type: "[Member!]!", args: [{ name: "first", type: "Int" }, { name: "filter", type: "MemberFilter" }] });
  });

  it("finds a type whole by its name or description, else only the matching fields", () => {
    const types = index();
    expect(searchSchema(types, "library").map((t) => t.name)).toEqual(["Member"]);
    const byArgument = searchSchema(types, "FIRST");
    expect(byArgument.map((t) => [t.name, t.fields.map((f) => f.name)])).toEqual([["Query", ["members"]]]);
    expect(searchSchema(types, "by id")[0]?.fields.map((f) => f.name)).toEqual(["member"]);
    expect(searchSchema(types, "nothing like this")).toEqual([]);
    expect(searchSchema(types, "  ")).toBe(types);
  });

  it("says why an SDL is not a schema", () => {
    expect(parseSdl("type Query { broken: Nope }")).toEqual({ error: expect.stringContaining("Nope") });
  });
});
