import { useCallback, useEffect, useState } from "react";
import type { TypedDocumentString } from "../gql/graphql";
import { ApiError, request } from "./api";

export type Loadable<R> =
  | { state: "loading" }
  | { state: "error"; error: ApiError }
  | { state: "done"; data: R };

/** Runs a query when the component mounts and whenever its variables change; `reload` runs it again. */
export function useQuery<R, V>(document: TypedDocumentString<R, V>, variables?: V): [Loadable<R>, () => void] {
  const [result, setResult] = useState<Loadable<R>>({ state: "loading" });
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(variables ?? {});
  useEffect(() => {
    let current = true;
    request(document, JSON.parse(key) as V)
      .then((data) => current && setResult({ state: "done", data }))
      .catch((error: unknown) => {
        if (!current) return;
        const apiError = error instanceof ApiError ? error : new ApiError(String(error), "INTERNAL");
        setResult({ state: "error", error: apiError });
      });
    return () => {
      current = false;
    };
  }, [document, key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return [result, reload];
}

/** A mutation's state for a form: what it is doing and the last error, beside the function that runs it. */
export function useMutation<R, V>(document: TypedDocumentString<R, V>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(
    async (variables: V): Promise<R | null> => {
      setBusy(true);
      setError(null);
      try {
        return await request(document, variables);
      } catch (caught) {
        setError(caught instanceof ApiError ? caught : new ApiError(String(caught), "INTERNAL"));
        return null;
      } finally {
        setBusy(false);
      }
    },
    [document],
  );
  return { run, busy, error, clearError: () => setError(null) };
}
