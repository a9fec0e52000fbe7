"""The shop's inventory as a REST service described by OpenAPI 3.0: ``GET /inventory?upcs=1,2`` (batched entity
operation for Product) and ``GET /inventory/{upc}`` (a root field). Unknown UPCs answer 404."""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson

from tests.stitcher.upstreams import data
from tests.stitcher.upstreams.app import Receive, Scope, Send, read_body, respond

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


class InventoryApp:
    def __init__(self) -> None:
        self.requests = 0
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        self.requests += 1
        path: str = scope["path"]
        self.paths.append(path + ("?" + scope["query_string"].decode() if scope["query_string"] else ""))
        if path == "/inventory":
            upcs = parse_qs(scope["query_string"].decode()).get("upcs", [""])[0].split(",")
            body = [data.INVENTORY[u] for u in upcs if u in data.INVENTORY]
            await respond(send, 200, orjson.dumps(body))
        elif path.startswith("/inventory/") and path.removeprefix("/inventory/") in data.INVENTORY:
            await respond(send, 200, orjson.dumps(data.INVENTORY[path.removeprefix("/inventory/")]))
        else:
            await respond(send, 404, orjson.dumps({"message": f"no product at {path}"}))
