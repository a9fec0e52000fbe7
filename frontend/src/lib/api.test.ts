import { describe, expect, it } from "vitest";
import { errorOf, signInUrl } from "./api";

describe("errors of the admin API", () => {
  it("carry the code and the field to fix", () => {
    const error = errorOf(200, {
      data: null,
      errors: [{ message: "name taken", extensions: { code: "CONFLICT", field: "name" } }],
    });
    expect(error).toMatchObject({ message: "name taken", code: "CONFLICT", field: "name" });
  });

  it("read the cross-site guard's refusal and anything unreadable", () => {
    expect(errorOf(403, { error: { code: "FORBIDDEN", message: "cross-site request refused" } })).toMatchObject({
      code: "FORBIDDEN",
      message: "cross-site request refused",
    });
    expect(errorOf(502, null)).toMatchObject({ code: "INTERNAL", message: expect.stringContaining("502") });
    expect(errorOf(200, { data: { me: null } })).toBeNull();
  });

  it("send to sign in and back", () => {
    expect(signInUrl("/")).toBe("/login");
    expect(signInUrl("/catalog/library?tab=try")).toBe("/login?next=%2Fcatalog%2Flibrary%3Ftab%3Dtry");
  });
});

describe("a pasted key", () => {
  it("matches the prefix the API shows, and nothing else", async () => {
    const { keyMatchesPrefix } = await import("./api");
    expect(keyMatchesPrefix("lk_64b1cfbc_aftMCCr9", "64b1cfbc")).toBe(true);
    expect(keyMatchesPrefix("lk_64b1cfbd_aftMCCr9", "64b1cfbc")).toBe(false);
    expect(keyMatchesPrefix("lk_wrong", "64b1cfbc")).toBe(false);
    expect(keyMatchesPrefix("anything", "")).toBe(false);
  });
});
