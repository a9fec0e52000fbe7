import { describe, expect, it } from "vitest";
import { durationText, windowText } from "./durations";

describe("a plan's window in words", () => {
  it.each([
    [1, "second"],
    [60, "minute"],
    [3600, "hour"],
    [86400, "day"],
    // the largest unit the window is a whole number of
    [900, "15 minutes"],
    [5400, "90 minutes"],
    [7200, "2 hours"],
    [172800, "2 days"],
    [90, "90 seconds"],
    [3661, "3661 seconds"],
    [2, "2 seconds"],
    // never less than a second, nor something that is not a number
    [0, "second"],
    [0.4, "second"],
    [-5, "second"],
    [Number.NaN, "second"],
  ])("per %s s reads 'per %s'", (seconds, words) => {
    expect(windowText(seconds)).toBe(words);
  });
});

describe("a time left in words", () => {
  it.each([
    // every unit that is not zero, largest first
    [1, "1 s"],
    [41, "41 s"],
    [60, "1 min"],
    [90, "1 min 30 s"],
    [3599, "59 min 59 s"],
    [3600, "1 h"],
    [3601, "1 h 1 s"],
    [5400, "1 h 30 min"],
    [86400, "1 day"],
    [90061, "1 day 1 h 1 min 1 s"],
    [172800, "2 days"],
    // rounded up, and never below a second
    [40.2, "41 s"],
    [3599.5, "1 h"],
    [0.3, "1 s"],
    [0, "1 s"],
    [-2, "1 s"],
    [Number.NaN, "1 s"],
  ])("%s s left reads '%s'", (seconds, words) => {
    expect(durationText(seconds)).toBe(words);
  });
});
