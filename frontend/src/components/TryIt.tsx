import { lazy, Suspense, useCallback, useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { explainGatewayAnswer, keyMatchesPrefix } from "../lib/api";
import { useKeyVault } from "../lib/keyVault";
import { parseSdl } from "../lib/schemaIndex";
import { useQuery } from "../lib/useQuery";
import { ApplicationsQuery } from "../operations";
import { Empty, ErrorMessage, Loading } from "./States";

// GraphiQL (with its editor) is a chunk of its own, fetched only when someone opens this tab.
const GraphiQLPanel = lazy(() => import("./GraphiQLPanel"));

interface KeyChoice {
  id: number;
  label: string;
  prefix: string;
  plan: string;
}

/** GraphiQL on the product's gateway endpoint, with one of the consumer's own API keys. */
export function TryIt({ product, sdl }: { product: string; sdl: string | null }) {
  const [apps, reload] = useQuery(ApplicationsQuery);
  const vault = useKeyVault();
  const [chosen, setChosen] = useState("");
  const [pasted, setPasted] = useState("");
  const [explanation, setExplanation] = useState<string | null>(null);
  const onAnswer = useCallback(
    (status: number, body: unknown, retryAfter: string | null) =>
      setExplanation(explainGatewayAnswer(status, body, retryAfter)),
    [],
  );
  const schema = useMemo(() => {
    const parsed = sdl ? parseSdl(sdl) : null;
    return parsed && "schema" in parsed ? parsed.schema : null; // none: GraphiQL asks the gateway (introspection)
  }, [sdl]);

  if (apps.state === "loading") return <Loading what="your applications" />;
  if (apps.state === "error") return <ErrorMessage error={apps.error} onRetry={reload} />;
  const keys: KeyChoice[] = apps.data.applications
    .filter((app) => app.subscriptions.some((s) => s.product === product && s.state === "approved"))
    .flatMap((app) => {
      const plan = app.subscriptions.find((s) => s.product === product && s.state === "approved")?.plan ?? "";
      return app.credentials
        .filter((c) => c.kind === "api_key" && !c.revokedAt && c.prefix)
        .map((c) => ({ id: c.id, prefix: c.prefix ?? "", plan, label: `${app.name}: ${c.name || "key"} (${c.prefix}…)` }));
    });
  if (keys.length === 0) {
    return (
      <Empty>
        <h2>Try it</h2>
        <p>
          None of your applications has an API key and an approved subscription to this product. Create a key in{" "}
          <Link to="/apps">Applications</Link> and subscribe on the Subscribe tab; once the product's team approves,
          come back here.
        </p>
      </Empty>
    );
  }
  const choice = keys.find((k) => String(k.id) === chosen);
  const remembered = choice ? vault.secretOf(choice.id) : undefined;
  const pastedFits = choice !== undefined && keyMatchesPrefix(pasted, choice.prefix);
  const apiKey = remembered ?? (pastedFits ? pasted : undefined);
  const endpoint = `/products/${encodeURIComponent(product)}/graphql`;

  return (
    <>
      <h2>Try it</h2>
      <p className="hint">
        Queries go to <code>{endpoint}</code>, the product's gateway, with your key: what you see is what your
        application gets.
      </p>
      <div className="form form-inline">
        <label>
          API key
          <select
            value={chosen}
            onChange={(e) => {
              setChosen(e.target.value);
              setExplanation(null);
            }}
          >
            <option value="">Choose one of your keys</option>
            {keys.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        {choice && !remembered ? (
          <label>
            Paste the key (its prefix is {choice.prefix})
            <input
              type="password"
              autoComplete="off"
              value={pasted}
              onChange={(e) => setPasted(e.target.value.trim())}
              aria-invalid={pasted !== "" && !pastedFits}
            />
          </label>
        ) : null}
      </div>
      {choice && !remembered && pasted !== "" && !pastedFits ? (
        <p role="alert" className="state state-error">
          That is not the key {choice.prefix}…: paste the whole key that was shown when it was created.
        </p>
      ) : null}
      {choice && !remembered && pasted === "" ? (
        <p className="hint">Keys are shown only once, when created; this tab remembers the ones created here.</p>
      ) : null}
      {choice?.plan ? <p className="hint">This key's application is subscribed under plan {choice.plan}.</p> : null}
      <p role="status" aria-live="polite" className={explanation ? "state state-error" : "visually-hidden"}>
        {explanation ?? ""}
      </p>
      {apiKey ? (
        <Suspense fallback={<Loading what="GraphiQL" />}>
          <GraphiQLPanel endpoint={endpoint} apiKey={apiKey} schema={schema} onAnswer={onAnswer} />
        </Suspense>
      ) : null}
    </>
  );
}
