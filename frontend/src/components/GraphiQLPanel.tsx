import { GraphiQL } from "graphiql";
import "graphiql/graphiql.css";
import type { GraphQLSchema } from "graphql";
import { useEffect, useMemo, useRef } from "react";

type FetcherParams = { query: string; operationName?: string | null; variables?: unknown };

/** GraphiQL sending every request to `endpoint` with the key; the session cookie is not sent (the gateway
 * authenticates the key alone). With a schema it needs no introspection, which a gateway may turn off. */
export default function GraphiQLPanel({
  endpoint,
  apiKey,
  schema,
  onAnswer,
}: {
  endpoint: string;
  apiKey: string;
  schema: GraphQLSchema | null;
  onAnswer?: (status: number, body: unknown, retryAfter: string | null) => void;
}) {
  const fetcher = useMemo(
    () => async (params: FetcherParams) => {
      const response = await fetch(endpoint, {
        method: "POST",
        credentials: "omit",
        headers: { "content-type": "application/json", accept: "application/json", "x-api-key": apiKey },
        body: JSON.stringify(params),
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = { errors: [{ message: `the gateway answered ${response.status}: ${text.slice(0, 500)}` }] };
      }
      onAnswer?.(response.status, body, response.headers.get("retry-after"));
      return body;
    },
    [endpoint, apiKey, onAnswer],
  );
  const frame = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const root = frame.current;
    if (!root) return;
    labelEditors(root);
    const observer = new MutationObserver(() => labelEditors(root));
    observer.observe(root, { childList: true, subtree: true });
    observer.observe(document.body, { childList: true }); // CodeMirror's suggestion list is appended to <body>
    return () => observer.disconnect();
  }, []);
  return (
    <div className="graphiql-frame" ref={frame}>
      <GraphiQL
        forcedTheme="light"
        fetcher={fetcher as never}
        schema={schema ?? undefined}
        defaultQuery={"# Ctrl-Enter runs it\n{\n  __typename\n}\n"}
        shouldPersistHeaders={false}
        isHeadersEditorEnabled={false}
        storage={memoryStorage()}
      />
    </div>
  );
}

// CodeMirror's hidden textareas and suggestion list have no accessible name; screen readers need one.
function labelEditors(root: HTMLElement) {
  const name = (element: Element, label: string) => {
    if (!element.hasAttribute("aria-label")) element.setAttribute("aria-label", label);
  };
  root.querySelectorAll(".graphiql-query-editor textarea").forEach((t) => name(t, "GraphQL query"));
  root.querySelectorAll(".graphiql-response textarea").forEach((t) => name(t, "Response"));
  root.querySelectorAll(".graphiql-editor-tool textarea").forEach((t) => name(t, "Variables"));
  root.querySelectorAll("textarea").forEach((t) => name(t, "Editor"));
  document.querySelectorAll(".CodeMirror-hints").forEach((list) => name(list, "Suggestions"));
}

// GraphiQL keeps tabs and history in localStorage by default; here every product starts clean and nothing of a
// query (which may carry data) outlives the tab.
function memoryStorage() {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
    clear: () => items.clear(),
    get length() {
      return items.size;
    },
  };
}
