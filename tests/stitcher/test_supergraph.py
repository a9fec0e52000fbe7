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
from graphql import GraphQLObjectType, build_schema, is_specified_scalar_type, parse, validate_schema

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
    assert '@link(url: "https://specs.apollo.dev/tag/v0.3")' in sdl and "directive @tag(name: String!)" in sdl
    tagged = '[Product] @join__field(graph: PRODUCTS) @tag(name: "public") @tag(name: "listing")'
    assert f"topProducts(first: Int = 5): {tagged}" in sdl
    assert 'user(id: ID! @tag(name: "lookup"), trace: Boolean @inaccessible): User' in sdl
    assert 'enum Region @join__type(graph: ACCOUNTS) @tag(name: "geo") {' in sdl
    assert 'APAC @join__enumValue(graph: ACCOUNTS) @tag(name: "internal")' in sdl
    assert 'input AvatarSize @join__type(graph: ACCOUNTS) @tag(name: "public") {' in sdl
    assert 'px: Int! @tag(name: "public")' in sdl
    # it is a valid schema on its own
    assert validate_schema(build_schema(sdl)) == []


def test_round_trip_keeps_the_join_info(shop: Supergraph) -> None:
    loaded = load_supergraph(print_supergraph_sdl(shop))
    assert loaded.types == shop.types
    assert loaded.fields == shop.fields
    assert loaded.graph_enum == shop.graph_enum
    assert loaded.inaccessible == shop.inaccessible
    assert "Query.user(trace:)" in shop.inaccessible
    assert loaded.tags == shop.tags
    assert shop.tags == {
        "Query.topProducts": ("public", "listing"),
        "Product.price": ("public",),
        "User": ("public",),
        "Query.user(id:)": ("lookup",),
        "Region": ("geo",),
        "Region.APAC": ("internal",),
        "AvatarSize": ("public",),
        "AvatarSize.px": ("public",),
    }
    assert print_product_sdl(loaded) == print_product_sdl(shop)
    accounts = loaded.subgraphs["accounts"]
    assert (accounts.kind, accounts.url) == (SourceKind.FEDERATION, "http://accounts:4000")
    # Each subgraph's own schema is rebuilt from the join directives: its types only, as that subgraph has them.
    assert accounts.schema is not None and shop.subgraphs["accounts"].schema is not None
    assert set(accounts.schema.type_map) - set(shop.subgraphs["accounts"].schema.type_map) <= {"_Any", "FieldSet"}
    assert accounts.schema.get_type("Review") is None
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
        (APOLLO_SUPERGRAPH.replace("body: String", "body: Nope"), "Unknown type: 'Nope'"),
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
needs_apollo = pytest.mark.skipif(not HAS_APOLLO, reason="needs node and bench/node_modules (make bench installs them)")
APOLLO_SCRIPT = """
const { createRequire } = await import('node:module');
const require = createRequire(process.env.BENCH_PACKAGE);
const { composeServices } = require('@apollo/composition');
const { Supergraph } = require('@apollo/federation-internals');
const { parse } = require('graphql');
const task = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const read = task.read.map((sdl) => {
  try {
    const sg = Supergraph.build(sdl, { validateSupergraph: true });
    sg.apiSchema();
    return { subgraphs: sg.subgraphs().names() };
  } catch (e) { return { error: String(e.message ?? e) }; }
});
const hive = task.read.map((sdl) => {
  try {
    const { getStitchedSchemaFromSupergraphSdl } = require('@graphql-tools/federation');
    const schema = getStitchedSchemaFromSupergraphSdl({ supergraphSdl: sdl });
    return { types: Object.keys(schema.getTypeMap()).filter((n) => !n.startsWith('__')).sort() };
  } catch (e) { return { error: String(e.message ?? e) }; }
});
const composed = task.compose.map((services) => {
  const r = composeServices(services.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
  return { sdl: r.errors ? null : r.supergraphSdl, errors: (r.errors ?? []).map((e) => e.message) };
});
process.stdout.write(JSON.stringify({ read, hive, composed }));
"""
LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", '
    '"@external", "@requires", "@provides", "@override", "@inaccessible", "@interfaceObject", "@tag"])\n'
)
# Two-subgraph compositions (SDL of "a", SDL of "b" or None) that we and Apollo must judge alike.
CASES: dict[str, tuple[str, str | None]] = {
    "nullability": (
        'type Query { p: P } type P @key(fields: "id") { id: ID! n: Int! @shareable l: [Int!]! @shareable }',
        'type P @key(fields: "id") { id: ID! n: Int @shareable l: [Int] @shareable }',
    ),
    "value type unreachable": (
        "type Query { a: V @shareable } type V @shareable { x: Int y: String }",
        "type Query { a: V @shareable b: V } type V @shareable { x: Int z: Int }",
    ),
    "override": (
        'type Query { p: P } type P @key(fields: "id") { id: ID! price: Int }',
        'type P @key(fields: "id") { id: ID! price: Int @override(from: "a") }',
    ),
    "enum output union": ("type Query { a: E } enum E { X Y }", "type Query { b: E } enum E { Y Z }"),
    "enum input intersection": (
        "type Query { a(e: E): Int } enum E { X Y }",
        "type Query { b(e: E): Int } enum E { Y Z }",
    ),
    "enum both differ": ("type Query { a(e: E): E } enum E { X Y }", "type Query { b: E } enum E { Y Z }"),
    "input intersection": (
        "type Query { s(f: F): Int } input F { q: String, limit: Int, tag: String }",
        "type Query { t(f: F): Int } input F { q: String!, limit: Int }",
    ),
    "input required missing": (
        "type Query { s(f: F): Int } input F { q: String }",
        "type Query { t(f: F): Int } input F { q: String, must: Int! }",
    ),
    "union members": (
        "type Query { s: [R] @shareable } union R = A | B type A @shareable { x: Int } type B @shareable { y: Int }",
        "type Query { s: [R] @shareable } union R = A | C type A @shareable { x: Int } type C { z: Int }",
    ),
    "optional argument": (
        "type Query { x: X } type X @shareable { f(n: Int, m: Int): Int }",
        "type X @shareable { f(m: Int!): Int }",
    ),
    "required argument missing": (
        "type Query { x: X } type X @shareable { f(n: Int!, m: Int): Int }",
        "type X @shareable { f(m: Int): Int }",
    ),
    "field type": (
        'type Query { p: P } type P @key(fields: "id") { id: ID! price: Float! @shareable }',
        'type P @key(fields: "id") { id: ID! price: String @shareable }',
    ),
    "root field not shareable": ("type Query { hello: String }", "type Query { hello: String }"),
    "kind": ("type Query { x: X } type X { id: ID }", "type Query { y(x: X): Int } input X { id: ID }"),
    "inaccessible referenced": ("type Query { secret: Secret } type Secret @inaccessible { v: Int }", None),
    "external everywhere": (
        'type Query { p: P } type P @key(fields: "id") { id: ID! w: Int @external n: Int @requires(fields: "w") }',
        'type P @key(fields: "id") { id: ID! w: Int @external v: Int @requires(fields: "w") }',
    ),
    "provides": (
        'type Query { r: [R] } type R @key(fields: "id") { id: ID! u: U @provides(fields: "name") } '
        'type U @key(fields: "id") { id: ID! name: String @external }',
        'type U @key(fields: "id") { id: ID! name: String @shareable }',
    ),
    "interface object": (
        'type Query { m: [M] } interface M @key(fields: "id") { id: ID! t: String } '
        'type Bk implements M @key(fields: "id") { id: ID! t: String p: Int }',
        'type M @key(fields: "id") @interfaceObject { id: ID! r: Int }',
    ),
    "interface object returned by its own subgraph": (
        'type Query { m: [M] } interface M @key(fields: "id") { id: ID! t: String } '
        'type Bk implements M @key(fields: "id") { id: ID! t: String p: Int }',
        'type Query { top(n: Int): [M] } type M @key(fields: "id") @interfaceObject { id: ID! r: Int }',
    ),
    "tags on every kind of element": (
        'type Query { p(k: K @tag(name: "a"), f: F @tag(name: "b")): P @tag(name: "c") } '
        'type P @key(fields: "id") @tag(name: "d") { id: ID! } enum K @tag(name: "e") { X @tag(name: "f") Y } '
        'input F @tag(name: "g") { q: String @tag(name: "h") } scalar S @tag(name: "i") '
        'union U @tag(name: "j") = P  interface I @tag(name: "k") { id: ID! }',
        'type P @key(fields: "id") @tag(name: "l") { id: ID! n: Int @tag(name: "m") } '
        'enum K @tag(name: "n") { X Y @tag(name: "o") } type Query { q(s: S): P }  scalar S',
    ),
}


