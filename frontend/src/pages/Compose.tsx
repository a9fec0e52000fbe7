import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { FieldError, invalidProps } from "../components/FieldError";
import { LinkEditor, PatternEditor, PreferEditor } from "../components/StitchingFields";
import { Empty, ErrorMessage, Loading } from "../components/States";
import type { ApplyMutation as ApplyResult, ComposePreviewQuery as PreviewResult } from "../gql/graphql";
import { ApiError, request } from "../lib/api";
import { emptyForm, emptySource, formOf, resourceOf, type ProductForm, type SourceForm } from "../lib/composer";
import { placed } from "../lib/fieldErrors";
import { serviceDocuments } from "../lib/publishing";
import { teamsOf } from "../lib/roles";
import { useViewer } from "../lib/session";
import { useMutation, useQuery } from "../lib/useQuery";
import { ApplyMutation, ComposePreviewQuery, ComposerQuery } from "../operations";

type Changes = ApplyResult["apply"];
type Preview = PreviewResult["composePreview"];
const NEW = "";
const PREVIEW_DELAY_MS = 400; // after the last keystroke

/** The composition of `resource` as the API previews it, again whenever it changes (a moment after the last change,
 * and only the answer to the latest change counts). */
function useLivePreview(resource: Record<string, unknown>, enabled: boolean) {
  const [preview, setPreview] = useState<
    { state: "idle" } | { state: "checking" } | { state: "done"; preview: Preview } | { state: "error"; error: ApiError }
  >({ state: "idle" });
  const key = JSON.stringify(resource);
  useEffect(() => {
    if (!enabled) {
      setPreview({ state: "idle" });
      return;
    }
    let current = true;
    setPreview({ state: "checking" });
    const timer = window.setTimeout(() => {
      request(ComposePreviewQuery, { document: JSON.parse(key) as unknown })
        .then((data) => current && setPreview({ state: "done", preview: data.composePreview }))
        .catch((error: unknown) => {
          if (current) setPreview({ state: "error", error: error instanceof ApiError ? error : new ApiError(String(error), "INTERNAL") });
        });
    }, PREVIEW_DELAY_MS);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [key, enabled]);
  return preview;
}

/** A team composes a product from services (with prefix, rename, pattern and hide transforms, `prefer` and links), checks it (a dry run: conflicts are
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
  const live = useLivePreview(
    resourceOf({ ...form, name: form.name.trim() || "new-product" }),
    data.state === "done" && form.sources.length > 0,
  );

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
    check.clearError(); // the error was about what the form said before
    save.clearError();
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
        ? [...form.sources, emptySource(service)]
        : form.sources.filter((s) => s.service !== service),
    });
  const editSource = (service: string, change: Partial<SourceForm>) =>
    update({ sources: form.sources.map((s) => (s.service === service ? { ...s, ...change } : s)) });
  const toggleCluster = (name: string, on: boolean) =>
    update({ clusters: on ? [...form.clusters, name] : form.clusters.filter((c) => c !== name) });
  const togglePlan = (name: string, on: boolean) =>
    update({ plans: on ? [...form.plans, name] : form.plans.filter((p) => p !== name) });
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
  // an error beside its field: the check's or save's, else the live preview's (a version that is no semver, ...)
  const located = error ?? (live.state === "error" ? live.error : null);
  const sourceAt = (service: string) => `spec.sources[${form.sources.findIndex((s) => s.service === service)}]`;
  const fields = ["metadata.name", "metadata.team", "metadata.displayName", "metadata.tags", "spec.version", "spec.lifecycle", "spec.sources", "spec.routing", "spec.prefer", "spec.links", "spec.plans"];
  const sourceNames = form.sources.map((s) => s.service);

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
            <div className="field">
              <label>
                Name
                <input
                  required
                  value={form.name}
                  onChange={(e) => update({ name: e.target.value })}
                  {...invalidProps(located, "metadata.name", "compose-name-error")}
                />
              </label>
              <FieldError error={located} field="metadata.name" id="compose-name-error" />
            </div>
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
          <div className="field">
            <label>
              Display name in the catalog
              <input
                value={form.displayName}
                onChange={(e) => update({ displayName: e.target.value })}
                {...invalidProps(located, "metadata.displayName", "compose-display-name-error")}
              />
            </label>
            <FieldError error={located} field="metadata.displayName" id="compose-display-name-error" />
          </div>
          <div className="field">
            <label>
              Tags (comma-separated)
              <input
                value={form.tags}
                onChange={(e) => update({ tags: e.target.value })}
                {...invalidProps(located, "metadata.tags", "compose-tags-error")}
              />
            </label>
            <FieldError error={located} field="metadata.tags" id="compose-tags-error" />
          </div>
        </div>
        <div className="form-inline">
          <div className="field">
            <label>
              Version
              <input
                required
                value={form.version}
                onChange={(e) => update({ version: e.target.value })}
                {...invalidProps(located, "spec.version", "compose-version-error")}
              />
            </label>
            <FieldError error={located} field="spec.version" id="compose-version-error" />
          </div>
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
                    <label>
                      Rename types of {service} (Old=New, comma-separated)
                      <input
                        value={source.renameTypes}
                        onChange={(e) => editSource(service, { renameTypes: e.target.value })}
                        {...invalidProps(located, `${sourceAt(service)}.renameTypes`, `rename-types-${service}-error`)}
                      />
                    </label>
                    <label>
                      Rename fields of {service} (Type.field=newName, comma-separated)
                      <input
                        value={source.renameFields}
                        onChange={(e) => editSource(service, { renameFields: e.target.value })}
                        {...invalidProps(located, `${sourceAt(service)}.renameFields`, `rename-fields-${service}-error`)}
                      />
                    </label>
                  </div>
                ) : null}
                {source ? (
                  <>
                    <FieldError error={located} field={`${sourceAt(service)}.renameTypes`} id={`rename-types-${service}-error`} />
                    <FieldError error={located} field={`${sourceAt(service)}.renameFields`} id={`rename-fields-${service}-error`} />
                    <details className="patterns" open={source.typePatterns.length + source.rootFieldPatterns.length > 0}>
                      <summary>Rename {service}'s names by pattern</summary>
                      <p className="hint">
                        A regular expression matching a whole name, and what it becomes (<code>\1</code> is the first
                        group): <code>(.*)</code> → <code>{service}_\1</code>. The first matching pattern wins.
                      </p>
                      <PatternEditor
                        what={`type pattern of ${service}`}
                        rows={source.typePatterns}
                        onChange={(typePatterns) => editSource(service, { typePatterns })}
                        error={located}
                        field={`${sourceAt(service)}.typePatterns`}
                        id={`type-patterns-${service}`}
                      />
                      <PatternEditor
                        what={`root field pattern of ${service}`}
                        rows={source.rootFieldPatterns}
                        onChange={(rootFieldPatterns) => editSource(service, { rootFieldPatterns })}
                        error={located}
                        field={`${sourceAt(service)}.rootFieldPatterns`}
                        id={`root-field-patterns-${service}`}
                      />
                    </details>
                  </>
                ) : null}
              </div>
            );
          })}
        </fieldset>
        <PreferEditor rows={form.prefer} services={sourceNames} onChange={(prefer) => update({ prefer })} error={located} />
        <LinkEditor links={form.links} services={sourceNames} onChange={(links) => update({ links })} error={located} />
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
        <fieldset>
          <legend>Plans that offer it</legend>
          <div className="form-inline">
            {data.data.plans.map((p) => (
              <label key={p.name} className="checkbox">
                <input type="checkbox" checked={form.plans.includes(p.name)} onChange={(e) => togglePlan(p.name, e.target.checked)} />
                {p.displayName || p.name} ({p.autoApprove ? "approved at once" : "approved by the team"})
              </label>
            ))}
          </div>
          <FieldError error={located} field="spec.plans" id="compose-plans-error" />
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
      <LivePanel live={live} located={placed(located, fields)} />
      {error ? (
        placed(error, fields) ? (
          <p className="state state-error" role="alert">
            Not saved: see the field marked above.
          </p>
        ) : (
          <>
            <ErrorMessage error={error} />
            {error.field && !error.message.includes(error.field) ? <p className="hint">Where: {error.field}</p> : null}
          </>
        )
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

/** The composition as it stands, as one changes it: the conflicts (each naming both services, the type and the
 * field), or the schema consumers would see. */
function LivePanel({ live, located }: { live: ReturnType<typeof useLivePreview>; located: boolean }) {
  if (live.state === "idle") {
    return (
      <section className="panel" aria-label="Live composition">
        <h2>Composition</h2>
        <p className="hint">Pick a service: its composition shows here as you change it.</p>
      </section>
    );
  }
  return (
    <section className="panel" aria-label="Live composition" aria-busy={live.state === "checking"}>
      <h2>Composition</h2>
      <div role="status" aria-live="polite">
        {live.state === "checking" ? (
          <p className="hint">Composing…</p>
        ) : live.state === "error" ? (
          located ? (
            <p className="field-error">Cannot compose yet: see the field marked above.</p>
          ) : (
            <p className="field-error">Cannot compose: {live.error.message}</p>
          )
        ) : live.preview.conflicts.length ? (
          <>
            <p className="field-error">
              <strong>{live.preview.conflicts.length} conflict(s)</strong>: hide, prefix or rename what clashes, or let
              one service's definition of a shared type win.
            </p>
            <ul aria-label="Conflicts">
              {live.preview.conflicts.map((conflict) => (
                <li key={conflict}>{conflict}</li>
              ))}
            </ul>
          </>
        ) : (
          <p className="state-ok-text">
            Composes{live.preview.unpublished.length ? "" : " without conflicts"}.
            {live.preview.unpublished.length
              ? ` Not included yet (no published schema): ${live.preview.unpublished.join(", ")}.`
              : ""}
          </p>
        )}
      </div>
      {live.state === "done" && live.preview.sdl ? (
        <details open>
          <summary>The resulting schema</summary>
          <pre className="sdl" tabIndex={0} aria-label="The resulting schema">
            {live.preview.sdl}
          </pre>
        </details>
      ) : null}
    </section>
  );
}
