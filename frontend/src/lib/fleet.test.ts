import { describe, expect, it } from "vitest";
import { ALL, filterRows, fleetRows, upstreamHealth } from "./fleet";

const endpoint = (cluster: string, healthy: boolean, ejected = false) => ({
  cluster,
  address: `10.0.0.1:80`,
  priority: 0,
  healthy,
  ejected,
});

describe("the fleet table", () => {
  it("says how each upstream is served", () => {
    const base = { upstream: "members-eu", service: "members", serving: "eu-central", failedOver: false };
    expect(upstreamHealth({ ...base, endpoints: [endpoint("eu-central", true)] })).toBe("members: served by eu-central");
    expect(
      upstreamHealth({ ...base, serving: "eu-west", failedOver: true, endpoints: [endpoint("eu-central", false, true)] }),
    ).toBe("members: failed over to eu-west (1 ejected)");
    expect(upstreamHealth({ ...base, service: null, serving: null, endpoints: [endpoint("a", false)] })).toBe(
      "members-eu: nothing healthy (1 unhealthy)",
    );
  });

  it("has a row per product and cluster, and filters them", () => {
    const product = (name: string, cluster: string, verdict: string, failedOver = false) => ({
      product: name,
      cluster,
      verdict,
      reason: verdict === "Rejected" ? "domain taken" : "",
      appliedGeneration: 3,
      upstreams: [{ upstream: "u", serving: "x", failedOver, endpoints: [] }],
    });
    const rows = fleetRows([
      { products: [product("people", "eu", "Rejected"), product("books", "eu", "Accepted")] },
      { products: [product("people", "us", "Accepted", true)] },
    ]);
    expect(rows.map((r) => [r.cluster, r.product, r.problem])).toEqual([
      ["eu", "people", true],
      ["eu", "books", false],
      ["us", "people", true],
    ]);
    expect(filterRows(rows, { ...ALL, verdict: "Rejected" }).map((r) => r.reason)).toEqual(["domain taken"]);
    expect(filterRows(rows, { ...ALL, product: "people", problemsOnly: true })).toHaveLength(2);
    expect(filterRows(rows, { ...ALL, cluster: "us", verdict: "Rejected" })).toEqual([]);
  });
});
