import { GraphiQL } from "graphiql";
import "graphiql/graphiql.css";
import type { GraphQLSchema } from "graphql";
import { useMemo } from "react";

type FetcherParams = { query: string; operationName?: string | null; variables?: unknown };

/** GraphiQL sending every request to `endpoint` with the key; the session cookie is not sent (the gateway
 * authenticates the key alone). With a schema it needs no introspection, which a gateway may turn off. */
export default function GraphiQLPanel({
  endpoint,
  apiKey,
  schema,
}: {
  endpoint: string;
  apiKey: string;
  schema: GraphQLSchema | null;
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
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return { errors: [{ message: `the gateway answered ${response.status}: ${text.slice(0, 500)}` }] };
      }
    },
    [endpoint, apiKey],
  );
  return (
    <div className="graphiql-frame">
      <GraphiQL
        fetcher={fetcher as never}
        schema={schema ?? undefined}
        defaultQuery={"# Write a query, then press the run button (or Ctrl-Enter)\n{\n  __typename\n}\n"}
        shouldPersistHeaders={false}
        isHeadersEditorEnabled={false}
        storage={memoryStorage()}
      />
    </div>
  );
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
