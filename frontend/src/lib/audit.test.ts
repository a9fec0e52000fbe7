import { describe, expect, it } from "vitest";
import { summaryText } from "./audit";

describe("an audit summary", () => {
  it("reads as one line, leaving out what is empty", () => {
    expect(summaryText({ plan: "basic", team: null, note: "", clusters: ["a", "b"], n: 3 })).toBe(
      'plan: basic, clusters: ["a","b"], n: 3',
    );
    expect(summaryText(null)).toBe("");
    expect(summaryText("text")).toBe("");
  });
});
