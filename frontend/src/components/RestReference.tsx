import { useEffect, useState } from "react";
import { operationBehind, routesOf, type RestRoute, type Route } from "../lib/openapi";
import { Empty, Loading } from "./States";

type Loaded = { state: "loading" } | { state: "error"; message: string } | { state: "done"; base: string; routes: Route[] };

/** The product's REST routes, from the openapi.json its gateway serves (public: it needs no key). */
export function RestReference({ product, rest }: { product: string; rest: RestRoute[] }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: "loading" });
  const [attempt, setAttempt] = useState(0);
  const url = `/products/${encodeURIComponent(product)}/openapi.json`;
  useEffect(() => {
    let current = true;
    setLoaded({ state: "loading" });
    fetch(url, { credentials: "omit", headers: { accept: "application/json" } })
      .then(async (response) => {
        const body: unknown = await response.json().catch(() => null);
        if (!current) return;
        if (!response.ok) {
          const errors = (body as { errors?: { message?: string }[] } | null)?.errors;
          setLoaded({ state: "error", message: errors?.[0]?.message ?? `the gateway answered ${response.status}` });
          return;
        }
        setLoaded({ state: "done", ...routesOf(body) });
      })
      .catch(() => current && setLoaded({ state: "error", message: "the gateway could not be reached" }));
    return () => {
      current = false;
    };
  }, [url, attempt]);

  if (loaded.state === "loading") return <Loading what="the REST reference" />;
  if (loaded.state === "error") {
    return (
      <div className="state state-error" role="alert">
        <p>
          <strong>The REST reference could not be read: {loaded.message}.</strong>
        </p>
        <p>A product is described once its gateway serves it (a published or deprecated version).</p>
        <button type="button" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </div>
    );
  }
  if (loaded.routes.length === 0) {
    return (
      <Empty>
        <h2>REST</h2>
        <p>This product has no REST routes: use GraphQL.</p>
      </Empty>
    );
  }
  return (
    <>
      <h2>REST</h2>
      <p className="hint">
        Under <code>{loaded.base}</code>, with the same key and plan as GraphQL. The description:{" "}
        <a href={url}>openapi.json</a>.
      </p>
      {loaded.routes.map((route) => {
        const operation = operationBehind(rest, route.method, route.path);
        return (
          <article key={`${route.method} ${route.path}`} className="schema-type" aria-label={`${route.method} ${route.path}`}>
            <h3>
              <span className="badge badge-published">{route.method}</span> <code>{loaded.base + route.path}</code>
            </h3>
            {route.parameters.length > 0 ? (
              <ul className="fields">
                {route.parameters.map((p) => (
                  <li key={`${p.in}:${p.name}`}>
                    <code>{p.name}</code> in {p.in}: {p.type}
                    {p.required ? ", required" : ""}
                  </li>
                ))}
              </ul>
            ) : null}
            {route.body ? <p>Body: {route.body} (JSON)</p> : null}
            {operation ? (
              <p>
                Runs <code>{operation}</code>
              </p>
            ) : null}
            <p className="hint">Answers {route.responses.map((r) => r.status).join(", ")}</p>
          </article>
        );
      })}
    </>
  );
}
