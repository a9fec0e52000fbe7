// The audit log's summaries: typed entries (`{key, value}`, lists and mappings as compact JSON), shown as one line.

export interface AuditDetail {
  key: string;
  value: string;
}

/** A short, readable line of an event's summary. */
export function summaryText(details: AuditDetail[]): string {
  return details
    .filter((d) => d.value !== "")
    .map((d) => `${d.key}: ${d.value}`)
    .join(", ");
}

/** The ISO instant of a `datetime-local` input's value (the browser's own zone), or null when it is empty. */
export function instantOf(local: string): string | null {
  if (!local.trim()) return null;
  const moment = new Date(local);
  return Number.isNaN(moment.getTime()) ? null : moment.toISOString();
}
