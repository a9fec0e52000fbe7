"""Delivery times keyed by the compound key ``sku vendor`` (each also gives the ``upc``, so composition can reach
the product's other fields), as a plain GraphQL service and as a REST service.

The plain service offers both ways a compound key reaches a plain resolver: one argument per key field
(``delivery(sku:, vendor:)``, one entity per call) and one list of input objects (``deliveries(keys:)``, batched).
The REST service takes each key field as a path parameter: ``GET /deliveries/{vendor}/{sku}``.
"""

from __future__ import annotations

from typing import Any

from graphql import build_schema

from tests.stitcher.upstreams import data
from tests.stitcher.upstreams.app import GraphQLApp, JsonRestApp

GRAPHQL_SDL = """
type Query {
  delivery(sku: String!, vendor: String!): Product
  deliveries(keys: [ProductKey!]!): [Product]!
}

input ProductKey {
  sku: String!
  vendor: String!
}

type Product {
  upc: String!
  sku: String!
  vendor: String!
  deliveryDays: Int
}
"""

OPENAPI = """
openapi: 3.1.0
info: {title: Deliveries, version: "1.0"}
paths:
  /deliveries/{vendor}/{sku}:
    get:
      operationId: getDelivery
      parameters:
        - {name: vendor, in: path, required: true, schema: {type: string}}
        - {name: sku, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: delivery time of one product
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Product"}
        "404":
          description: no such product
components:
  schemas:
    Product:
      type: object
      required: [upc, sku, vendor]
      properties:
        upc: {type: string}
        sku: {type: string}
        vendor: {type: string}
        deliveryDays: {type: [integer, "null"]}
"""

_UPCS = {(p["sku"], p["vendor"]): p["upc"] for p in data.PRODUCTS.values()}


def delivery(sku: str, vendor: str) -> dict[str, Any] | None:
    upc = _UPCS.get((sku, vendor))
    if upc is None:
        return None
    return {"upc": upc, "sku": sku, "vendor": vendor, "deliveryDays": data.DELIVERY_DAYS.get((sku, vendor))}


def graphql_app() -> GraphQLApp:
    root = {
        "delivery": lambda _info, sku, vendor: delivery(sku, vendor),
        "deliveries": lambda _info, keys: [delivery(k["sku"], k["vendor"]) for k in keys],
    }
    return GraphQLApp(build_schema(GRAPHQL_SDL), root)


class RestApp(JsonRestApp):
    def answer(self, path: str, query: str) -> Any:
        parts = path.strip("/").split("/")
        return delivery(parts[2], parts[1]) if len(parts) == 3 and parts[0] == "deliveries" else None
