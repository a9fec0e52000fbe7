import { describe, expect, it } from "vitest";
import { canDecideFor, isPlatformAdmin, roleLabel, teamsOf, type Viewer } from "./roles";

const viewer = (...memberships: Viewer["memberships"]): Viewer => ({ name: "u", displayName: "", memberships });

describe("roles", () => {
  it("let a product's team admins and platform admins decide, nobody else", () => {
    const admin = viewer({ team: null, role: "platform-admin" });
    const teamAdmin = viewer({ team: "identity", role: "team-admin" });
    const member = viewer({ team: "identity", role: "team-member" });
    const platformViewer = viewer({ team: null, role: "viewer" });
    expect(canDecideFor(admin, "identity")).toBe(true);
    expect(canDecideFor(teamAdmin, "identity")).toBe(true);
    expect(canDecideFor(teamAdmin, "storefront")).toBe(false);
    expect(canDecideFor(teamAdmin, undefined)).toBe(false);
    expect(canDecideFor(member, "identity")).toBe(false);
    expect(canDecideFor(platformViewer, "identity")).toBe(false);
    expect(canDecideFor(viewer(), "identity")).toBe(false);
    expect(isPlatformAdmin(platformViewer)).toBe(false);
  });

  it("name the teams an application may be shared with, and the user's standing", () => {
    const user = viewer({ team: "b", role: "team-member" }, { team: "a", role: "viewer" }, { team: null, role: "viewer" });
    expect(teamsOf(user)).toEqual(["a", "b"]);
    expect(roleLabel(viewer())).toBe("consumer");
    expect(roleLabel(viewer({ team: null, role: "platform-admin" }))).toBe("platform admin");
    expect(roleLabel(viewer({ team: "a", role: "team-admin" }))).toBe("team-admin of a");
  });
});
