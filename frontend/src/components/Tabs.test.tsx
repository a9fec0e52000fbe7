import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup } from "@testing-library/react";
import { Tabs } from "./Tabs";

const TABS = [
  { id: "a", title: "Alpha" },
  { id: "b", title: "Beta" },
  { id: "c", title: "Gamma" },
] as const;

function Harness() {
  const [current, setCurrent] = useState<"a" | "b" | "c">("a");
  return <Tabs label="Sections" tabs={TABS} current={current} onChange={setCurrent} idPrefix="t" />;
}

afterEach(cleanup);

describe("tabs", () => {
  it("move with the arrow keys, Home and End, wrapping around, and keep one tab stop", () => {
    render(<Harness />);
    const tab = (name: string) => screen.getByRole("tab", { name });
    expect(tab("Alpha").getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(tab("Alpha"), { key: "ArrowLeft" });
    expect(tab("Gamma").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(tab("Gamma"));
    fireEvent.keyDown(tab("Gamma"), { key: "ArrowRight" });
    expect(tab("Alpha").getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(tab("Alpha"), { key: "End" });
    expect(tab("Gamma").getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(tab("Gamma"), { key: "Home" });
    expect(screen.getAllByRole("tab").map((t) => t.tabIndex)).toEqual([0, -1, -1]);
  });
});
