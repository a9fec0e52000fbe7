"""Printing the product SDL and the Federation v2 supergraph SDL, and loading supergraphs back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, build_schema, parse, validate_schema

from stitcher.composition import compose
from stitcher.errors import CompositionError, SchemaError
from stitcher.ir import FieldJoin, SourceKind, Supergraph, TypeJoin
from stitcher.sources import EntityConfig, SourceSpec
from stitcher.supergraph import load_supergraph, print_product_sdl, print_supergraph_sdl

SCHEMAS = Path(__file__).parent / "schemas"


def fed(name: str) -> SourceSpec:
    return SourceSpec(name, SourceKind.FEDERATION, (SCHEMAS / f"{name}.graphql").read_text(), url=f"http://{name}:4000")


@pytest.fixture(scope="module")
def shop() -> Supergraph:
    return compose([fed(n) for n in ("accounts", "products", "reviews", "inventory")])


def test_product_sdl_is_the_api_schema_in_a_stable_order(shop: Supergraph) -> None:
    sdl = print_product_sdl(shop)
    assert sdl.startswith("type Query {")
    assert "email" not in sdl and "join__" not in sdl and "@" not in sdl.replace("@deprecated", "")
    rebuilt = build_schema(sdl)
    assert validate_schema(rebuilt) == []
    type_names = [d.name.value for d in parse(sdl).definitions]  # type: ignore[attr-defined]
    assert type_names[1:] == sorted(type_names[1:])
    assert print_product_sdl(compose([fed(n) for n in ("accounts", "products", "reviews", "inventory")])) == sdl


def test_supergraph_sdl_has_the_federation_shape(shop: Supergraph) -> None:
    sdl = print_supergraph_sdl(shop)
    assert '@link(url: "https://specs.apollo.dev/link/v1.0")' in sdl
    assert '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)' in sdl
    assert 'ACCOUNTS @join__graph(name: "accounts", url: "http://accounts:4000")' in sdl
    assert "enum link__Purpose" in sdl and "scalar link__Import" in sdl and "scalar join__FieldSet" in sdl
    assert '@join__type(graph: PRODUCTS, key: "sku variation { id }")' in sdl
    assert '@join__type(graph: PRODUCTS, key: "id", resolvable: false)' in sdl
    assert '@join__type(graph: REVIEWS, key: "id", isInterfaceObject: true)' in sdl
    assert '@join__implements(graph: INVENTORY, interface: "Media")' in sdl
    assert '@join__field(graph: INVENTORY, requires: "price weight")' in sdl
    assert '@join__field(graph: INVENTORY, override: "products")' in sdl
    assert "email: String! @join__field(graph: ACCOUNTS) @inaccessible" in sdl
    assert "APAC @join__enumValue(graph: ACCOUNTS)" in sdl
    # it is a valid schema on its own
    assert validate_schema(build_schema(sdl)) == []


def test_round_trip_keeps_the_join_info(shop: Supergraph) -> None:
    loaded = load_supergraph(print_supergraph_sdl(shop))
    assert loaded.types == shop.types
    assert loaded.fields == shop.fields
    assert loaded.graph_enum == shop.graph_enum
    assert loaded.inaccessible == shop.inaccessible
    assert print_product_sdl(loaded) == print_product_sdl(shop)
    accounts = loaded.subgraphs["accounts"]
    assert (accounts.kind, accounts.url, accounts.schema) == (SourceKind.FEDERATION, "http://accounts:4000", None)
    assert loaded.subgraphs["products"].keys["Product"][1].fields == "sku variation { id }"
    assert loaded.subgraphs["reviews"].interface_objects == frozenset({"Media"})
    assert loaded.subgraphs["inventory"].fields[("Product", "shippingEstimate")].requires == "price weight"


def test_round_trip_with_a_plain_graphql_source() -> None:
    loans = SourceSpec(
        "loans",
        SourceKind.GRAPHQL,
        (SCHEMAS / "loans.graphql").read_text(),
        url="http://loans",
        entities={"Loan": EntityConfig(key="id", operation="loan")},
    )
    sg = compose([fed("members"), loans])
    loaded = load_supergraph(print_supergraph_sdl(sg))
    assert loaded.types == sg.types and loaded.fields == sg.fields


# A supergraph as Apollo's composition prints it (trimmed by hand to two subgraphs, Apollo's exact machinery).
APOLLO_SUPERGRAPH = (SCHEMAS / "apollo-supergraph.graphql").read_text()


def test_load_an_apollo_printed_supergraph() -> None:
    sg = load_supergraph(APOLLO_SUPERGRAPH)
    assert list(sg.subgraphs) == ["accounts", "reviews"]
    assert sg.subgraphs["reviews"].url == "http://localhost:4002/graphql"
    assert sg.graph_enum == {"accounts": "ACCOUNTS", "reviews": "REVIEWS"}
    assert sg.types["User"] == (TypeJoin("accounts", key="id"), TypeJoin("reviews", key="id"))
    assert sg.fields[("User", "id")] == (FieldJoin("accounts"), FieldJoin("reviews"))
    assert sg.fields[("User", "username")] == (FieldJoin("accounts"), FieldJoin("reviews", external=True))
    assert sg.fields[("Review", "author")] == (FieldJoin("reviews", provides="username"),)
    assert sg.fields[("Review", "body")] == (FieldJoin("reviews"),)
    user = sg.schema.get_type("User")
    assert isinstance(user, GraphQLObjectType) and list(user.fields) == ["id", "username", "reviews"]
    assert sg.schema.get_type("join__Graph") is None and sg.schema.get_directive("join__field") is None
    assert validate_schema(sg.schema) == []
    # printing it again and loading that gives the same join info
    again = load_supergraph(print_supergraph_sdl(sg))
    assert again.types == sg.types and again.fields == sg.fields


@pytest.mark.parametrize(
    ("sdl", "fragment"),
    [
        ("type Query {", "supergraph SDL is invalid"),
        ("type Query { a: Int }", "no join__Graph enum"),
        ("type Query { a: Nope }", "Nope"),
        (
            APOLLO_SUPERGRAPH.replace(
                "me: User @join__field(graph: ACCOUNTS)", "me: User @join__field(graph: BILLING)"
            ),
            "Query.me: @join__field(graph: BILLING) is not a member of join__Graph",
        ),
        (
            APOLLO_SUPERGRAPH + "directive @join__owner(graph: join__Graph!) on OBJECT",
            "Federation 1 supergraph",
        ),
    ],
)
def test_load_rejects_what_is_not_a_supergraph(sdl: str, fragment: str) -> None:
    with pytest.raises(SchemaError) as info:
        load_supergraph(sdl)
    assert fragment in str(info.value)


# --- conformance with Apollo's own tooling (the @apollo packages `make bench` installs into bench/) ---------------

BENCH = Path(__file__).resolve().parents[2] / "bench"
NODE = shutil.which("node")
HAS_APOLLO = NODE is not None and (BENCH / "node_modules" / "@apollo" / "composition").is_dir()
APOLLO_SCRIPT = """
const { createRequire } = await import('node:module');
const require = createRequire(process.env.BENCH_PACKAGE);
const { composeServices } = require('@apollo/composition');
const { Supergraph } = require('@apollo/federation-internals');
const { parse } = require('graphql');
const task = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const out = {};
try {
  const sg = Supergraph.build(task.supergraph, { validateSupergraph: true });
  sg.apiSchema();
  out.read = sg.subgraphs().names();
} catch (e) { out.readError = String(e.message ?? e); }
const result = composeServices(task.services.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
out.composed = result.errors ? null : result.supergraphSdl;
out.errors = (result.errors ?? []).map((e) => e.message);
process.stdout.write(JSON.stringify(out));
"""


def apollo(supergraph: str, services: list[SourceSpec]) -> dict[str, Any]:
    """Run Apollo's supergraph reader on ``supergraph`` and Apollo's composition on ``services`` (one node run)."""
    assert NODE is not None
    task = {"supergraph": supergraph, "services": [{"name": s.name, "url": s.url, "sdl": s.schema} for s in services]}
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", APOLLO_SCRIPT],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BENCH_PACKAGE": str(BENCH / "package.json")},
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def as_sets(joins: Mapping[Any, tuple[Any, ...]]) -> dict[Any, frozenset[Any]]:
    return {key: frozenset(value) for key, value in joins.items()}


@pytest.mark.skipif(not HAS_APOLLO, reason="needs node and bench/node_modules (make bench installs them)")
def test_apollo_reads_our_supergraph_and_composes_the_same_join_info(shop: Supergraph) -> None:
    services = [fed(n) for n in ("accounts", "products", "reviews", "inventory")]
    out = apollo(print_supergraph_sdl(shop), services)
    assert out.get("readError") is None
    assert sorted(out["read"]) == sorted(shop.subgraphs)
    assert out["errors"] == []
    theirs = load_supergraph(out["composed"])
    assert as_sets(theirs.types) == as_sets(shop.types)
    assert as_sets(theirs.fields) == as_sets(shop.fields)
    assert theirs.inaccessible == shop.inaccessible


@pytest.mark.skipif(not HAS_APOLLO, reason="needs node and bench/node_modules (make bench installs them)")
def test_apollo_refuses_what_we_refuse() -> None:
    link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])\n'
    a = SourceSpec(
        "a", SourceKind.FEDERATION, link + 'type Query { p: P } type P @key(fields: "id") { id: ID! name: String }'
    )
    b = SourceSpec("b", SourceKind.FEDERATION, link + 'type P @key(fields: "id") { id: ID! name: String @shareable }')
    with pytest.raises(CompositionError):
        compose([a, b])
    out = apollo(APOLLO_SUPERGRAPH, [a, b])
    assert out["composed"] is None
    assert any("P.name" in e and "shareable" in e for e in out["errors"])