def case_specs(case: tuple[str, str | None]) -> list[SourceSpec]:
    return [
        SourceSpec(name, SourceKind.FEDERATION, LINK + sdl, url=f"http://{name}:4000")
        for name, sdl in zip("ab", case, strict=True)
        if sdl is not None
    ]


def apollo(read: list[str], compositions: list[list[SourceSpec]]) -> dict[str, Any]:
    """Apollo's supergraph reader on each of ``read`` and Apollo's composition on each of ``compositions``, in
    one node run."""
    assert NODE is not None
    task = {
        "read": read,
        "compose": [[{"name": s.name, "url": s.url, "sdl": s.schema} for s in specs] for specs in compositions],
    }
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", APOLLO_SCRIPT],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BENCH_PACKAGE": str(BENCH / "package.json")},
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def as_sets(joins: Mapping[Any, tuple[Any, ...]]) -> dict[Any, frozenset[Any]]:
    return {key: frozenset(value) for key, value in joins.items()}


@pytest.fixture(scope="module")
def apollo_verdicts(shop: Supergraph) -> dict[str, Any]:
    shop_specs = [fed(n) for n in ("accounts", "products", "reviews", "inventory")]
    out = apollo([print_supergraph_sdl(shop)], [shop_specs, *(case_specs(c) for c in CASES.values())])
    return {
        "read": out["read"][0],
        "hive": out["hive"][0],
        "shop": out["composed"][0],
        **dict(zip(CASES, out["composed"][1:], strict=True)),
    }


