import { useState, type FormEvent } from "react";
import { CopyButton } from "../components/CopyButton";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { useKeyVault } from "../lib/keyVault";
import { teamsOf } from "../lib/roles";
import { useViewer } from "../lib/session";
import { useMutation, useQuery } from "../lib/useQuery";
import type { ApplicationsQuery as ApplicationsResult } from "../gql/graphql";
import {
  ApplicationsQuery,
  CreateApiKeyMutation,
  CreateApplicationMutation,
  CreateOAuthClientMutation,
  RevokeCredentialMutation,
} from "../operations";

type Application = ApplicationsResult["applications"][number];

interface Issued {
  kind: "API key" | "OAuth2 client secret";
  secret: string;
  label: string;
  clientId?: string | null;
}

export function ApplicationsPage() {
  const [apps, reload] = useQuery(ApplicationsQuery);
  return (
    <>
      <h1>Applications</h1>
      <p className="hint">An application holds your API keys and subscriptions; its keys share its subscriptions.</p>
      <CreateApplication onCreated={reload} />
      {apps.state === "loading" ? (
        <Loading what="your applications" />
      ) : apps.state === "error" ? (
        <ErrorMessage error={apps.error} onRetry={reload} />
      ) : apps.data.applications.length === 0 ? (
        <Empty>
          <p>You have no application yet: create one above, then a key for it.</p>
        </Empty>
      ) : (
        apps.data.applications.map((app) => <ApplicationCard key={app.id} app={app} onChange={reload} />)
      )}
    </>
  );
}

function CreateApplication({ onCreated }: { onCreated: () => void }) {
  const viewer = useViewer();
  const teams = teamsOf(viewer);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [team, setTeam] = useState("");
  const create = useMutation(CreateApplicationMutation);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const answer = await create.run({ name: name.trim(), description, team: team || null });
    if (answer) {
      setName("");
      setDescription("");
      onCreated();
    }
  };
  const nameError = create.error && (create.error.field === "name" || !create.error.field) ? create.error : null;
  return (
    <form className="form" onSubmit={submit} aria-labelledby="create-app-title">
      <h2 id="create-app-title">New application</h2>
      <label>
        Name
        <input
          required
          value={name}
          onChange={(e) => setName(e.target.value)}
          aria-invalid={nameError !== null}
          aria-describedby={nameError ? "create-app-error" : undefined}
        />
      </label>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      {teams.length > 0 ? (
        <label>
          Shared with team
          <select value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="">Only me</option>
            {teams.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
      ) : null}
      <button type="submit" disabled={create.busy}>
        {create.busy ? "Creating…" : "Create application"}
      </button>
      {create.error ? (
        <div id="create-app-error">
          <ErrorMessage error={create.error} />
        </div>
      ) : null}
    </form>
  );
}

