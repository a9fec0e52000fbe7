"""The shop's inventory as a REST service described by OpenAPI 3.0: ``GET /inventory?upcs=1,2`` (batched entity
operation for Product) and ``GET /inventory/{upc}`` (a root field). Unknown UPCs answer 404."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from tests.stitcher.upstreams import data
from tests.stitcher.upstreams.app import JsonRestApp

OPENAPI = """
openapi: 3.0.3
info: {title: Inventory, version: "1.0"}
paths:
  /inventory:
    get:
      operationId: inventoryByUpcs
      parameters:
        - name: upcs
          in: query
          required: true
          style: form
          explode: false
          schema: {type: array, items: {type: string}}
      responses:
        "200":
          description: stock of each product, in the order asked
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Product"}}
  /inventory/{upc}:
    get:
      operationId: stock
      parameters:
        - {name: upc, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: stock of one product
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Product"}
        "404":
          description: unknown product
components:
  schemas:
    Product:
      type: object
      required: [upc]
      properties:
        upc: {type: string}
        inStock: {type: boolean}
"""


class InventoryApp(JsonRestApp):
    def answer(self, path: str, query: str) -> Any:
        if path == "/inventory":
            upcs = parse_qs(query).get("upcs", [""])[0].split(",")
            return [data.INVENTORY[u] for u in upcs if u in data.INVENTORY]
        return data.INVENTORY.get(path.removeprefix("/inventory/")) if path.startswith("/inventory/") else None
