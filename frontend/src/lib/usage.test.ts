import { describe, expect, it } from "vitest";
import { usageText } from "./usage";

describe("a subscription's use of its limit", () => {
  it("says what is used, and when the window ends", () => {
    expect(usageText({ known: true, used: 2, limit: 3, windowSeconds: 60, resetsInSeconds: 40.2 })).toBe(
      "2 of 3 per 60 s; the window ends in 41 s",
    );
    expect(usageText({ known: true, used: 3, limit: 3, windowSeconds: 60, resetsInSeconds: 0.3 })).toBe(
      "3 of 3 per 60 s, limit reached; the window ends in 1 s",
    );
    expect(usageText({ known: true, used: 0, limit: 3, windowSeconds: 60, resetsInSeconds: null })).toBe("0 of 3 per 60 s");
  });

  it("counts the requests refused past the limit apart, not as use", () => {
    expect(usageText({ known: true, used: 4, limit: 2, windowSeconds: 3600, resetsInSeconds: 3599.5 })).toBe(
      "2 of 2 per 3600 s, limit reached (2 more refused with 429); the window ends in 3600 s",
    );
  });

  it("says why it is not known, with the limit", () => {
    expect(usageText({ known: false, reason: "no Redis", limit: 2, windowSeconds: 60 })).toBe(
      "limit 2 per 60 s; use not known: no Redis",
    );
  });
});
