// A subscription's use of its plan's limit, in words.

export interface Usage {
  known: boolean;
  reason?: string | null;
  used?: number | null;
  limit: number;
  windowSeconds: number;
  resetsInSeconds?: number | null;
}

/** "2 of 3 per 60 s, the window ends in 41 s", or the limit and why the use is not known. */
export function usageText(usage: Usage): string {
  const limit = `${usage.limit} per ${usage.windowSeconds} s`;
  if (!usage.known) return `limit ${limit}; use not known: ${usage.reason ?? "the portal cannot read the gateway's counter"}`;
  const used = usage.used ?? 0;
  if (used === 0 || usage.resetsInSeconds == null) return `${used} of ${limit}`;
  const left = Math.max(1, Math.ceil(usage.resetsInSeconds));
  return `${used} of ${limit}${used >= usage.limit ? ", limit reached" : ""}; the window ends in ${left} s`;
}
