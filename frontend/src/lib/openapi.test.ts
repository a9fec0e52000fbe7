import { describe, expect, it } from "vitest";
import { operationBehind, routesOf } from "./openapi";

const doc = {
  openapi: "3.1.0",
  servers: [{ url: "/products/people/rest" }],
  paths: {
    "/members/{id}": {
      get: {
        operationId: "get_members_id_1",
        summary: "GraphQL operation of product people",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: { "200": { description: "data" }, "429": { description: "limited" } },
      },
    },
    "/holds": {
      post: {
        operationId: "post_holds",
        requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/HoldInput" } } } },
        responses: {},
      },
    },
  },
};

describe("the REST reference", () => {
  it("lists every route with its parameters, body and responses", () => {
    const { base, routes } = routesOf(doc);
    expect(base).toBe("/products/people/rest");
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /members/{id}", "POST /holds"]);
    expect(routes[0]?.parameters).toEqual([{ name: "id", in: "path", required: true, type: "string" }]);
    expect(routes[0]?.responses.map((r) => r.status)).toEqual(["200", "429"]);
    expect(routes[1]?.body).toBe("HoldInput");
    expect(routesOf("not a document")).toEqual({ base: "", routes: [] });
  });

  it("finds the GraphQL operation behind a route", () => {
    const rest = [{ method: "GET", path: "/members/{id}", operation: "query($id: ID!) { member(id: $id) { id } }" }];
    expect(operationBehind(rest, "GET", "/members/{id}")).toContain("member(id: $id)");
    expect(operationBehind(rest, "POST", "/members/{id}")).toBeNull();
    expect(operationBehind([], "GET", "/x")).toBeNull();
  });
});
