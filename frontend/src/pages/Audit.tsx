import { useState, type FormEvent } from "react";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { instantOf, summaryText } from "../lib/audit";
import { isPlatformAdmin } from "../lib/roles";
import { useViewer } from "../lib/session";
import { useQuery } from "../lib/useQuery";
import { AuditQuery } from "../operations";

const PAGE = 50;

interface Filters {
  actor: string;
  action: string;
  targetKind: string;
  targetName: string;
  outcome: string;
  since: string; // datetime-local values, in the browser's zone
  until: string;
}

const NONE: Filters = { actor: "", action: "", targetKind: "", targetName: "", outcome: "", since: "", until: "" };

export function AuditPage() {
  const viewer = useViewer();
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const [offset, setOffset] = useState(0);
  const or = (value: string) => value.trim() || null;
  const [result, reload] = useQuery(AuditQuery, {
    limit: PAGE + 1, // one more than shown: whether there is a next page
    offset,
    actor: or(filters.actor),
    action: or(filters.action),
    targetKind: or(filters.targetKind),
    targetName: or(filters.targetName),
    outcome: or(filters.outcome),
    since: instantOf(filters.since),
    until: instantOf(filters.until),
  });
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setOffset(0);
    setFilters(draft);
  };
  const field = (key: keyof Filters, label: string) => (
    <label>
      {label}
      <input value={draft[key]} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
    </label>
  );
  const events = result.state === "done" ? result.data.auditEvents.slice(0, PAGE) : [];
  const more = result.state === "done" && result.data.auditEvents.length > PAGE;

  return (
    <>
      <h1>Audit log</h1>
      <p className="hint">
        {isPlatformAdmin(viewer) ? "Everything anybody did, newest first." : "What you did, newest first."}
      </p>
      <form className="filters" aria-label="Filter the audit log" onSubmit={apply}>
        {field("actor", "Actor")}
        {field("action", "Action")}
        {field("targetKind", "Target kind")}
        {field("targetName", "Target name")}
        <label>
          Outcome
          <select value={draft.outcome} onChange={(e) => setDraft({ ...draft, outcome: e.target.value })}>
            <option value="">Any outcome</option>
            <option value="allowed">allowed</option>
            <option value="denied">denied</option>
            <option value="failed">failed</option>
          </select>
        </label>
        <label>
          From
          <input
            type="datetime-local"
            value={draft.since}
            onChange={(e) => setDraft({ ...draft, since: e.target.value })}
            aria-invalid={result.state === "error" && result.error.location?.field === "since"}
          />
        </label>
        <label>
          Until
          <input
            type="datetime-local"
            value={draft.until}
            onChange={(e) => setDraft({ ...draft, until: e.target.value })}
            aria-invalid={result.state === "error" && result.error.location?.field === "until"}
          />
        </label>
        <button type="submit">Filter</button>
        <button type="button" onClick={() => { setDraft(NONE); setFilters(NONE); setOffset(0); }}>
          Clear
        </button>
      </form>
      {result.state === "loading" ? (
        <Loading what="the audit log" />
      ) : result.state === "error" ? (
        <div id="audit-error">
          <ErrorMessage error={result.error} onRetry={reload} />
        </div>
      ) : events.length === 0 ? (
        <Empty>
          <p>{offset > 0 ? "No more events." : "No event matches these filters."}</p>
        </Empty>
      ) : (
        <table className="stack">
          <caption className="visually-hidden">Audit events</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td data-label="When">{new Date(e.createdAt).toLocaleString()}</td>
                <td data-label="Actor">{e.actor}</td>
                <td data-label="Action">{e.action}</td>
                <td data-label="Target">
                  {e.targetKind} {e.targetName}
                </td>
                <td data-label="Outcome">
                  <span className={`badge badge-${e.outcome === "allowed" ? "approved" : "rejected"}`}>{e.outcome}</span>
                </td>
                <td data-label="Details">
                  {summaryText(e.summary)} <span className="hint">via {e.via}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav className="pager" aria-label="Audit log pages">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
          Newer
        </button>
        <span>
          {events.length > 0 ? `Events ${offset + 1}–${offset + events.length}` : ""}
        </span>
        <button type="button" disabled={!more} onClick={() => setOffset(offset + PAGE)}>
          Older
        </button>
      </nav>
    </>
  );
}
