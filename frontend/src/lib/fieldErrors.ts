// Putting an error of the admin API beside the form field it is about, from its structured location.
import type { ApiError } from "./api";

/** Whether `error` is about `field` (a path in the document, or an argument): the same path, or one inside it
 * (`spec.deployments[0]` covers `spec.deployments[0].address`). `document` (from 1) narrows it to one document
 * of a request that sent several. */
export function isAbout(error: ApiError | null | undefined, field: string, document?: number): boolean {
  const where = error?.location?.field;
  if (!where) return false;
  if (document !== undefined && error?.location?.document != null && error.location.document !== document) return false;
  return where === field || where.startsWith(`${field}.`) || where.startsWith(`${field}[`);
}

/** What to show beside `field`: the error's message without its place, or null when it is about another field. */
export function fieldError(error: ApiError | null | undefined, field: string, document?: number): string | null {
  return error && isAbout(error, field, document) ? error.detail : null;
}

/** Whether any of `fields` shows the error (else the page shows it on its own). */
export function placed(error: ApiError | null | undefined, fields: string[], document?: number): boolean {
  return fields.some((field) => isAbout(error, field, document));
}
