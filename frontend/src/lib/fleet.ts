// The fleet table: one row per product and cluster across every cluster, its upstreams' health in words, filters.

export interface EndpointHealth {
  cluster: string;
  address: string;
  healthy: boolean;
  ejected: boolean;
}

export interface UpstreamLike {
  upstream: string;
  service?: string | null;
  serving?: string | null;
  failedOver: boolean;
  endpoints: EndpointHealth[];
}

/** How an upstream is served now, said in a few words. */
export function upstreamHealth(upstream: UpstreamLike): string {
  const endpoints = upstream.endpoints;
  const ejected = endpoints.filter((e) => e.ejected).length;
  const unhealthy = endpoints.filter((e) => !e.healthy && !e.ejected).length;
  const name = upstream.service ?? upstream.upstream;
  const where = upstream.serving === null || upstream.serving === undefined
    ? "nothing healthy"
    : upstream.failedOver
      ? `failed over to ${upstream.serving}`
      : `served by ${upstream.serving}`;
  const notes = [ejected ? `${ejected} ejected` : "", unhealthy ? `${unhealthy} unhealthy` : ""].filter(Boolean);
  return `${name}: ${where}${notes.length ? ` (${notes.join(", ")})` : ""}`;
}

export interface FleetRow {
  cluster: string;
  product: string;
  verdict: string;
  reason: string;
  appliedGeneration: number;
  upstreams: string[];
  problem: boolean;
}

export interface ProductLike {
  product: string;
  cluster: string;
  verdict: string;
  reason: string;
  appliedGeneration: number;
  upstreams: UpstreamLike[];
}

export function fleetRows(clusters: { products: ProductLike[] }[]): FleetRow[] {
  return clusters.flatMap((c) =>
    c.products.map((p) => ({
      cluster: p.cluster,
      product: p.product,
      verdict: p.verdict,
      reason: p.reason,
      appliedGeneration: p.appliedGeneration,
      upstreams: p.upstreams.map(upstreamHealth),
      problem:
        p.verdict === "Rejected" ||
        p.verdict === "Warning" ||
        p.upstreams.some((u) => u.failedOver || u.serving === null || u.serving === undefined),
    })),
  );
}

export interface FleetFilters {
  cluster: string;
  product: string;
  verdict: string;
  problemsOnly: boolean;
}

export const ALL: FleetFilters = { cluster: "", product: "", verdict: "", problemsOnly: false };

export function filterRows(rows: FleetRow[], filters: FleetFilters): FleetRow[] {
  return rows.filter(
    (row) =>
      (!filters.cluster || row.cluster === filters.cluster) &&
      (!filters.product || row.product === filters.product) &&
      (!filters.verdict || row.verdict === filters.verdict) &&
      (!filters.problemsOnly || row.problem),
  );
}