@needs_apollo
def test_apollo_reads_our_supergraph_and_composes_the_same_join_info(
    shop: Supergraph, apollo_verdicts: dict[str, Any]
) -> None:
    assert apollo_verdicts["read"].get("error") is None
    assert sorted(apollo_verdicts["read"]["subgraphs"]) == sorted(shop.subgraphs)
    assert apollo_verdicts["shop"]["errors"] == []
    theirs = load_supergraph(apollo_verdicts["shop"]["sdl"])
    assert as_sets(theirs.types) == as_sets(shop.types)
    assert as_sets(theirs.fields) == as_sets(shop.fields)
    assert theirs.inaccessible == shop.inaccessible
    assert theirs.tags == shop.tags


@pytest.mark.skipif(
    not (HAS_APOLLO and (BENCH / "node_modules" / "@graphql-tools" / "federation").is_dir()),
    reason="needs node and bench/node_modules (make bench installs them)",
)
def test_hive_gateway_loads_our_supergraph(shop: Supergraph, apollo_verdicts: dict[str, Any]) -> None:
    """Hive Gateway builds its stitched schema from a supergraph with @graphql-tools/federation."""
    hive = apollo_verdicts["hive"]
    assert hive.get("error") is None
    ours = sorted(
        n for n, t in shop.schema.type_map.items() if not n.startswith("__") and not is_specified_scalar_type(t)
    )
    assert set(ours) <= set(hive["types"])


@needs_apollo
@pytest.mark.parametrize("name", list(CASES))
def test_we_judge_compositions_as_apollo_does(name: str, apollo_verdicts: dict[str, Any]) -> None:
    verdict = apollo_verdicts[name]
    specs = case_specs(CASES[name])
    if verdict["sdl"] is None:
        with pytest.raises(CompositionError):
            compose(specs)
        return
    ours = compose(specs)
    theirs = load_supergraph(verdict["sdl"])
    assert as_sets(ours.types) == as_sets(theirs.types)
    assert as_sets(ours.fields) == as_sets(theirs.fields)
    assert print_product_sdl(ours) == print_product_sdl(theirs)
    assert ours.tags == theirs.tags
    assert validate_schema(build_schema(print_supergraph_sdl(ours))) == []


def test_the_product_sdl_keeps_custom_directive_definitions_and_one_of() -> None:
    """Issue 10: the printers dropped custom directive definitions (a client's @inContext) and @oneOf."""
    sdl = """
"Where the shopper is"
directive @inContext(country: String, language: String = "en") on QUERY | FIELD
type Query { find(by: By!): String }
input By @oneOf { id: ID name: String }
"""
    supergraph = compose([SourceSpec("shop", SourceKind.GRAPHQL, sdl, url="http://shop.test/graphql")])
    printed = print_product_sdl(supergraph)
    assert printed.startswith(
        '"Where the shopper is"\ndirective @inContext(country: String, language: String = "en") on QUERY | FIELD\n'
    )
    assert "input By @oneOf {" in printed
    again = load_supergraph(print_supergraph_sdl(supergraph))
    assert print_product_sdl(again) == printed
