import { describe, expect, it } from "vitest";
import { usageText } from "./usage";

describe("a subscription's use of its limit", () => {
  it("says what is used, and when the window ends", () => {
    expect(usageText({ known: true, used: 2, limit: 3, windowSeconds: 60, resetsInSeconds: 40.2 })).toBe(
      "2 of 3 per minute; the window ends in 41 s",
    );
    expect(usageText({ known: true, used: 3, limit: 3, windowSeconds: 60, resetsInSeconds: 0.3 })).toBe(
      "3 of 3 per minute, limit reached; the window ends in 1 s",
    );
    expect(usageText({ known: true, used: 0, limit: 3, windowSeconds: 60, resetsInSeconds: null })).toBe("0 of 3 per minute");
  });

  it("says a long window and the time left in minutes and hours", () => {
    expect(usageText({ known: true, used: 1, limit: 5, windowSeconds: 900, resetsInSeconds: 599 })).toBe(
      "1 of 5 per 15 minutes; the window ends in 9 min 59 s",
    );
    expect(usageText({ known: true, used: 1, limit: 5, windowSeconds: 86400, resetsInSeconds: 5400 })).toBe(
      "1 of 5 per day; the window ends in 1 h 30 min",
    );
  });

  it("counts the requests refused past the limit apart, not as use", () => {
    expect(usageText({ known: true, used: 4, limit: 2, windowSeconds: 3600, resetsInSeconds: 3599.5 })).toBe(
      "2 of 2 per hour, limit reached (2 more refused with 429); the window ends in 1 h",
    );
  });

  it("says why it is not known, with the limit", () => {
    expect(usageText({ known: false, reason: "no Redis", limit: 2, windowSeconds: 60 })).toBe(
      "limit 2 per minute; use not known: no Redis",
    );
  });
});
