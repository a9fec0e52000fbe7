import { useState, type ChangeEvent } from "react";
import { FieldError, invalidProps } from "../components/FieldError";
import { EntityEditor, TrafficEditor } from "../components/ServiceSettings";
import { ErrorMessage, Loading } from "../components/States";
import type { ApplyMutation as ApplyResult } from "../gql/graphql";
import type { ApiError } from "../lib/api";
import { isAbout, placed } from "../lib/fieldErrors";
import {
  emptyDeployment,
  emptyService,
  formOfService,
  serviceDocuments,
  serviceResourceOf,
  type DeploymentForm,
  type Protocol,
  type ServiceForm,
} from "../lib/publishing";
import { isPlatformAdmin, teamsOf } from "../lib/roles";
import { changeAt, removeAt } from "../lib/rows";
import { guessMain, uploadOf } from "../lib/schemaFiles";
import { useViewer } from "../lib/session";
import { useMutation, useQuery } from "../lib/useQuery";
import { readZip, ZipError } from "../lib/zip";
import { ApplyMutation, PublishQuery } from "../operations";

type Changes = ApplyResult["apply"];
const NEW = "";
const SCHEMA = "spec.schema";
// Choosing a folder: not in React's types, read by every current browser.
const FOLDER = { webkitdirectory: "" } as Record<string, string>;

/** A team publishes a service: a new one, or a new schema, deployments, entities or traffic settings of one of its own. The impact comes
 * first (a dry run of `loom apply`, which names every product a change would break and why), then for real. An
 * error of the API is shown beside the field it is about (its location says which). */
