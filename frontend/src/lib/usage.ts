// A subscription's use of its plan's limit, in words.

import { durationText, windowText } from "./durations";

export interface Usage {
  known: boolean;
  reason?: string | null;
  used?: number | null;
  limit: number;
  windowSeconds: number;
  resetsInSeconds?: number | null;
}

/** "2 of 3 per minute; the window ends in 41 s", or the limit and why the use is not known. */
export function usageText(usage: Usage): string {
  const limit = `${usage.limit} per ${windowText(usage.windowSeconds)}`;
  if (!usage.known) return `limit ${limit}; use not known: ${usage.reason ?? "the portal cannot read the gateway's counter"}`;
  const used = usage.used ?? 0;
  // The gateway counts the requests it refuses too: past the limit, say how many it refused, not "3 of 2".
  const refused = used - usage.limit;
  let text = `${Math.min(used, usage.limit)} of ${limit}`;
  if (refused > 0) text += `, limit reached (${refused} more refused with 429)`;
  else if (refused === 0) text += ", limit reached";
  if (used > 0 && usage.resetsInSeconds != null) {
    text += `; the window ends in ${durationText(usage.resetsInSeconds)}`;
  }
  return text;
}
