// What the signed-in user may act on, from their memberships. The UI hides what they may not do; the admin API
// refuses it anyway (the browser tests check both).
export interface Membership {
  team: string | null;
  role: string;
}

export interface Viewer {
  name: string;
  displayName: string;
  memberships: Membership[];
}

export function isPlatformAdmin(viewer: Viewer): boolean {
  return viewer.memberships.some((m) => m.team === null && m.role === "platform-admin");
}

/** Approve, reject or revoke a subscription to a product of `team`: its team admins and platform admins. */
export function canDecideFor(viewer: Viewer, team: string | undefined): boolean {
  if (isPlatformAdmin(viewer)) return true;
  return team !== undefined && viewer.memberships.some((m) => m.team === team && m.role === "team-admin");
}

/** Teams an application may be shared with: those the user belongs to (the API refuses others). */
export function teamsOf(viewer: Viewer): string[] {
  const teams = viewer.memberships.map((m) => m.team).filter((t): t is string => t !== null);
  return [...new Set(teams)].sort();
}

/** A short label of the user's standing, shown beside their name. */
export function roleLabel(viewer: Viewer): string {
  if (isPlatformAdmin(viewer)) return "platform admin";
  if (viewer.memberships.length === 0) return "consumer";
  return viewer.memberships.map((m) => (m.team ? `${m.role} of ${m.team}` : m.role)).join(", ");
}
