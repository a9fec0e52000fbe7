import { useState } from "react";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { windowText } from "../lib/durations";
import { canDecideFor } from "../lib/roles";
import { usageText } from "../lib/usage";
import { useViewer } from "../lib/session";
import { useMutation, useQuery } from "../lib/useQuery";
import {
  ApproveSubscriptionMutation,
  RejectSubscriptionMutation,
  RevokeSubscriptionMutation,
  SubscriptionsQuery,
  SubscriptionUsageQuery,
} from "../operations";

const STATES = ["requested", "approved", "rejected", "revoked"];

export function SubscriptionsPage() {
  const viewer = useViewer();
  const [state, setState] = useState("");
  const [usageRound, setUsageRound] = useState(0); // bumped to read every use of a limit again
  const [result, reload] = useQuery(SubscriptionsQuery, { state: state || null });
  const approve = useMutation(ApproveSubscriptionMutation);
  const reject = useMutation(RejectSubscriptionMutation);
  const revoke = useMutation(RevokeSubscriptionMutation);
  const error = approve.error ?? reject.error ?? revoke.error;
  const busy = approve.busy || reject.busy || revoke.busy;
  const act = async (run: (v: { id: number }) => Promise<unknown>, id: number) => {
    if (await run({ id })) reload();
  };

  return (
    <>
      <h1>Subscriptions</h1>
      <p className="hint">Your applications' subscriptions, and requests for your teams' products.</p>
      <p className="hint" id="usage-note">
        Each plan's limit counts the requests of all of one person's applications on that plan and product. The use
        shown is the gateway's own counter, when the gateways count in Redis; when a limit is reached, the gateway
        answers 429 with the time to wait.
      </p>
      <form className="filters" aria-label="Filter subscriptions" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">Any state</option>
            {STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="button" aria-describedby="usage-note" onClick={() => setUsageRound((n) => n + 1)}>
          Refresh the use
        </button>
      </form>
      {error ? <ErrorMessage error={error} /> : null}
      {result.state === "loading" ? (
        <Loading what="subscriptions" />
      ) : result.state === "error" ? (
        <ErrorMessage error={result.error} onRetry={reload} />
      ) : result.data.subscriptions.length === 0 ? (
        <Empty>
          <p>
            {state ? `No ${state} subscription.` : "No subscription yet: subscribe from a product's page in the catalog."}
          </p>
        </Empty>
      ) : (
        <table className="stack">
          <caption className="visually-hidden">Subscriptions</caption>
          <thead>
            <tr>
              <th scope="col">Product</th>
              <th scope="col">Application</th>
              <th scope="col">Plan</th>
              <th scope="col">State</th>
              <th scope="col">Use of the limit</th>
              <th scope="col">Requested by</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {result.data.subscriptions.map((s) => {
              const limits = (name: string) => {
                const plan = result.data.plans.find((p) => p.name === name);
                return plan ? (
                  <span className="hint">
                    {" "}
                    ({plan.rateLimitRequests} per {windowText(plan.rateLimitPerSeconds)})
                  </span>
                ) : null;
              };
              const team = result.data.products.find((p) => p.name === s.product)?.team;
              const decides = canDecideFor(viewer, team);
              const own = s.requestedBy === viewer.name;
              return (
                <tr key={s.id}>
                  <td data-label="Product">{s.product}</td>
                  <td data-label="Application">{s.application}</td>
                  <td data-label="Plan">
                    {s.plan}
                    {limits(s.plan)}
                  </td>
                  <td data-label="State">
                    <span className={`badge badge-${s.state}`}>{s.state}</span>
                    {s.decidedBy ? <span className="hint"> by {s.decidedBy}</span> : null}
                  </td>
                  <td data-label="Use of the limit">{s.state === "approved" ? <UsageCell key={usageRound} id={s.id} /> : "—"}</td>
                  <td data-label="Requested by">{s.requestedBy}</td>
                  <td className="actions">
                    {decides && s.state === "requested" ? (
                      <>
                        <button type="button" disabled={busy} onClick={() => void act(approve.run, s.id)}>
                          Approve
                        </button>{" "}
                        <button type="button" disabled={busy} className="danger" onClick={() => void act(reject.run, s.id)}>
                          Reject
                        </button>
                      </>
                    ) : null}
                    {(decides || own) && s.state === "approved" ? (
                      <button type="button" disabled={busy} className="danger" onClick={() => void act(revoke.run, s.id)}>
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The use of the plan's limit in the current window, as the gateway counts it (or why it is not known). */
function UsageCell({ id }: { id: number }) {
  const [usage] = useQuery(SubscriptionUsageQuery, { id });
  if (usage.state === "loading") return <span className="hint">…</span>;
  if (usage.state === "error") return <span className="hint">not known: {usage.error.message}</span>;
  const u = usage.data.subscriptionUsage;
  return <span>{usageText(u)}</span>;
}

