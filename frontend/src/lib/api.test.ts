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

describe("a gateway answer", () => {
  it("is explained for 429, 401 and 403, and silent on success", async () => {
    const { explainGatewayAnswer } = await import("./api");
    const limited = { errors: [{ message: "plan 'trial' allows 2 requests per 60 s; retry after 42 s" }] };
    expect(explainGatewayAnswer(429, limited, "42")).toBe(
      "429 Too Many Requests: plan 'trial' allows 2 requests per 60 s; retry after 42 s. " +
        "The limit counts every request of all your applications on this plan and product; a bigger plan raises it.",
    );
    expect(explainGatewayAnswer(429, null, "7")).toContain("the plan's rate limit is reached. Try again in 7 s.");
    const hourly = { errors: [{ message: "plan 'sample' allows 2 requests per 3600 s; retry after 3598 s" }] };
    expect(explainGatewayAnswer(429, hourly, "3598")).toBe(
      "429 Too Many Requests: plan 'sample' allows 2 requests per 3600 s; retry after 3598 s. Try again in 59 min 58 s. " +
        "The limit counts every request of all your applications on this plan and product; a bigger plan raises it.",
    );
    const worded = { errors: [{ message: "plan 'sample' allows 2 requests per hour; retry in 59 min 58 s" }] };
    expect(explainGatewayAnswer(429, worded, "3598")).toBe(
      "429 Too Many Requests: plan 'sample' allows 2 requests per hour; retry in 59 min 58 s. " +
        "The limit counts every request of all your applications on this plan and product; a bigger plan raises it.",
    );
    expect(explainGatewayAnswer(429, null, "3599")).toContain("the plan's rate limit is reached. Try again in 59 min 59 s.");
    expect(explainGatewayAnswer(429, null, "Fri, 04 Dec 2026 15:00:00 GMT")).toContain(
      "Try again after Fri, 04 Dec 2026 15:00:00 GMT.",
    );
    expect(explainGatewayAnswer(403, { errors: [{ message: "no subscription" }] }, null)).toContain("Subscribe tab");
    expect(explainGatewayAnswer(401, null, null)).toContain("does not know this key");
    expect(explainGatewayAnswer(200, { data: {} }, null)).toBeNull();
    expect(explainGatewayAnswer(502, "x", null)).toBe("502: the gateway refused the request.");
  });
});

describe("an error's location", () => {
  const located = errorOf(200, {
    data: null,
    errors: [
      {
        message: "request: document 1 (Service/books): spec.deployments[0].address: loopback is not allowed",
        extensions: {
          code: "FORBIDDEN",
          field: "request: document 1 (Service/books): spec.deployments[0].address",
          location: { file: "request", document: 1, kind: "Service", name: "books", field: "spec.deployments[0].address" },
          detail: "loopback is not allowed",
        },
      },
    ],
  });

  it("is read in parts, with the message without the place", () => {
    expect(located?.location).toEqual({
      file: "request",
      document: 1,
      kind: "Service",
      name: "books",
      field: "spec.deployments[0].address",
    });
    expect(located?.detail).toBe("loopback is not allowed");
    expect(errorOf(200, { errors: [{ message: "x", extensions: { code: "INVALID" } }] })?.detail).toBe("x");
  });

  it("puts the error beside its field, or a field that holds it, in its document", async () => {
    const { fieldError, isAbout, placed } = await import("./fieldErrors");
    expect(fieldError(located, "spec.deployments[0].address")).toBe("loopback is not allowed");
    expect(isAbout(located, "spec.deployments[0]")).toBe(true);
    expect(isAbout(located, "spec.deployments")).toBe(true);
    expect(isAbout(located, "spec.deployments[1]")).toBe(false);
    expect(isAbout(located, "spec.deploy")).toBe(false);
    expect(isAbout(located, "spec.deployments[0].address", 2)).toBe(false);
    expect(placed(located, ["metadata.name", "spec.deployments[0].address"])).toBe(true);
    expect(fieldError(null, "x")).toBeNull();
  });
});