function ApplicationCard({ app, onChange }: { app: Application; onChange: () => void }) {
  const vault = useKeyVault();
  const [keyName, setKeyName] = useState("");
  const [issued, setIssued] = useState<Issued | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);
  const createKey = useMutation(CreateApiKeyMutation);
  const createClient = useMutation(CreateOAuthClientMutation);
  const revoke = useMutation(RevokeCredentialMutation);
  const titleId = `app-${app.id}-title`;

  const issueKey = async (name: string): Promise<boolean> => {
    const answer = await createKey.run({ applicationId: app.id, name });
    if (!answer) return false;
    const { secret, credential } = answer.createApiKey;
    vault.remember(credential.id, secret);
    setIssued({ kind: "API key", secret, label: credential.prefix ?? "" });
    return true;
  };
  const issue = async (event: FormEvent) => {
    event.preventDefault();
    if (await issueKey(keyName.trim())) {
      setKeyName("");
      onChange();
    }
  };
  const issueClient = async () => {
    const answer = await createClient.run({ applicationId: app.id, name: keyName.trim() });
    if (answer) {
      const { secret, credential } = answer.createOAuthClient;
      setIssued({ kind: "OAuth2 client secret", secret, label: credential.clientId ?? "", clientId: credential.clientId });
      setKeyName("");
      onChange();
    }
  };
  // A new key under the same name first, then the old one revoked: the new one is shown before the old stops.
  const rotate = async (id: number, name: string) => {
    setConfirming(null);
    if ((await issueKey(name)) && (await revoke.run({ id }))) onChange();
  };
  const revokeKey = async (id: number) => {
    setConfirming(null);
    if (await revoke.run({ id })) onChange();
  };
  const active = app.credentials.filter((c) => !c.revokedAt);
  const revoked = app.credentials.length - active.length;

  return (
    <section className="card app" aria-labelledby={titleId}>
      <h2 id={titleId}>{app.name}</h2>
      <p className="card-team">
        owned by {app.owner}
        {app.team ? `, shared with ${app.team}` : ""}
        {app.description ? ` · ${app.description}` : ""}
      </p>
      {issued ? (
        <div className="secret" role="region" aria-label={`New ${issued.kind}`}>
          <p>
            <strong>Your new {issued.kind}, shown only this once.</strong> Copy it now and keep it somewhere safe; the
            portal stores only its hash.
          </p>
          {issued.clientId ? (
            <p>
              Client id: <code>{issued.clientId}</code> (token endpoint <code>/oauth/token</code>, client credentials)
            </p>
          ) : null}
          <p className="secret-row">
            <code className="secret-value" data-testid="new-secret">
              {issued.secret}
            </code>{" "}
            <CopyButton text={issued.secret} label={`Copy the ${issued.kind} ${issued.label}`} />
          </p>
          <button type="button" onClick={() => setIssued(null)}>
            I have copied it
          </button>
        </div>
      ) : null}
      <h3>Keys and clients</h3>
      {active.length === 0 ? (
        <p>No active key{revoked ? ` (${revoked} revoked)` : ""}.</p>
      ) : (
        <table className="stack">
          <caption className="visually-hidden">Credentials of {app.name}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Starts with</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {active.map((c) => (
              <tr key={c.id}>
                <td data-label="Name">{c.name || "—"}</td>
                <td data-label="Kind">{c.kind === "api_key" ? "API key" : "OAuth2 client"}</td>
                <td data-label="Starts with">
                  <code>{c.prefix ?? c.clientId}</code>
                </td>
                <td data-label="Last used">{c.lastUsedAt ? new Date(c.lastUsedAt).toLocaleString() : "never"}</td>
                <td>
                  {confirming === c.id ? (
                    <>
                      <button type="button" className="danger" onClick={() => void revokeKey(c.id)}>
                        Confirm revoking {c.prefix ?? c.clientId}
                      </button>{" "}
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep it
                      </button>
                    </>
                  ) : (
                    <>
                      {c.kind === "api_key" ? (
                        <button
                          type="button"
                          disabled={createKey.busy || revoke.busy}
                          onClick={() => void rotate(c.id, c.name)}
                          aria-label={`Rotate ${c.prefix}: a new key, then this one revoked`}
                        >
                          Rotate
                        </button>
                      ) : null}{" "}
                      <button type="button" onClick={() => setConfirming(c.id)} aria-label={`Revoke ${c.prefix ?? c.clientId}`}>
                        Revoke
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoke.error ? <ErrorMessage error={revoke.error} /> : null}
      <form className="form form-inline" onSubmit={issue} aria-label={`New credential for ${app.name}`}>
        <label>
          Name of the new key or client
          <input value={keyName} onChange={(e) => setKeyName(e.target.value)} placeholder="e.g. ci" />
        </label>
        <button type="submit" disabled={createKey.busy}>
          {createKey.busy ? "Creating…" : "Create API key"}
        </button>
        <button type="button" disabled={createClient.busy} onClick={() => void issueClient()}>
          {createClient.busy ? "Creating…" : "Create OAuth2 client"}
        </button>
      </form>
      {createKey.error ? <ErrorMessage error={createKey.error} /> : null}
      {createClient.error ? <ErrorMessage error={createClient.error} /> : null}
      <h3>Subscriptions</h3>
      {app.subscriptions.length === 0 ? (
        <p>None yet: subscribe from a product's page in the catalog.</p>
      ) : (
        <ul>
          {app.subscriptions.map((s) => (
            <li key={s.id}>
              {s.product} ({s.plan}): <span className={`badge badge-${s.state}`}>{s.state}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
