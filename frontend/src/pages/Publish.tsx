import { useState, type ChangeEvent } from "react";
import { Empty, ErrorMessage, Loading } from "../components/States";
import type { ApplyMutation as ApplyResult } from "../gql/graphql";
import { sdlOf, serviceDocuments, withSdl, type ServiceDocument } from "../lib/publishing";
import { isPlatformAdmin } from "../lib/roles";
import { useViewer } from "../lib/session";
import { useMutation, useQuery } from "../lib/useQuery";
import { ApplyMutation, ServiceResourcesQuery } from "../operations";

type Changes = ApplyResult["apply"];

/** A team publishes a new schema of one of its services: the impact first (a dry run of `loom apply`, which
 * names every product it would break and why), then for real. */
export function PublishPage() {
  const viewer = useViewer();
  const [resources, reload] = useQuery(ServiceResourcesQuery);
  const [understood, setUnderstood] = useState(false);
  const [name, setName] = useState("");
  const [sdl, setSdl] = useState("");
  const [checked, setChecked] = useState<{ sdl: string; changes: Changes } | null>(null);
  const [published, setPublished] = useState<Changes | null>(null);
  const check = useMutation(ApplyMutation);
  const publish = useMutation(ApplyMutation);

  if (resources.state === "loading") return <Loading what="your services" />;
  if (resources.state === "error") {
    return (
      <>
        <h1>Publish a schema</h1>
        <ErrorMessage error={resources.error} onRetry={reload} />
      </>
    );
  }
  const services = serviceDocuments(resources.data.resources).filter((doc) => sdlOf(doc) !== null);
  const chosen: ServiceDocument | undefined = services.find((doc) => doc.metadata.name === name);
  const choose = (value: string) => {
    setName(value);
    const doc = services.find((d) => d.metadata.name === value);
    setSdl(doc ? (sdlOf(doc) ?? "") : "");
    setChecked(null);
    setPublished(null);
    check.clearError();
    publish.clearError();
  };
  const edit = (value: string) => {
    setSdl(value);
    setChecked(null);
    setPublished(null);
    setUnderstood(false);
  };
  const upload = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (file) edit(await file.text());
  };
  const runCheck = async () => {
    if (!chosen) return;
    setPublished(null);
    const answer = await check.run({ documents: [withSdl(chosen, sdl)], dryRun: true });
    setChecked(answer ? { sdl, changes: answer.apply } : null);
  };
  const runPublish = async (force = false) => {
    if (!chosen) return;
    const answer = await publish.run({ documents: [withSdl(chosen, sdl)], dryRun: false, force });
    if (answer) {
      check.clearError();
      setUnderstood(false);
      setPublished(answer.apply);
      setChecked(null);
      reload();
    }
  };
  const error = check.error ?? publish.error;
  // A refusal for breaking a published product may be forced by its team's admins (the API decides whose it is).
  const mayForce =
    check.error?.code === "CONFLICT" &&
    (isPlatformAdmin(viewer) || viewer.memberships.some((m) => m.team !== null && m.role === "team-admin"));
  const readyToPublish = checked !== null && checked.sdl === sdl && checked.changes.some((c) => c.action !== "unchanged");

  return (
    <>
      <h1>Publish a schema</h1>
      <p className="hint">
        A new schema of one of your GraphQL services. Check its impact first: a change that breaks a published
        product is refused, with what it breaks. (OpenAPI services and new services: <code>loom apply</code>.)
      </p>
      {services.length === 0 ? (
        <Empty>
          <p>None of your teams has a GraphQL service yet. Create one with <code>loom apply</code>.</p>
        </Empty>
      ) : (
        <form className="form form-wide" aria-label="Publish a schema" onSubmit={(e) => e.preventDefault()}>
          <label>
            Service
            <select value={name} onChange={(e) => choose(e.target.value)}>
              <option value="">Choose a service</option>
              {services.map((doc) => (
                <option key={doc.metadata.name} value={doc.metadata.name}>
                  {doc.metadata.name} ({doc.metadata.team}, {doc.spec.protocol})
                </option>
              ))}
            </select>
          </label>
          {chosen ? (
            <>
              <label>
                Schema (SDL)
                <textarea
                  rows={16}
                  spellCheck={false}
                  value={sdl}
                  onChange={(e) => edit(e.target.value)}
                  aria-invalid={error !== null}
                  aria-describedby={error ? "publish-error" : undefined}
                />
              </label>
              <label>
                Or upload a .graphql file
                <input type="file" accept=".graphql,.graphqls,.gql,text/plain" onChange={(e) => void upload(e)} />
              </label>
              <div className="form-inline">
                <button type="button" disabled={check.busy} onClick={() => void runCheck()}>
                  {check.busy ? "Checking…" : "Check the impact"}
                </button>
                <button type="submit" disabled={!readyToPublish || publish.busy} onClick={() => void runPublish(false)}>
                  {publish.busy ? "Publishing…" : "Publish"}
                </button>
              </div>
            </>
          ) : null}
        </form>
      )}
      {error ? (
        <div id="publish-error">
          <ErrorMessage error={error} />
          {error.field && !error.message.includes(error.field) ? <p className="hint">Where: {error.field}</p> : null}
          {mayForce ? (
            <div className="form-inline">
              <label className="checkbox">
                <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} />
                I understand this breaks the product for its consumers (the audit log records it)
              </label>
              <button
                type="button"
                className="danger"
                disabled={!understood || publish.busy}
                onClick={() => void runPublish(true)}
              >
                Publish anyway
              </button>
            </div>
          ) : null}
        </div>
      ) : null}
      {checked ? <ChangeList title="If you publish this" changes={checked.changes} /> : null}
      {published ? <ChangeList title="Published" changes={published} /> : null}
    </>
  );
}

function ChangeList({ title, changes }: { title: string; changes: Changes }) {
  const nothing = changes.every((c) => c.action === "unchanged");
  return (
    <section className="state state-ok" aria-label={title} role="status">
      <h2>{title}</h2>
      {nothing ? (
        <p>Nothing changes: this is the schema the service publishes now.</p>
      ) : (
        <ul>
          {changes.map((c) => (
            <li key={`${c.kind}/${c.name}`}>
              {c.kind} {c.name}: {c.action}
              {c.details.length ? ` (${c.details.join("; ")})` : ""}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
