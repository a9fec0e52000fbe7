// The catalog's logic: what a card shows of a product, and the search and filters.
import { patternTexts } from "./stitching";

export interface Routing {
  clusters: string[];
  residency: string | null | undefined;
}

export interface VersionLike {
  version: string;
  lifecycle: string;
  routing: Routing;
}

export interface ProductLike {
  name: string;
  team: string;
  displayName: string;
  description: string;
  tags: string[];
  currentVersion: string | null | undefined;
  versions: VersionLike[];
}

/** The version people get by default: the current one, else the newest. */
export function shownVersion<V extends VersionLike>(product: { currentVersion?: string | null; versions: V[] }): V | undefined {
  return product.versions.find((v) => v.version === product.currentVersion) ?? product.versions[product.versions.length - 1];
}

export interface Card {
  name: string;
  title: string;
  team: string;
  description: string;
  tags: string[];
  version: string | null;
  lifecycle: string;
  clusters: string[];
  residency: string | null;
}

export function cardOf(product: ProductLike): Card {
  const version = shownVersion(product);
  return {
    name: product.name,
    title: product.displayName || product.name,
    team: product.team,
    description: product.description,
    tags: product.tags,
    version: version?.version ?? null,
    lifecycle: version?.lifecycle ?? "draft",
    clusters: version?.routing.clusters ?? [],
    residency: version?.routing.residency || null,
  };
}

export interface Filters {
  search: string;
  team: string;
  tag: string;
  lifecycle: string;
}

export const NO_FILTERS: Filters = { search: "", team: "", tag: "", lifecycle: "" };

/** Cards matching every filter; the search looks in the name, title, description, team and tags, any case, every
 * word. */
export function filterCards(cards: Card[], filters: Filters): Card[] {
  const words = filters.search.toLowerCase().split(/\s+/).filter(Boolean);
  return cards.filter((card) => {
    if (filters.team && card.team !== filters.team) return false;
    if (filters.tag && !card.tags.includes(filters.tag)) return false;
    if (filters.lifecycle && card.lifecycle !== filters.lifecycle) return false;
    const text = `${card.name} ${card.title} ${card.description} ${card.team} ${card.tags.join(" ")}`.toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** The distinct values of one field, sorted, for a filter's choices. */
export function choices(cards: Card[], field: "team" | "lifecycle" | "tag"): string[] {
  const values = field === "tag" ? cards.flatMap((card) => card.tags) : cards.map((card) => card[field]);
  return [...new Set(values)].sort();
}

/** The filters a catalog address carries (`/?tag=payments&team=storefront`), so a tag link and a reload keep them. */
export function filtersOf(params: URLSearchParams): Filters {
  return {
    search: params.get("q") ?? "",
    team: params.get("team") ?? "",
    tag: params.get("tag") ?? "",
    lifecycle: params.get("lifecycle") ?? "",
  };
}

/** The address parameters of `filters` (empty ones left out). */
export function paramsOf(filters: Filters): Record<string, string> {
  const out: Record<string, string> = {};
  if (filters.search) out.q = filters.search;
  if (filters.team) out.team = filters.team;
  if (filters.tag) out.tag = filters.tag;
  if (filters.lifecycle) out.lifecycle = filters.lifecycle;
  return out;
}

/** One source of a version in words: the service (and the version it was composed from) and its transforms. */
export function sourceText(source: {
  service: string;
  serviceVersion?: number | null;
  transforms: { prefix?: string | null; renameTypes: Rename[]; renameFields: Rename[]; hide: string[] } & Parameters<typeof patternTexts>[0];
}): string {
  const t = source.transforms;
  const parts = [
    t.prefix ? `prefix ${t.prefix}` : "",
    ...[...t.renameTypes, ...t.renameFields].map((r) => `${r.from} → ${r.to}`),
    ...patternTexts(t),
    t.hide.length ? `hides ${t.hide.join(", ")}` : "",
  ].filter(Boolean);
  const name = source.serviceVersion ? `${source.service} v${source.serviceVersion}` : source.service;
  return parts.length ? `${name} (${parts.join(", ")})` : name;
}

interface Rename {
  from: string;
  to: string;
}

