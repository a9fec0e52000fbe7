"""Composition at scale: how long composing one big source takes, and how that grows with the source's size.

Run with ``python -m bench.compose_scale`` (``make bench-compose``). The sources are generated here (no public
schema is copied): a GitHub-like GraphQL schema (entities implementing ``Node``, connections, edges, order inputs
and enums, mutations with input and payload types, descriptions, deprecations) of 200 to 3,200 types, as SDL, as an
introspection result and as a Federation subgraph; and an OpenAPI 3.0 spec of 0.2 to 3.6 MB (components with
``$ref``, ``allOf``, ``oneOf`` with a discriminator, enums, paths with parameters and bodies), as YAML and JSON.

Per case it reports the CPU time of ``compose([spec])`` in-process (the median of ``--repeat`` runs, after one
warm-up), the size, and the growth exponent against the previous size (1.0 is linear: twice the size, twice the
time). The target of issue 10 is under 1 s for the largest public schemas (GitHub's 1,623 types; a 3 MB spec).
``--profile CASE`` prints cProfile's top functions for one case (e.g. ``--profile sdl:1600``). No timing here is
asserted anywhere.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import math
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml
from graphql import build_schema, introspection_from_schema

from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec

TYPE_COUNTS = (200, 400, 800, 1600, 3200)
SPEC_OPERATIONS = (240, 480, 960, 1920, 3840)  # about 0.2, 0.45, 0.9, 1.8 and 3.6 MB of YAML
# GitHub's schema (1,623 types) and a 3 MB spec (OpenAI's, PagerDuty's): the cases issue 10 wants under 1 s
TARGET_CASES = ("sdl:1600", "introspection:1600", "federation:1600", "openapi-json:1920", "openapi-yaml:1920")
TYPES_PER_ENTITY = 8  # entity, connection, edge, order input, order field enum, state enum, create input, payload


def graphql_sdl(types: int, *, federation: bool = False) -> str:
    """A GitHub-like schema with about ``types`` types."""
    entities = max(1, (types - 4) // TYPES_PER_ENTITY)
    link = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])\n\n'
        if federation
        else ""
    )
    parts = [
        link + '"An object with an ID."\ninterface Node {\n  "The ID of the object."\n  id: ID!\n}',
        "type PageInfo {\n  endCursor: String\n  hasNextPage: Boolean!\n  hasPreviousPage: Boolean!\n"
        "  startCursor: String\n}",
        'scalar DateTime @specifiedBy(url: "https://www.rfc-editor.org/rfc/rfc3339")',
        "enum OrderDirection {\n  ASC\n  DESC\n}",
    ]
    query: list[str] = ['  "Fetches an object given its ID."\n  node(id: ID!): Node']
    mutation: list[str] = []
    for i in range(entities):
        name = f"Entity{i}"
        other = f"Entity{(i * 7 + 3) % entities}"
        key = ' @key(fields: "id")' if federation else ""
        parts.append(
            f'"""\nAn entity of kind {i}: it has an owner, a state, timestamps\n'
            'and a connection to other entities.\n"""\n'
            f"type {name} implements Node{key} {{\n"
            '  "The ID of the object."\n  id: ID!\n'
            f'  databaseId: Int @deprecated(reason: "Use `{name}.fullDatabaseId` instead.")\n'
            "  fullDatabaseId: String\n  name: String!\n  description: String\n"
            "  createdAt: DateTime!\n  updatedAt: DateTime!\n"
            f"  state: {name}State!\n  url: String!\n"
            f"  parent: {other}\n"
            f"  related(first: Int, after: String, last: Int, before: String, orderBy: {other}Order = "
            f"{{field: CREATED_AT, direction: ASC}}): {other}Connection!\n"
            "  viewerCanUpdate: Boolean!\n"
            + "".join(
                f'  "The {word} of this entity, as the service records it; null when it was never set."\n'
                f"  {word}{j}: {kind}\n"
                for j, (word, kind) in enumerate(_EXTRA_FIELDS)
            )
            + "}"
        )
        parts.append(
            f"type {name}Connection {{\n  edges: [{name}Edge]\n  nodes: [{name}]\n  pageInfo: PageInfo!\n"
            "  totalCount: Int!\n}"
        )
        parts.append(f"type {name}Edge {{\n  cursor: String!\n  node: {name}\n}}")
        parts.append(f"input {name}Order {{\n  field: {name}OrderField!\n  direction: OrderDirection!\n}}")
        parts.append(f"enum {name}OrderField {{\n  CREATED_AT\n  UPDATED_AT\n  NAME\n}}")
        parts.append(f'enum {name}State {{\n  OPEN\n  CLOSED\n  ARCHIVED @deprecated(reason: "Use CLOSED.")\n}}')
        parts.append(
            f'input Create{name}Input {{\n  "A unique identifier for the client performing the mutation."\n'
            f"  clientMutationId: String\n  name: String!\n  description: String\n  parentId: ID\n}}"
        )
        parts.append(f"type Create{name}Payload {{\n  clientMutationId: String\n  {_lower(name)}: {name}\n}}")
        query.append(f"  {_lower(name)}(id: ID!): {name}")
        query.append(
            f"  {_lower(name)}s(first: Int, after: String, orderBy: {name}Order, states: [{name}State!]): "
            f"{name}Connection!"
        )
        mutation.append(f"  create{name}(input: Create{name}Input!): Create{name}Payload")
    parts.insert(0, "type Query {\n" + "\n".join(query) + "\n}")
    parts.insert(1, "type Mutation {\n" + "\n".join(mutation) + "\n}")
    return "\n\n".join(parts) + "\n"