export function PublishPage() {
  const viewer = useViewer();
  const [data, reload] = useQuery(PublishQuery);
  const [selected, setSelected] = useState(NEW);
  const teams = teamsOf(viewer).filter(
    (team) => isPlatformAdmin(viewer) || viewer.memberships.some((m) => m.team === team && m.role !== "viewer"),
  );
  const [form, setForm] = useState<ServiceForm>(emptyService(teams[0] ?? ""));
  const [upload, setUpload] = useState<{ all: Record<string, string>; main: string } | null>(null);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [understood, setUnderstood] = useState(false);
  const [checked, setChecked] = useState<{ key: string; changes: Changes } | null>(null);
  const [published, setPublished] = useState<Changes | null>(null);
  const check = useMutation(ApplyMutation);
  const publish = useMutation(ApplyMutation);

  if (data.state === "loading") return <Loading what="your services" />;
  if (data.state === "error") {
    return (
      <>
        <h1>Publish a service</h1>
        <ErrorMessage error={data.error} onRetry={reload} />
      </>
    );
  }
  const services = serviceDocuments(data.data.services).filter(
    (doc) => isPlatformAdmin(viewer) || teams.includes(doc.metadata.team),
  );
  const placements = data.data.teams.find((t) => t.name === form.team)?.placements.map((p) => p.cluster) ?? [];
  const clusters = data.data.clusters.map((c) => c.name).filter((c) => isPlatformAdmin(viewer) || placements.includes(c));
  const resource = serviceResourceOf(form);
  const key = JSON.stringify(resource);
  const error: ApiError | null = check.error ?? publish.error;
  const readyToPublish = checked !== null && checked.key === key && checked.changes.some((c) => c.action !== "unchanged");
  const mayForce =
    check.error?.code === "CONFLICT" &&
    (isPlatformAdmin(viewer) || viewer.memberships.some((m) => m.team !== null && m.role === "team-admin"));

  const update = (change: Partial<ServiceForm>) => {
    setForm((previous) => ({ ...previous, ...change }));
    setPublished(null);
    setUnderstood(false);
    check.clearError(); // the error was about what the form said before
    publish.clearError();
  };
  const choose = (name: string) => {
    setSelected(name);
    const doc = services.find((d) => d.metadata.name === name);
    setForm(doc ? formOfService(doc) : emptyService(teams[0] ?? ""));
    setUpload(null);
    setUploadError(null);
    setChecked(null);
    setPublished(null);
    check.clearError();
    publish.clearError();
  };
  const takeUpload = (all: Record<string, string>, main: string | null) => {
    if (!main) {
      setUploadError("the upload holds no file");
      return;
    }
    const chosen = uploadOf(all, main);
    setUpload({ all, main });
    setUploadError(null);
    update({ text: chosen.text, files: form.protocol === "openapi" ? chosen.files : {}, mode: "text" });
  };
  const readFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (!file) return;
    setUpload(null);
    setUploadError(null);
    update({ text: await file.text(), files: {}, mode: "text" });
  };
  const readFolder = async (event: ChangeEvent<HTMLInputElement>) => {
    const files = Array.from(event.target.files ?? []);
    const all: Record<string, string> = {};
    for (const file of files) {
      // webkitRelativePath starts with the folder's own name; the paths inside it are what $ref names
      const path = file.webkitRelativePath.split("/").slice(1).join("/") || file.name;
      all[path] = await file.text();
    }
    takeUpload(all, guessMain(all));
  };
  const readArchive = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (!file) return;
    try {
      const all = await readZip(await file.arrayBuffer());
      takeUpload(all, guessMain(all));
    } catch (caught) {
      setUpload(null);
      setUploadError(caught instanceof ZipError ? caught.message : `cannot read ${file.name}: ${String(caught)}`);
    }
  };
  const runCheck = async () => {
    setPublished(null);
    publish.clearError();
    const answer = await check.run({ documents: [resource], dryRun: true });
    setChecked(answer ? { key, changes: answer.apply } : null);
  };
  const runPublish = async (force = false) => {
    const answer = await publish.run({ documents: [resource], dryRun: false, force });
    if (answer) {
      check.clearError();
      setUnderstood(false);
      setPublished(answer.apply);
      setChecked(null);
      setSelected(form.name.trim());
      reload();
    }
  };
  const editDeployment = (index: number, change: Partial<DeploymentForm>) =>
    update({ deployments: changeAt(form.deployments, index, change) });
  const isNew = selected === NEW;
  const fields = ["metadata.name", "metadata.team", "spec.protocol", SCHEMA, "spec.deployments", "spec.entities", "spec.traffic"];
  const egress = error?.refusedBy === "egress-guard";
  // a refusal that names no field, for breaking a product: the schema is what breaks it
  const breaks = error?.code === "CONFLICT" && !error.location;

  if (teams.length === 0) {
    return (
      <>
        <h1>Publish a service</h1>
        <p>Services belong to teams, and you publish for none. Ask a team admin or a platform admin.</p>
      </>
    );
  }
  return (
    <>
      <h1>Publish a service</h1>
      <p className="hint">
        A new service, or a new schema, deployments, entities or traffic settings of one of yours. Check the impact
        first: a change that breaks a published product is refused, with what it breaks.
      </p>
      <form className="form form-wide" aria-label="Publish a service" onSubmit={(e) => e.preventDefault()}>
        <label>
          Service
          <select value={selected} onChange={(e) => choose(e.target.value)}>
            <option value={NEW}>A new service</option>
            {services.map((doc) => (
              <option key={doc.metadata.name} value={doc.metadata.name}>
                {doc.metadata.name} ({doc.metadata.team}, {doc.spec.protocol})
              </option>
            ))}
          </select>
        </label>
        {isNew ? (
          <div className="form-inline">
            <div className="field">
              <label>
                Name
                <input
                  required
                  value={form.name}
                  onChange={(e) => update({ name: e.target.value })}
                  {...invalidProps(error, "metadata.name", "service-name-error")}
                />
              </label>
              <FieldError error={error} field="metadata.name" id="service-name-error" />
            </div>
            <div className="field">
              <label>
                Team
                <select
                  value={form.team}
                  onChange={(e) => update({ team: e.target.value })}
                  {...invalidProps(error, "metadata.team", "service-team-error")}
                >
                  {teams.map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              </label>
              <FieldError error={error} field="metadata.team" id="service-team-error" />
            </div>
            <div className="field">
              <label>
                Protocol
                <select
                  value={form.protocol}
                  onChange={(e) => update({ protocol: e.target.value as Protocol, files: {} })}
                  {...invalidProps(error, "spec.protocol", "service-protocol-error")}
                >
                  <option value="graphql">GraphQL</option>
                  <option value="federation">GraphQL (Federation subgraph)</option>
                  <option value="openapi">OpenAPI (REST)</option>
                </select>
              </label>
              <FieldError error={error} field="spec.protocol" id="service-protocol-error" />
            </div>
          </div>
        ) : null}
        <fieldset>
          <legend>Schema</legend>
          <div className="form-inline" role="radiogroup" aria-label="Where the schema comes from">
            <label className="checkbox">
              <input type="radio" name="mode" checked={form.mode === "text"} onChange={() => update({ mode: "text" })} />
              Paste or upload it
            </label>
            <label className="checkbox">
              <input
                type="radio"
                name="mode"
                checked={form.mode === "introspect"}
                onChange={() => update({ mode: "introspect", introspectCluster: form.introspectCluster || (form.deployments[0]?.cluster ?? "") })}
              />
              Introspect a deployment
            </label>
          </div>
          {form.mode === "text" ? (
            <>
              <label>
                {form.protocol === "openapi" ? "OpenAPI document (YAML or JSON)" : "Schema (SDL)"}
                <textarea
                  rows={14}
                  spellCheck={false}
                  value={form.text}
                  onChange={(e) => update({ text: e.target.value })}
                  {...(breaks
                    ? { "aria-invalid": true, "aria-describedby": "publish-error" }
                    : invalidProps(error, SCHEMA, "service-schema-error"))}
                />
              </label>
              <FieldError error={error} field={SCHEMA} id="service-schema-error" />
              <div className="form-inline">
                <label>
                  Upload a file
                  <input
                    type="file"
                    accept=".graphql,.graphqls,.gql,.yaml,.yml,.json,text/plain"
                    onChange={(e) => void readFile(e)}
                  />
                </label>
                {form.protocol === "openapi" ? (
                  <>
                    <label>
                      Upload a folder (with its $ref files)
                      <input
                        type="file"
                        {...FOLDER}
                        multiple
                        onChange={(e) => void readFolder(e)}
                      />
                    </label>
                    <label>
                      Upload a .zip (with its $ref files)
                      <input type="file" accept=".zip,application/zip" onChange={(e) => void readArchive(e)} />
                    </label>
                  </>
                ) : null}
              </div>
              {uploadError ? (
                <p className="field-error" role="alert">
                  {uploadError}
                </p>
              ) : null}
              {upload ? (
                <div className="form-inline">
                  <label>
                    Main document
                    <select value={upload.main} onChange={(e) => takeUpload(upload.all, e.target.value)}>
                      {Object.keys(upload.all)
                        .sort()
                        .map((path) => (
                          <option key={path}>{path}</option>
                        ))}
                    </select>
                  </label>
                </div>
              ) : null}
              {Object.keys(form.files).length ? (
                <p className="hint" aria-label="Referenced files">
                  With {Object.keys(form.files).length} referenced file(s): {Object.keys(form.files).sort().join(", ")}
                </p>
              ) : null}
            </>
          ) : (
            <div className="form-inline">
              <label>
                From the deployment in
                <select
                  value={form.introspectCluster}
                  onChange={(e) => update({ introspectCluster: e.target.value })}
                  {...invalidProps(error, SCHEMA, "service-introspect-error")}
                >
                  <option value="">Choose a cluster</option>
                  {form.deployments.map((d) => (
                    <option key={d.cluster} value={d.cluster}>
                      {d.cluster} ({d.target === "address" ? d.address || "no address yet" : `${d.kubeService}.${d.kubeNamespace}`})
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Introspection path
                <input
                  value={form.introspectPath}
                  placeholder={form.protocol === "openapi" ? "/openapi.json" : "/graphql"}
                  onChange={(e) => update({ introspectPath: e.target.value })}
                />
              </label>
            </div>
          )}
          {form.mode === "introspect" && error && isAbout(error, SCHEMA) ? (
            <div className="field-error" id="service-introspect-error">
              <p>{error.detail}</p>
              {egress ? (
                <p>
                  The portal's SSRF guard refused this address: the portal fetches a schema only from where the
                  cluster's egress policy allows (never a metadata or link-local address; loopback and private
                  networks only when a platform admin allows them in the cluster's <code>spec.introspection</code>).
                  Use the service's own address in the cluster, or paste its schema instead.
                </p>
              ) : null}
            </div>
          ) : null}
        </fieldset>
        <fieldset>
          <legend>Deployments</legend>
          {form.deployments.length === 0 ? <p className="hint">No deployment yet: add one per cluster it runs in.</p> : null}
          {form.deployments.map((deployment, index) => (
            <DeploymentRow
              key={index}
              index={index}
              deployment={deployment}
              clusters={clusters}
              error={error}
              onChange={(change) => editDeployment(index, change)}
              onRemove={() => update({ deployments: removeAt(form.deployments, index) })}
            />
          ))}
          <FieldError error={error?.location?.field === "spec.deployments" ? error : null} field="spec.deployments" id="service-deployments-error" />
          <button
            type="button"
            onClick={() =>
              update({
                deployments: [
                  ...form.deployments,
                  emptyDeployment(clusters.find((c) => !form.deployments.some((d) => d.cluster === c)) ?? ""),
                ],
              })
            }
          >
            Add a deployment
          </button>
        </fieldset>
        {form.protocol !== "federation" ? (
          <EntityEditor rows={form.entities} onChange={(entities) => update({ entities })} error={error} />
        ) : null}
        <TrafficEditor values={form.traffic} onChange={(traffic) => update({ traffic })} error={error} />
        <div className="form-inline">
          <button type="button" disabled={check.busy} onClick={() => void runCheck()}>
            {check.busy ? "Checking…" : "Check the impact"}
          </button>
          <button type="submit" disabled={!readyToPublish || publish.busy} onClick={() => void runPublish(false)}>
            {publish.busy ? "Publishing…" : "Publish"}
          </button>
        </div>
      </form>
      {error ? (
        <div id="publish-error">
          {placed(error, fields) ? (
            <p className="state state-error" role="alert">
              {egress ? "The SSRF guard refused an address" : "Not published"}: see the field marked above.
            </p>
          ) : (
            <ErrorMessage error={error} />
          )}
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

function DeploymentRow({
  index,
  deployment,
  clusters,
  error,
  onChange,
  onRemove,
}: {
  index: number;
  deployment: DeploymentForm;
  clusters: string[];
  error: ApiError | null;
  onChange: (change: Partial<DeploymentForm>) => void;
  onRemove: () => void;
}) {
  const at = `spec.deployments[${index}]`;
  const id = (part: string) => `deployment-${index}-${part}-error`;
  const options = clusters.includes(deployment.cluster) || !deployment.cluster ? clusters : [deployment.cluster, ...clusters];
  return (
    <div className="source" role="group" aria-label={`Deployment ${index + 1}`}>
      <div className="form-inline">
        <div className="field">
          <label>
            Cluster
            <select
              value={deployment.cluster}
              onChange={(e) => onChange({ cluster: e.target.value })}
              {...invalidProps(error, `${at}.cluster`, id("cluster"))}
            >
              <option value="">Choose a cluster</option>
              {options.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
          <FieldError error={error} field={`${at}.cluster`} id={id("cluster")} />
        </div>
        <label>
          Runs at
          <select value={deployment.target} onChange={(e) => onChange({ target: e.target.value as "address" | "kube" })}>
            <option value="address">an address (URL)</option>
            <option value="kube">a Kubernetes Service</option>
          </select>
        </label>
        {deployment.target === "address" ? (
          <div className="field">
            <label>
              Address
              <input
                value={deployment.address}
                placeholder="http://members.internal:4000"
                onChange={(e) => onChange({ address: e.target.value })}
                {...invalidProps(error, `${at}.address`, id("address"))}
              />
            </label>
            <FieldError error={error} field={`${at}.address`} id={id("address")} />
          </div>
        ) : (
          <>
            <label>
              Kubernetes Service
              <input value={deployment.kubeService} onChange={(e) => onChange({ kubeService: e.target.value })} {...invalidProps(error, `${at}.kube`, id("kube"))} />
            </label>
            <label>
              Namespace
              <input value={deployment.kubeNamespace} onChange={(e) => onChange({ kubeNamespace: e.target.value })} {...invalidProps(error, `${at}.kube`, id("kube"))} />
            </label>
            <label>
              Port
              <input inputMode="numeric" value={deployment.kubePort} onChange={(e) => onChange({ kubePort: e.target.value })} {...invalidProps(error, `${at}.kube`, id("kube"))} />
            </label>
          </>
        )}
        <div className="field">
          <label>
            Health check path
            <input
              value={deployment.healthPath}
              placeholder="/healthz"
              onChange={(e) => onChange({ healthPath: e.target.value })}
              {...invalidProps(error, `${at}.healthCheck`, id("health"))}
            />
          </label>
          <FieldError error={error} field={`${at}.healthCheck`} id={id("health")} />
        </div>
        <button type="button" className="danger" onClick={onRemove} aria-label={`Remove deployment ${index + 1}`}>
          Remove
        </button>
      </div>
      {deployment.target === "kube" ? <FieldError error={error} field={`${at}.kube`} id={id("kube")} /> : null}
      {error?.location?.field === at ? <FieldError error={error} field={at} id={id("row")} /> : null}
    </div>
  );
}

function ChangeList({ title, changes }: { title: string; changes: Changes }) {
  const nothing = changes.every((c) => c.action === "unchanged");
  return (
    <section className="state state-ok" aria-label={title} role="status">
      <h2>{title}</h2>
      {nothing ? (
        <p>Nothing changes: this is what the service publishes now.</p>
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
