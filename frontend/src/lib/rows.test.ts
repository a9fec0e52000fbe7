import { describe, expect, it } from "vitest";
import { changeAt, removeAt } from "./rows";

describe("form rows", () => {
  it("change or remove one row and leave the list given untouched", () => {
    const rows = [{ a: 1, b: "x" }, { a: 2, b: "y" }];
    expect(changeAt(rows, 1, { b: "z" })).toEqual([{ a: 1, b: "x" }, { a: 2, b: "z" }]);
    expect(removeAt(rows, 0)).toEqual([{ a: 2, b: "y" }]);
    expect(changeAt(rows, 5, { a: 9 })).toEqual(rows);
    expect(rows).toEqual([{ a: 1, b: "x" }, { a: 2, b: "y" }]);
  });
});
