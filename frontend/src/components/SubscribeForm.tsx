import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { windowText } from "../lib/durations";
import { useMutation, useQuery } from "../lib/useQuery";
import { ApplicationsQuery, RequestSubscriptionMutation } from "../operations";
import { Empty, ErrorMessage, Loading } from "./States";

interface PlanInfo {
  name: string;
  displayName: string;
  rateLimitRequests: number;
  rateLimitPerSeconds: number;
  autoApprove: boolean;
}

export function SubscribeForm({ product, plans }: { product: string; plans: PlanInfo[] }) {
  const [apps, reload] = useQuery(ApplicationsQuery);
  const [applicationId, setApplicationId] = useState("");
  const [plan, setPlan] = useState(plans[0]?.name ?? "");
  const request = useMutation(RequestSubscriptionMutation);
  const [outcome, setOutcome] = useState<string | null>(null);

  if (apps.state === "loading") return <Loading what="your applications" />;
  if (apps.state === "error") return <ErrorMessage error={apps.error} onRetry={reload} />;
  if (plans.length === 0) {
    return (
      <Empty>
        <h2>Subscribe</h2>
        <p>No plan offers this product yet, so it cannot be subscribed to. Ask its team.</p>
      </Empty>
    );
  }
  const applications = apps.data.applications;
  if (applications.length === 0) {
    return (
      <Empty>
        <h2>Subscribe</h2>
        <p>
          You need an application to subscribe with. <Link to="/apps">Create one</Link>, then come back.
        </p>
      </Empty>
    );
  }
  const existing = applications.flatMap((app) =>
    app.subscriptions.filter((s) => s.product === product).map((s) => ({ ...s, application: app.name })),
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setOutcome(null);
    const answer = await request.run({ applicationId: Number(applicationId), product, plan });
    if (answer) {
      const state = answer.requestSubscription.state;
      setOutcome(
        state === "approved"
          ? "Subscribed: the plan approves at once, your keys work now."
          : `Requested (${state}): the product's team decides; see Subscriptions.`,
      );
      reload();
    }
  };
  return (
    <>
      <h2>Subscribe</h2>
      {existing.length > 0 ? (
        <ul aria-label="Your subscriptions to this product">
          {existing.map((s) => (
            <li key={s.id}>
              {s.application}: {s.plan}, <span className={`badge badge-${s.state}`}>{s.state}</span>
            </li>
          ))}
        </ul>
      ) : null}
      <form className="form" onSubmit={submit} aria-label="Request a subscription">
        <label>
          Application
          <select required value={applicationId} onChange={(e) => setApplicationId(e.target.value)}>
            <option value="">Choose an application</option>
            {applications.map((app) => (
              <option key={app.id} value={app.id}>
                {app.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Plan
          <select required value={plan} onChange={(e) => setPlan(e.target.value)}>
            {plans.map((p) => (
              <option key={p.name} value={p.name}>
                {p.displayName || p.name} ({p.rateLimitRequests} per {windowText(p.rateLimitPerSeconds)}
                {p.autoApprove ? ", approved at once" : ""})
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={request.busy}>
          {request.busy ? "Requesting…" : "Request subscription"}
        </button>
      </form>
      {request.error ? <ErrorMessage error={request.error} /> : null}
      {outcome ? (
        <p role="status" className="state state-ok">
          {outcome}
        </p>
      ) : null}
    </>
  );
}
