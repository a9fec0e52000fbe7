// The UI's one way to the portal: POST /api/graphql with the session cookie. The browser adds
// Sec-Fetch-Site: same-origin, which is what the portal's cross-site guard lets through (no token to manage).
import type { TypedDocumentString } from "../gql/graphql";
import { durationText } from "./durations";

export const API_PATH = "/api/graphql";

/** Where an error is, in parts (the admin API's `extensions.location`): the file (or "request"), the document's
 * number in it (from 1), its kind and name, and the field path in it (`spec.deployments[0].cluster`) or the
 * argument. Each is null when the API does not know it. */
export interface ErrorLocation {
  file: string | null;
  document: number | null;
  kind: string | null;
  name: string | null;
  field: string | null;
}

/** An error the UI can say something useful about: the admin API's code and, when it knows, the field to fix. */
export class ApiError extends Error {
  readonly code: string;
  readonly field: string | undefined;
  readonly location: ErrorLocation | undefined;
  /** The message without the place (for showing beside the field it is about). */
  readonly detail: string;
  /** "egress-guard" when the portal's SSRF guard refused a URL. */
  readonly refusedBy: string | undefined;

  constructor(
    message: string,
    code: string,
    field?: string,
    location?: ErrorLocation,
    detail?: string,
    refusedBy?: string,
  ) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.field = field;
    this.location = location;
    this.detail = detail ?? message;
    this.refusedBy = refusedBy;
  }
}

interface GraphQLErrorJson {
  message?: unknown;
  extensions?: { code?: unknown; field?: unknown; location?: unknown; detail?: unknown; refusedBy?: unknown };
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** `extensions.location`, read defensively (errors come from the guard and proxies too). */
export function locationOf(value: unknown): ErrorLocation | undefined {
  if (!value || typeof value !== "object") return undefined;
  const v = value as Record<string, unknown>;
  return {
    file: text(v.file),
    document: typeof v.document === "number" ? v.document : null,
    kind: text(v.kind),
    name: text(v.name),
    field: text(v.field),
  };
}

/** The first error of an answer from /api/graphql (or its guard), or null when it carries none. */
export function errorOf(status: number, body: unknown): ApiError | null {
  if (body && typeof body === "object") {
    const guard = (body as { error?: { code?: unknown; message?: unknown } }).error;
    if (guard && typeof guard.message === "string") {
      return new ApiError(guard.message, typeof guard.code === "string" ? guard.code : "INVALID");
    }
    const errors = (body as { errors?: GraphQLErrorJson[] }).errors;
    const first = Array.isArray(errors) ? errors[0] : undefined;
    if (first) {
      const code = typeof first.extensions?.code === "string" ? first.extensions.code : "INVALID";
      const field = typeof first.extensions?.field === "string" ? first.extensions.field : undefined;
      const message = typeof first.message === "string" ? first.message : "the request failed";
      const detail = typeof first.extensions?.detail === "string" ? first.extensions.detail : undefined;
      const refusedBy = typeof first.extensions?.refusedBy === "string" ? first.extensions.refusedBy : undefined;
      return new ApiError(message, code, field, locationOf(first.extensions?.location), detail, refusedBy);
    }
    if ("data" in body && status < 400) return null;
  }
  return new ApiError(`the portal answered ${status} with nothing the UI can read: try again`, "INTERNAL");
}

export async function request<R, V>(document: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  let response: Response;
  try {
    response = await fetch(API_PATH, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    });
  } catch {
    throw new ApiError("the portal could not be reached: check that it is running and try again", "NETWORK");
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = errorOf(response.status, body);
  if (error) throw error;
  return (body as { data: R }).data;
}

/** Where to sign in again and come back to the page one is on. */
export function signInUrl(path: string = window.location.pathname + window.location.search): string {
  return path === "/" ? "/login" : `/login?next=${encodeURIComponent(path)}`;
}

/** Ends the session server-side, then goes to the sign-in page. */
export async function signOut(): Promise<void> {
  await fetch("/logout", { method: "POST", credentials: "same-origin", headers: { accept: "application/json" } });
  window.location.assign("/login");
}

/** Whether a pasted API key is the one whose prefix the API shows (keys read `lk_<prefix>_<secret>`). */
export function keyMatchesPrefix(key: string, prefix: string): boolean {
  return prefix !== "" && (key.startsWith(`lk_${prefix}_`) || key.startsWith(prefix));
}

/** When to try again by a Retry-After header: its seconds as "in 1 min 30 s", an HTTP date as "after <date>". */
function retryAfterText(retryAfter: string): string {
  return /^\d+$/.test(retryAfter.trim()) ? `in ${durationText(Number(retryAfter))}` : `after ${retryAfter}`;
}

/** Whether to say when to try again: not when the gateway's message says it already ("retry in 59 min 58 s"); an
 * older gateway said it in seconds ("retry after 3598 s"), which needs saying again from a minute on. */
function tellsTheWait(message: string, retryAfter: string): boolean {
  if (/retry in /i.test(message)) return false;
  return !/retry after/i.test(message) || Number(retryAfter) >= 60;
}

/** What a gateway answer means for the person trying the API, or null when it is a plain success. */
export function explainGatewayAnswer(status: number, body: unknown, retryAfter: string | null): string | null {
  const errors = body && typeof body === "object" ? (body as { errors?: { message?: unknown }[] }).errors : undefined;
  const message = Array.isArray(errors) && typeof errors[0]?.message === "string" ? errors[0].message : "";
  switch (status) {
    case 200:
      return null;
    case 429:
      return (
        `429 Too Many Requests: ${message || "the plan's rate limit is reached"}. ` +
        `${retryAfter && tellsTheWait(message, retryAfter) ? `Try again ${retryAfterText(retryAfter)}. ` : ""}` +
        "The limit counts every request of all your applications on this plan and product; a bigger plan raises it."
      );
    case 401:
      return `401 Unauthorized: ${message || "the gateway does not know this key"}. Check the key, or create a new one.`;
    case 403:
      return `403 Forbidden: ${message || "this key may not call this product"}. See the Subscribe tab.`;
    default:
      return `${status}: ${message || "the gateway refused the request"}.`;
  }
}
