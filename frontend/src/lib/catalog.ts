// The catalog's logic: what a card shows of a product, and the search and filters.

export interface VersionLike {
  version: string;
  lifecycle: string;
  routing: unknown;
}

export interface ProductLike {
  name: string;
  team: string;
  displayName: string;
  description: string;
  currentVersion: string | null | undefined;
  versions: VersionLike[];
}

export interface Routing {
  clusters: string[];
  residency: string | null;
}

/** A version's routing (`{"clusters": [...], "residency": "eu" | null}`), read defensively: it is JSON. */
export function routingOf(routing: unknown): Routing {
  const value = routing && typeof routing === "object" ? (routing as Record<string, unknown>) : {};
  const clusters = Array.isArray(value.clusters) ? value.clusters.filter((c): c is string => typeof c === "string") : [];
  const residency = typeof value.residency === "string" && value.residency ? value.residency : null;
  return { clusters, residency };
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
  version: string | null;
  lifecycle: string;
  clusters: string[];
  residency: string | null;
}

export function cardOf(product: ProductLike): Card {
  const version = shownVersion(product);
  const routing = routingOf(version?.routing);
  return {
    name: product.name,
    title: product.displayName || product.name,
    team: product.team,
    description: product.description,
    version: version?.version ?? null,
    lifecycle: version?.lifecycle ?? "draft",
    clusters: routing.clusters,
    residency: routing.residency,
  };
}

export interface Filters {
  search: string;
  team: string;
  lifecycle: string;
}

export const NO_FILTERS: Filters = { search: "", team: "", lifecycle: "" };

/** Cards matching every filter; the search looks in the name, title, description and team, any case, every word. */
export function filterCards(cards: Card[], filters: Filters): Card[] {
  const words = filters.search.toLowerCase().split(/\s+/).filter(Boolean);
  return cards.filter((card) => {
    if (filters.team && card.team !== filters.team) return false;
    if (filters.lifecycle && card.lifecycle !== filters.lifecycle) return false;
    const text = `${card.name} ${card.title} ${card.description} ${card.team}`.toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** The distinct values of one field, sorted, for a filter's choices. */
export function choices(cards: Card[], field: "team" | "lifecycle"): string[] {
  return [...new Set(cards.map((card) => card[field]))].sort();
}
