import { describe, expect, it } from "vitest";
import { linkSentence, linkText, patternTexts, stitchingOf } from "./stitching";

const member = { type: "Loan", field: "member", service: "members", operation: "member", arguments: [{ argument: "id", from: "memberId" }] };

describe("a version's stitching in words", () => {
  it("says a link as the call it makes", () => {
    expect(linkText(member)).toBe("Loan.member → members.member(id: memberId)");
    expect(linkText({ ...member, returns: "Member", arguments: [{ argument: "id", from: "memberId" }, { argument: "at", from: "dueOn" }] })).toBe(
      "Loan.member: Member → members.member(id: memberId, at: dueOn)",
    );
    expect(linkSentence(member)).toBe("Each Loan gets member from the members service's member, given its memberId as id.");
  });

  it("lists renames by pattern per service, the winning definitions and the links; nothing for a plain version", () => {
    const version = {
      sources: [
        { service: "members", transforms: { typePatterns: [], rootFieldPatterns: [] } },
        { service: "directory", transforms: { typePatterns: [{ pattern: "(Branch)", replacement: "Dir\\1" }], rootFieldPatterns: [{ pattern: "(.*)", replacement: "directory_\\1" }] } },
      ],
      prefer: [{ type: "Member", service: "members" }],
      links: [{ ...member, description: "The borrower." }],
    };
    expect(stitchingOf(version)).toEqual({
      renames: [{ service: "directory", patterns: ["types (Branch) → Dir\\1", "root fields (.*) → directory_\\1"] }],
      prefer: ["Member: the members service's definition wins"],
      links: [{ text: "Loan.member → members.member(id: memberId)", sentence: linkSentence(member), description: "The borrower." }],
    });
    expect(stitchingOf(null)).toEqual({ renames: [], prefer: [], links: [] });
    expect(patternTexts({})).toEqual([]);
  });
});
