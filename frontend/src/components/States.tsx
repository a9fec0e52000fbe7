// Loading, empty and error states, the same everywhere. An error says what went wrong and what to do.
import type { ReactNode } from "react";
import { ApiError, signInUrl } from "../lib/api";

export function Loading({ what }: { what: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/** What to do about an error of the admin API, by its code. */
export function adviceFor(error: ApiError): string {
  switch (error.code) {
    case "UNAUTHENTICATED":
      return "Your session has ended: sign in again.";
    case "FORBIDDEN":
      return "Your role does not allow this: ask a team admin or a platform admin.";
    case "NOT_FOUND":
      return "It may have been deleted, or it is not yours to see.";
    case "CONFLICT":
      return "It clashes with what is there now: change it as the message says, then try again.";
    case "NETWORK":
      return "Check your connection to the portal, then try again.";
    case "INTERNAL":
      return "The portal failed: try again, and tell its operators if it goes on.";
    default:
      return "Correct it and try again.";
  }
}

export function ErrorMessage({ error, onRetry }: { error: ApiError; onRetry?: () => void }) {
  return (
    <div className="state state-error" role="alert">
      <p>
        <strong>{error.message}</strong>
      </p>
      <p>{adviceFor(error)}</p>
      {error.code === "UNAUTHENTICATED" ? (
        <a href={signInUrl()}>Sign in</a>
      ) : onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
