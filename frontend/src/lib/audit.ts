// The audit log's summaries are free-form JSON; the table shows them as one line.

/** A short, readable line of an event's summary (it is free-form JSON). */
export function summaryText(summary: unknown): string {
  if (!summary || typeof summary !== "object") return "";
  return Object.entries(summary as Record<string, unknown>)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
    .join(", ");
}
