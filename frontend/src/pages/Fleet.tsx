import { useMemo, useState } from "react";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { ALL, filterRows, fleetRows, type FleetFilters } from "../lib/fleet";
import { useQuery } from "../lib/useQuery";
import { FleetQuery } from "../operations";

const STATE_BADGE: Record<string, string> = { synced: "approved", degraded: "requested", failed: "rejected", pending: "draft" };
const VERDICT_BADGE: Record<string, string> = { Accepted: "approved", Warning: "requested", Rejected: "rejected", Pending: "draft" };

function versionsText(versions: { component: string; version: string }[]): string {
  return versions.map((v) => `${v.component} ${v.version}`).join(", ");
}

export function FleetPage() {
  const [result, reload] = useQuery(FleetQuery);
  const [filters, setFilters] = useState<FleetFilters>(ALL);
  const clusters = result.state === "done" ? result.data.fleetStatus : [];
  const rows = useMemo(() => fleetRows(clusters), [clusters]);
  const shown = filterRows(rows, filters);
  const set = (change: Partial<FleetFilters>) => setFilters((previous) => ({ ...previous, ...change }));
  const distinct = (values: string[]) => [...new Set(values)].sort();

  return (
    <>
      <h1>Fleet</h1>
      <p className="hint">What the sync worker last saw in every cluster, and what each cluster did with each product.</p>
      {result.state === "loading" ? (
        <Loading what="the fleet" />
      ) : result.state === "error" ? (
        <ErrorMessage error={result.error} onRetry={reload} />
      ) : clusters.length === 0 ? (
        <Empty>
          <p>No cluster yet: a platform admin adds one with <code>loom apply</code>.</p>
        </Empty>
      ) : (
        <>
          <ul className="cards" aria-label="Clusters">
            {clusters.map((c) => (
              <li key={c.cluster} className="card">
                <h2>{c.cluster}</h2>
                <p className="card-team">
                  {c.region} · {c.zone} · residency {c.residency || "none"} · {c.target}
                </p>
                <dl className="facts">
                  <dt>Sync</dt>
                  <dd>
                    <span className={`badge badge-${STATE_BADGE[c.state] ?? "draft"}`}>{c.state}</span>
                    {c.message ? ` ${c.message}` : ""}
                  </dd>
                  <dt>Reachable</dt>
                  <dd>{c.reachable === null || c.reachable === undefined ? "not known yet" : c.reachable ? "yes" : "no"}</dd>
                  <dt>Generation</dt>
                  <dd>
                    {c.appliedGeneration} applied of {c.observedGeneration}
                  </dd>
                  <dt>Versions</dt>
                  <dd>{versionsText(c.versions) || "not known yet"}</dd>
                  <dt>Gateways</dt>
                  <dd>
                    {c.gateways.length === 0
                      ? "none has checked in"
                      : c.gateways
                          .map((g) => `${g.gateway} ${g.version}, seen ${new Date(g.lastSeenAt).toLocaleString()}`)
                          .join("; ")}
                  </dd>
                  <dt>Last success</dt>
                  <dd>{c.lastSuccessAt ? new Date(c.lastSuccessAt).toLocaleString() : "never"}</dd>
                </dl>
              </li>
            ))}
          </ul>
          <h2>Products in every cluster</h2>
          <form className="filters" aria-label="Filter the fleet" onSubmit={(e) => e.preventDefault()}>
            <label>
              Cluster
              <select value={filters.cluster} onChange={(e) => set({ cluster: e.target.value })}>
                <option value="">Any cluster</option>
                {distinct(rows.map((r) => r.cluster)).map((v) => (
                  <option key={v}>{v}</option>
                ))}
              </select>
            </label>
            <label>
              Product
              <select value={filters.product} onChange={(e) => set({ product: e.target.value })}>
                <option value="">Any product</option>
                {distinct(rows.map((r) => r.product)).map((v) => (
                  <option key={v}>{v}</option>
                ))}
              </select>
            </label>
            <label>
              Verdict
              <select value={filters.verdict} onChange={(e) => set({ verdict: e.target.value })}>
                <option value="">Any verdict</option>
                {["Accepted", "Warning", "Rejected", "Pending"].map((v) => (
                  <option key={v}>{v}</option>
                ))}
              </select>
            </label>
            <label className="checkbox">
              <input type="checkbox" checked={filters.problemsOnly} onChange={(e) => set({ problemsOnly: e.target.checked })} />
              Only problems (refused, warned, failed over, down)
            </label>
          </form>
          {rows.length === 0 ? (
            <Empty>
              <p>No product status yet: the sync worker reports each product once it has programmed a cluster.</p>
            </Empty>
          ) : shown.length === 0 ? (
            <Empty>
              <p>Nothing matches these filters.</p>
            </Empty>
          ) : (
            <table className="stack">
              <caption className="visually-hidden">Products in every cluster</caption>
              <thead>
                <tr>
                  <th scope="col">Cluster</th>
                  <th scope="col">Product</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Generation</th>
                  <th scope="col">Upstreams</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((row) => (
                  <tr key={`${row.cluster}/${row.product}`} className={row.problem ? "problem" : undefined}>
                    <td data-label="Cluster">{row.cluster}</td>
                    <td data-label="Product">{row.product}</td>
                    <td data-label="Verdict">
                      <span className={`badge badge-${VERDICT_BADGE[row.verdict] ?? "draft"}`}>{row.verdict}</span>
                    </td>
                    <td data-label="Reason">{row.reason || "—"}</td>
                    <td data-label="Generation">{row.appliedGeneration}</td>
                    <td data-label="Upstreams">
                      {row.upstreams.length === 0 ? "—" : (
                        <ul className="plain">
                          {row.upstreams.map((u) => (
                            <li key={u}>{u}</li>
                          ))}
                        </ul>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </>
  );
}
