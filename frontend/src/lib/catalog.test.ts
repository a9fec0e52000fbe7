import { describe, expect, it } from "vitest";
import { cardOf, choices, filterCards, NO_FILTERS, routingOf } from "./catalog";

const product = (name: string, team: string, lifecycle: string, routing: unknown, description = "") => ({
  name,
  team,
  displayName: "",
  description,
  currentVersion: "1.0.0",
  versions: [
    { version: "0.9.0", lifecycle: "deprecated", routing: {} },
    { version: "1.0.0", lifecycle, routing },
  ],
});

describe("cards", () => {
  it("show the current version's lifecycle, clusters and residency", () => {
    const card = cardOf(product("library", "storefront", "published", { clusters: ["eu-central"], residency: "eu" }));
    expect(card).toMatchObject({
      title: "library",
      version: "1.0.0",
      lifecycle: "published",
      clusters: ["eu-central"],
      residency: "eu",
    });
  });

  it("fall back to the newest version, and read odd routing JSON as nothing", () => {
    const card = cardOf({ ...product("x", "t", "draft", "not an object"), currentVersion: null });
    expect(card.version).toBe("1.0.0");
    expect(routingOf({ clusters: ["a", 3, null], residency: "" })).toEqual({ clusters: ["a"], residency: null });
    expect(cardOf({ ...product("y", "t", "draft", {}), versions: [] })).toMatchObject({ version: null, lifecycle: "draft" });
  });
});

describe("filters", () => {
  const cards = [
    product("library", "storefront", "published", {}, "Books and loans"),
    product("library-eu", "storefront", "published", {}),
    product("members", "identity", "draft", {}),
  ].map(cardOf);

  it("match every word of the search, in any field and case", () => {
    expect(filterCards(cards, { ...NO_FILTERS, search: "LOANS books" }).map((c) => c.name)).toEqual(["library"]);
    expect(filterCards(cards, { ...NO_FILTERS, search: "identity" }).map((c) => c.name)).toEqual(["members"]);
    expect(filterCards(cards, NO_FILTERS)).toHaveLength(3);
  });

  it("combine team and lifecycle", () => {
    expect(filterCards(cards, { search: "", team: "storefront", lifecycle: "draft" })).toEqual([]);
    expect(filterCards(cards, { search: "eu", team: "storefront", lifecycle: "published" }).map((c) => c.name)).toEqual([
      "library-eu",
    ]);
    expect(choices(cards, "team")).toEqual(["identity", "storefront"]);
    expect(choices(cards, "lifecycle")).toEqual(["draft", "published"]);
  });
});
