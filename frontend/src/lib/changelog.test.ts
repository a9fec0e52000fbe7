import { buildSchema } from "graphql";
import { describe, expect, it } from "vitest";
import { changelog } from "./changelog";

const before = buildSchema(`
  type Member { id: ID! displayName: String! joinedYear: Int tier: Tier! }
  enum Tier { BASIC PLUS }
  type Query { member(id: ID!): Member members(first: Int): [Member!]! }
`);
const after = buildSchema(`
  type Member { id: ID! displayName: String! tier: Tier! email: String }
  enum Tier { BASIC PLUS PATRON }
  type Loan { id: ID! }
  type Query { member(id: ID!): Member members(first: Int, tier: Tier, after: ID!): [Member!]! loans: [Loan!]! }
`);

describe("the changelog between two versions", () => {
  it("marks removals and new required arguments breaking, enum growth changed, and lists additions", () => {
    const changes = changelog(before, after);
    expect(changes.filter((c) => c.kind === "breaking").map((c) => c.description)).toEqual([
      "Member.joinedYear was removed.",
      "A required arg after on Query.members was added.",
    ]);
    expect(changes.filter((c) => c.kind === "changed").map((c) => c.description)).toEqual([
      "PATRON was added to enum type Tier.",
      "An optional arg tier on Query.members was added.",
    ]);
    expect(changes.filter((c) => c.kind === "added").map((c) => c.description).sort()).toEqual([
      "Loan was added.",
      "Member.email was added.",
      "Query.loans was added.",
    ]);
  });

  it("is empty between equal schemas", () => {
    expect(changelog(before, before)).toEqual([]);
  });
});
