import { describe, expect, it } from "vitest";
import { cardOf, choices, filterCards, filtersOf, NO_FILTERS, paramsOf, sourceText } from "./catalog";

const product = (
  name: string,
  team: string,
  lifecycle: string,
  routing = { clusters: [] as string[], residency: null as string | null },
  description = "",
  tags: string[] = [],
) => ({
  name,
  team,
  displayName: "",
  description,
  tags,
  currentVersion: "1.0.0",
  versions: [
    { version: "0.9.0", lifecycle: "deprecated", routing: { clusters: [], residency: null } },
    { version: "1.0.0", lifecycle, routing },
  ],
});

describe("cards", () => {
  it("show the current version's lifecycle, clusters, residency and the tags", () => {
    const card = cardOf(
      product("library", "storefront", "published", { clusters: ["eu-central"], residency: "eu" }, "", ["books"]),
    );
    expect(card).toMatchObject({
      title: "library",
      version: "1.0.0",
      lifecycle: "published",
      clusters: ["eu-central"],
      residency: "eu",
      tags: ["books"],
    });
  });

  it("fall back to the newest version, and to nothing without one", () => {
    const card = cardOf({ ...product("x", "t", "draft"), currentVersion: null });
    expect(card.version).toBe("1.0.0");
    expect(cardOf({ ...product("y", "t", "draft"), versions: [] })).toMatchObject({ version: null, lifecycle: "draft" });
  });
});

describe("filters", () => {
  const cards = [
    product("library", "storefront", "published", undefined, "Books and loans", ["books", "public"]),
    product("library-eu", "storefront", "published", undefined, "", ["books"]),
    product("members", "identity", "draft", undefined, "", ["people"]),
  ].map(cardOf);

  it("match every word of the search, in any field and case, tags included", () => {
    expect(filterCards(cards, { ...NO_FILTERS, search: "LOANS books" }).map((c) => c.name)).toEqual(["library"]);
    expect(filterCards(cards, { ...NO_FILTERS, search: "identity" }).map((c) => c.name)).toEqual(["members"]);
    expect(filterCards(cards, { ...NO_FILTERS, search: "people" }).map((c) => c.name)).toEqual(["members"]);
    expect(filterCards(cards, NO_FILTERS)).toHaveLength(3);
  });

  it("combine team, tag and lifecycle", () => {
    expect(filterCards(cards, { ...NO_FILTERS, team: "storefront", lifecycle: "draft" })).toEqual([]);
    expect(filterCards(cards, { ...NO_FILTERS, search: "eu", team: "storefront", lifecycle: "published" }).map((c) => c.name)).toEqual([
      "library-eu",
    ]);
    expect(filterCards(cards, { ...NO_FILTERS, tag: "public" }).map((c) => c.name)).toEqual(["library"]);
    expect(filterCards(cards, { ...NO_FILTERS, tag: "books", team: "identity" })).toEqual([]);
    expect(choices(cards, "team")).toEqual(["identity", "storefront"]);
    expect(choices(cards, "lifecycle")).toEqual(["draft", "published"]);
    expect(choices(cards, "tag")).toEqual(["books", "people", "public"]);
  });

  it("live in the address, so a tag link and a reload keep them", () => {
    const filters = filtersOf(new URLSearchParams("tag=books&q=loans"));
    expect(filters).toEqual({ ...NO_FILTERS, tag: "books", search: "loans" });
    expect(paramsOf(filters)).toEqual({ tag: "books", q: "loans" });
    expect(paramsOf(NO_FILTERS)).toEqual({});
  });
});

describe("a version's sources", () => {
  it("read as the service, its version and its transforms", () => {
    const none = { prefix: null, renameTypes: [], renameFields: [], hide: [] };
    expect(sourceText({ service: "members", serviceVersion: 3, transforms: none })).toBe("members v3");
    const some = {
      prefix: "Dir",
      renameTypes: [{ from: "Branch", to: "Site" }],
      renameFields: [{ from: "Query.member", to: "person" }],
      hide: ["Member.tier"],
    };
    expect(sourceText({ service: "directory", transforms: some })).toBe(
      "directory (prefix Dir, Branch → Site, Query.member → person, hides Member.tier)",
    );
  });
});
