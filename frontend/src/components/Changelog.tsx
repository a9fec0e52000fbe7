import { useMemo, useState } from "react";
import { changelog, type SchemaChange } from "../lib/changelog";
import { parseSdl } from "../lib/schemaIndex";
import { Empty } from "./States";

interface Version {
  version: string;
  composedSdl?: string | null;
}

const HEADINGS: Record<SchemaChange["kind"], string> = {
  breaking: "Breaking",
  changed: "Changed (may affect clients)",
  added: "Added",
};

/** The schema changes between two composed versions of a product, breaking ones first and marked. */
export function Changelog({ versions, current }: { versions: Version[]; current: string | null | undefined }) {
  const composed = versions.filter((v) => v.composedSdl);
  const currentIndex = Math.max(0, composed.findIndex((v) => v.version === current));
  const [to, setTo] = useState(composed[currentIndex]?.version ?? "");
  const [from, setFrom] = useState(composed[Math.max(0, currentIndex - 1)]?.version ?? "");
  const result = useMemo(() => {
    const before = parseSdl(composed.find((v) => v.version === from)?.composedSdl ?? "");
    const after = parseSdl(composed.find((v) => v.version === to)?.composedSdl ?? "");
    if ("error" in before || "error" in after) return null;
    return changelog(before.schema, after.schema);
  }, [composed, from, to]);

  if (composed.length < 2) {
    return (
      <Empty>
        <h2>Changes</h2>
        <p>Only one version has a schema so far: there is nothing to compare yet.</p>
      </Empty>
    );
  }
  return (
    <>
      <h2>Changes</h2>
      <div className="form form-inline">
        <label>
          From version
          <select value={from} onChange={(e) => setFrom(e.target.value)}>
            {composed.map((v) => (
              <option key={v.version}>{v.version}</option>
            ))}
          </select>
        </label>
        <label>
          To version
          <select value={to} onChange={(e) => setTo(e.target.value)}>
            {composed.map((v) => (
              <option key={v.version}>{v.version}</option>
            ))}
          </select>
        </label>
      </div>
      {result === null ? (
        <p role="alert" className="state state-error">
          One of these versions' schemas could not be read. Tell the product's team.
        </p>
      ) : result.length === 0 ? (
        <Empty>
          <p>
            No schema change from {from} to {to}.
          </p>
        </Empty>
      ) : (
        (["breaking", "changed", "added"] as const).map((kind) => {
          const changes = result.filter((c) => c.kind === kind);
          return changes.length === 0 ? null : (
            <section key={kind} aria-label={HEADINGS[kind]}>
              <h3>
                {HEADINGS[kind]} ({changes.length})
              </h3>
              <ul className={`changes changes-${kind}`}>
                {changes.map((c) => (
                  <li key={c.description}>
                    {kind === "breaking" ? <span className="badge badge-rejected">breaking</span> : null} {c.description}
                  </li>
                ))}
              </ul>
            </section>
          );
        })
      )}
    </>
  );
}