# Big public schemas describe every field: these give each entity about as many bytes as GitHub's types have.
_EXTRA_FIELDS = [
    (word, kind)
    for word, kind in (
        ("title", "String"),
        ("summary", "String"),
        ("score", "Float"),
        ("position", "Int"),
        ("locked", "Boolean"),
        ("homepage", "String"),
        ("email", "String"),
        ("closedAt", "DateTime"),
        ("publishedAt", "DateTime"),
        ("lastEditedAt", "DateTime"),
        ("isArchived", "Boolean"),
        ("viewerCanDelete", "Boolean"),
    )
]


def _lower(name: str) -> str:
    return name[0].lower() + name[1:]


def introspection(types: int) -> str:
    return json.dumps({"data": introspection_from_schema(build_schema(graphql_sdl(types)))})


def openapi_spec(operations: int) -> dict[str, Any]:
    """An OpenAPI 3.0 document with ``operations`` operations over about as many component schemas."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "integer", "format": "int32"}, "message": {"type": "string"}},
        },
        "Audit": {
            "type": "object",
            "properties": {
                "createdAt": {"type": "string", "format": "date-time"},
                "createdBy": {"type": "string"},
                "updatedAt": {"type": "string", "format": "date-time", "nullable": True},
            },
        },
    }
    paths: dict[str, Any] = {}
    resources = max(1, operations // 4)
    for i in range(resources):
        name = f"Resource{i}"
        other = f"Resource{(i * 7 + 3) % resources}"
        schemas[f"{name}Kind"] = {"type": "string", "enum": ["small", "medium", "large", "x-large"]}
        schemas[f"{name}Card"] = {
            "type": "object",
            "required": ["kind", "number"],
            "properties": {"kind": {"type": "string", "enum": ["card"]}, "number": {"type": "string"}},
        }
        schemas[f"{name}Transfer"] = {
            "type": "object",
            "required": ["kind", "iban"],
            "properties": {"kind": {"type": "string", "enum": ["transfer"]}, "iban": {"type": "string"}},
        }
        schemas[name] = {
            "description": f"A resource of kind {i}, with an audit trail, a payment method and related resources.",
            "allOf": [
                {"$ref": "#/components/schemas/Audit"},
                {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid", "readOnly": True},
                        "name": {"type": "string", "maxLength": 200},
                        "description": {"type": "string", "nullable": True},
                        "size": {"$ref": f"#/components/schemas/{name}Kind"},
                        "count": {"type": "integer", "format": "int64"},
                        "ratio": {"type": "number"},
                        "active": {"type": "boolean", "default": True},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "parent": {"$ref": f"#/components/schemas/{other}"},
                        "payment": {
                            "oneOf": [
                                {"$ref": f"#/components/schemas/{name}Card"},
                                {"$ref": f"#/components/schemas/{name}Transfer"},
                            ],
                            "discriminator": {
                                "propertyName": "kind",
                                "mapping": {
                                    "card": f"#/components/schemas/{name}Card",
                                    "transfer": f"#/components/schemas/{name}Transfer",
                                },
                            },
                        },
                        "x-internal-notes": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            ],
        }
        ref = {"$ref": f"#/components/schemas/{name}"}
        error = {
            "description": "Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        collection = f"/v1/resource-{i}"
        paths[collection] = {
            "get": {
                "operationId": f"list_resource_{i}",
                "summary": f"List the resources of kind {i}, newest first.",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 20, "maximum": 100}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "size", "in": "query", "schema": {"$ref": f"#/components/schemas/{name}Kind"}},
                    {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "A page of resources",
                        "content": {"application/json": {"schema": {"type": "array", "items": ref}}},
                    },
                    "default": error,
                },
            },
            "post": {
                "operationId": f"create_resource_{i}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": ref}}}},
            },
        }
        paths[f"{collection}/{{resourceId}}"] = {
            "parameters": [{"name": "resourceId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": f"get_resource_{i}",
                "responses": {"200": {"description": "The resource", "content": {"application/json": {"schema": ref}}}},
            },
            "delete": {"operationId": f"delete_resource_{i}", "responses": {"204": {"description": "Deleted"}}},
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Generated", "version": "1.0.0"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _cases(selected: set[str] | None) -> list[tuple[str, str, float, Callable[[], SourceSpec]]]:
    """(family, case, size for the growth exponent, spec factory). Sources are generated only for the cases run."""
    cases: list[tuple[str, str, float, Callable[[], SourceSpec]]] = []
    for types in TYPE_COUNTS:
        cases.append(("sdl", f"sdl:{types}", types, functools.partial(_graphql, types, federation=False)))
        cases.append(("introspection", f"introspection:{types}", types, functools.partial(_introspected, types)))
        cases.append(("federation", f"federation:{types}", types, functools.partial(_graphql, types, federation=True)))
    for operations in SPEC_OPERATIONS:
        for family in ("openapi-yaml", "openapi-json"):
            factory = functools.partial(_openapi, operations, as_yaml=family == "openapi-yaml")
            cases.append((family, f"{family}:{operations}", operations, factory))
    return [c for c in cases if selected is None or c[0] in selected or c[1] in selected]


def _graphql(types: int, *, federation: bool) -> SourceSpec:
    kind = SourceKind.FEDERATION if federation else SourceKind.GRAPHQL
    return _spec(kind, graphql_sdl(types, federation=federation))


def _introspected(types: int) -> SourceSpec:
    return _spec(SourceKind.GRAPHQL, introspection(types))


def _openapi(operations: int, *, as_yaml: bool) -> SourceSpec:
    document = openapi_spec(operations)
    text = yaml.safe_dump(document, sort_keys=False) if as_yaml else json.dumps(document, indent=2)
    return _spec(SourceKind.OPENAPI, text)


def _spec(kind: SourceKind, text: str) -> SourceSpec:
    return SourceSpec("big", kind, text, url="http://big.test/graphql")


def _cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only",
        action="append",
        help="a family (sdl, introspection, federation, openapi-yaml, openapi-json) or a case (sdl:1600); repeatable",
    )
    parser.add_argument("--profile", help="profile one case, e.g. sdl:1600 or openapi-yaml:480")
    args = parser.parse_args()
    if args.profile:
        ((_family, case, _size, factory),) = _cases({args.profile})
        spec = factory()
        compose([spec])  # warm-up: imports and caches
        profiler = cProfile.Profile()
        profiler.runcall(compose, [spec])
        print(f"profile of {case}")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        return
    print(f"{'case':<22} {'size':>12} {'types':>6} {'CPU s':>7} {'growth':>7}")
    previous: dict[str, tuple[float, float]] = {}
    measured: dict[str, float] = {}
    for family, case, size, factory in _cases(set(args.only) if args.only else None):
        spec = factory()
        supergraph = compose([spec])  # warm-up
        times = [_cpu(functools.partial(compose, [spec])) for _ in range(args.repeat)]
        seconds = statistics.median(times)
        growth = ""
        size = len(spec.schema) if family.startswith("openapi") else size
        if family in previous:
            last_size, last_seconds = previous[family]
            growth = f"{math.log(seconds / last_seconds) / math.log(size / last_size):.2f}"
        previous[family] = (size, seconds)
        shown = f"{len(spec.schema) / 1e6:.2f} MB" if family.startswith("openapi") else f"{len(spec.schema) // 1000} kB"
        types = sum(1 for name in supergraph.schema.type_map if not name.startswith("__"))
        print(f"{case:<22} {shown:>12} {types:>6} {seconds:>7.3f} {growth:>7}", flush=True)
        measured[case] = seconds
    targets = [(case, measured[case]) for case in TARGET_CASES if case in measured]
    if targets:
        print(
            "\nissue 10's target, under 1 s of CPU: "
            + ", ".join(f"{case} {seconds:.2f} s {'ok' if seconds < 1.0 else 'OVER'}" for case, seconds in targets)
        )


if __name__ == "__main__":
    main()
