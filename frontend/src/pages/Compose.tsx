import { useState } from "react";
import { Link } from "react-router-dom";
import { Empty, ErrorMessage, Loading } from "../components/States";
import type { ApplyMutation as ApplyResult } from "../gql/graphql";
import { emptyForm, formOf, resourceOf, type ProductForm, type SourceForm } from "../lib/composer";
import { serviceDocuments } from "../lib/publishing";
import { teamsOf } from "../lib/roles";
import { useViewer } from "../lib/session";
import { useMutation, useQuery } from "../lib/useQuery";
import { ApplyMutation, ComposerQuery } from "../operations";

type Changes = ApplyResult["apply"];
const NEW = "";

/** A team composes a product from services (with prefix and hide transforms), checks it (a dry run: conflicts are
 * refused with the services, types and fields named), and saves it as a version; its schema is on the product page. */
export function ComposePage() {
  const viewer = useViewer();
  const [data, reload] = useQuery(ComposerQuery);
  const [selected, setSelected] = useState<string | null>(null);
  const [form, setForm] = useState<ProductForm>(emptyForm(teamsOf(viewer)[0] ?? ""));
  const [checked, setChecked] = useState<{ key: string; changes: Changes } | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const check = useMutation(ApplyMutation);
  const save = useMutation(ApplyMutation);

  if (data.state === "loading") return <Loading what="products and services" />;
  if (data.state === "error") {
    return (
      <>
        <h1>Compose a product</h1>
        <ErrorMessage error={data.error} onRetry={reload} />
      </>
    );
  }
  const teams = teamsOf(viewer);
  const products = (Array.isArray(data.data.products) ? data.data.products : [])
    .map(formOf)
    .filter((p): p is ProductForm => p !== null && teams.includes(p.team));
  const services = serviceDocuments(data.data.services).map((s) => s.metadata.name);
  const clusters = data.data.clusters;
  const resource = resourceOf(form);
  const key = JSON.stringify(resource);
  const canSave = checked !== null && checked.key === key && checked.changes.some((c) => c.action !== "unchanged");

  const update = (change: Partial<ProductForm>) => {
    setForm((previous) => ({ ...previous, ...change }));
    setSaved(null);
  };
  const choose = (name: string) => {
    setSelected(name);
    const product = products.find((p) => p.name === name);
    setForm(product ?? emptyForm(teams[0] ?? ""));
    setChecked(null);
    setSaved(null);
    check.clearError();
    save.clearError();
  };
  const toggleService = (service: string, on: boolean) =>
    update({
      sources: on
        ? [...form.sources, { service, prefix: "", hide: "" }]
        : form.sources.filter((s) => s.service !== service),
    });
  const editSource = (service: string, change: Partial<SourceForm>) =>
    update({ sources: form.sources.map((s) => (s.service === service ? { ...s, ...change } : s)) });
  const toggleCluster = (name: string, on: boolean) =>
    update({ clusters: on ? [...form.clusters, name] : form.clusters.filter((c) => c !== name) });
  const runCheck = async () => {
    setSaved(null);
    save.clearError();
    const answer = await check.run({ documents: [resource], dryRun: true });
    setChecked(answer ? { key, changes: answer.apply } : null);
  };
  const runSave = async () => {
    const answer = await save.run({ documents: [resource], dryRun: false });
    if (answer) {
      setSaved(form.name.trim());
      setChecked(null);
      setSelected(form.name.trim());
      reload();
    }
  };
  const error = check.error ?? save.error;

  if (teams.length === 0) {
    return (
      <Empty>
        <h1>Compose a product</h1>
        <p>Products belong to teams; you are in none. Ask a platform admin.</p>
      </Empty>
    );
  }
  return (
    <>
      <h1>Compose a product</h1>
      <p className="hint">
        Pick services and their transforms, check the composition (conflicts are named), then save a version. A new
        version is best saved as a draft: its schema is on the product page, and publishing is one more save.
      </p>
      <form className="form form-wide" aria-label="Compose a product" onSubmit={(e) => e.preventDefault()}>
        <label>
          Product
          <select value={selected ?? NEW} onChange={(e) => choose(e.target.value)}>
            <option value={NEW}>A new product</option>
            {products.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name} ({p.team}, {p.version} {p.lifecycle})
              </option>
            ))}
          </select>
        </label>
        {!selected ? (
          <div className="form-inline">
            <label>
              Name
              <input required value={form.name} onChange={(e) => update({ name: e.target.value })} />
            </label>
            <label>
              Team
              <select value={form.team} onChange={(e) => update({ team: e.target.value })}>
                {teams.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </label>
          </div>
        ) : null}
        <div className="form-inline">
          <label>
            Version
            <input required value={form.version} onChange={(e) => update({ version: e.target.value })} />
          </label>
          <label>
            Lifecycle
            <select value={form.lifecycle} onChange={(e) => update({ lifecycle: e.target.value })}>
              {["draft", "published", "deprecated", "retired"].map((l) => (
                <option key={l}>{l}</option>
              ))}
            </select>
          </label>
        </div>
        <fieldset>
          <legend>Services</legend>
          {services.map((service) => {
            const source = form.sources.find((s) => s.service === service);
            return (
              <div key={service} className="source">
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={source !== undefined}
                    onChange={(e) => toggleService(service, e.target.checked)}
                  />
                  {service}
                </label>
                {source ? (
                  <div className="form-inline">
                    <label>
                      Prefix for {service}'s types
                      <input value={source.prefix} onChange={(e) => editSource(service, { prefix: e.target.value })} />
                    </label>
                    <label>
                      Hide from {service} (Type or Type.field, comma-separated)
                      <input value={source.hide} onChange={(e) => editSource(service, { hide: e.target.value })} />
                    </label>
                  </div>
                ) : null}
              </div>
            );
          })}
        </fieldset>
        <fieldset>
          <legend>Clusters</legend>
          <div className="form-inline">
            {clusters.map((c) => (
              <label key={c.name} className="checkbox">
                <input
                  type="checkbox"
                  checked={form.clusters.includes(c.name)}
                  onChange={(e) => toggleCluster(c.name, e.target.checked)}
                />
                {c.name} ({c.residency || "no residency"})
              </label>
            ))}
          </div>
        </fieldset>
        <div className="form-inline">
          <button type="button" disabled={check.busy} onClick={() => void runCheck()}>
            {check.busy ? "Checking…" : "Check the composition"}
          </button>
          <button type="submit" disabled={!canSave || save.busy} onClick={() => void runSave()}>
            {save.busy ? "Saving…" : "Save this version"}
          </button>
        </div>
      </form>
      {error ? (
        <>
          <ErrorMessage error={error} />
          {error.field && !error.message.includes(error.field) ? <p className="hint">Where: {error.field}</p> : null}
        </>
      ) : null}
      {checked ? (
        <section className="state state-ok" role="status" aria-label="If you save this">
          <h2>If you save this</h2>
          <ul>
            {checked.changes.map((c) => (
              <li key={`${c.kind}/${c.name}`}>
                {c.kind} {c.name}: {c.action}
                {c.details.length ? ` (${c.details.join("; ")})` : ""}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {saved ? (
        <p className="state state-ok" role="status">
          Saved. <Link to={`/catalog/${encodeURIComponent(saved)}?tab=schema`}>See {saved}'s schema</Link>
        </p>
      ) : null}
    </>
  );
}
