import { describe, expect, it } from "vitest";
import { instantOf, summaryText } from "./audit";

describe("an audit summary", () => {
  it("reads as one line, leaving out what is empty", () => {
    const details = [
      { key: "plan", value: "basic" },
      { key: "note", value: "" },
      { key: "clusters", value: '["a","b"]' },
    ];
    expect(summaryText(details)).toBe('plan: basic, clusters: ["a","b"]');
    expect(summaryText([])).toBe("");
  });
});

describe("the time filter", () => {
  it("sends a local date and time as an instant, and nothing for an empty or broken field", () => {
    const sent = instantOf("2026-12-01T10:30");
    expect(sent).toBe(new Date(2026, 11, 1, 10, 30).toISOString());
    expect(instantOf("")).toBeNull();
    expect(instantOf("yesterday")).toBeNull();
  });
});
