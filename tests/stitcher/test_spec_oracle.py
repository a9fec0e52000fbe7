"""The GraphQL spec's corners, with graphql-core as the oracle: each query runs through the stitcher over two
services (real upstreams on loopback) and through graphql-core's own ``execute_sync`` over one monolith schema that
serves the same data. Data must be equal including key order (the spec orders result keys by the document), and
errors must sit at the same paths, as many of them as graphql-core reports.

The services run three ways: as Federation subgraphs, and as plain GraphQL services joined by merge configuration
with a batched or a single-key entity field. The data is built to break things: ``Item.count: Int!`` is null for
item 2 and raises for item 4, ``Item.note`` raises for item 3, ``Item.tags: [String!]`` holds a null for item 1.
``count``, ``note`` and ``tags`` live in the ``stock`` service, so those failures come back inside entity batches
(``_entities`` or the merge-config field) and must be mapped to the client's paths."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import build_schema, execute_sync, parse

from stitcher.composition import compose
from stitcher.execution import Executor
from stitcher.ir import SourceKind
from stitcher.options import GatewayOptions, Limits
from stitcher.sources import EntityConfig, SourceSpec
from stitcher.transport import AiohttpTransport
from tests.stitcher.upstreams.app import GraphQLApp
from tests.stitcher.upstreams.federation import executable_schema
from tests.stitcher.upstreams.serving import UpstreamServers

CATALOG_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query {
  items: [Item!]!
  looseItems: [Item]!
  item(id: ID!): Item
  second: Item!
  nodes: [Node!]!
  things(kinds: [Kind!] = [ITEM, LABEL], filter: Filter): [Thing]
}
enum Kind { ITEM LABEL }
input Filter { ids: [ID!], range: Range }
input Range { from: Int = 1, to: Int }
interface Node { id: ID! }
union Thing = Item | Label
type Item implements Node @key(fields: "id") { id: ID! name: String }
type Label implements Node { id: ID! text: String! }
type Mutation { stamp(label: String!): Stamp! }
type Stamp { label: String! seq: Int! item: Item }
"""
STOCK_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Item @key(fields: "id") {
  id: ID! count: Int! note: String tags: [String!] label(prefix: String = "#", times: Int): String
}
type Query { stockVersion: Int }
type Mutation { bump(id: ID!): Int! }
"""
# The same two services as plain GraphQL, joined by merge configuration: stock resolves items by a batched list
# field or by a single-key field (``ENTITY_CONFIG``).
CATALOG_PLAIN_SDL = CATALOG_SDL.split("\n", 2)[2].replace(' @key(fields: "id")', "")
STOCK_PLAIN_SDL = """
type Query { itemsById(ids: [ID!]!): [Item]! itemById(id: ID!): Item }
type Mutation { bump(id: ID!): Int! }
type Item { id: ID! count: Int! note: String tags: [String!] label(prefix: String = "#", times: Int): String }
"""
ENTITY_CONFIG = {
    "graphql-batched": EntityConfig(key="id", operation="itemsById"),
    "graphql-single": EntityConfig(key="id", operation="itemById"),
}
MONOLITH_SDL = """
type Query {
  items: [Item!]!
  looseItems: [Item]!
  item(id: ID!): Item
  second: Item!
  nodes: [Node!]!
  things(kinds: [Kind!] = [ITEM, LABEL], filter: Filter): [Thing]
}
enum Kind { ITEM LABEL }
input Filter { ids: [ID!], range: Range }
input Range { from: Int = 1, to: Int }
interface Node { id: ID! }
union Thing = Item | Label
type Item implements Node {
  id: ID! name: String count: Int! note: String tags: [String!] label(prefix: String = "#", times: Int): String
}
type Label implements Node { id: ID! text: String! }
type Mutation { stamp(label: String!): Stamp! bump(id: ID!): Int! }
type Stamp { label: String! seq: Int! item: Item }
"""

NAMES = {"1": "one", "2": "two", "3": "three", "4": "four"}
LABELS = [{"__typename": "Label", "id": "L1", "text": "red"}, {"__typename": "Label", "id": "L2", "text": "blue"}]


def _fail(message: str) -> Any:
    def resolve(_info: Any) -> Any:
        raise ValueError(message)

    return resolve


def _stock(id_: str) -> dict[str, Any]:
    return {
        "count": _fail("count of item 4 is unknown") if id_ == "4" else (None if id_ == "2" else int(id_) * 10),
        "note": _fail("note of item 3 is lost") if id_ == "3" else f"note {id_}",
        "tags": ["a", None] if id_ == "1" else [f"t{id_}"],
        "label": lambda _info, prefix="#", times=None: None if prefix is None else prefix + id_ * (times or 1),
    }


def _things(kinds: list[str], filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    items = [{"__typename": "Item", "id": i, "name": n} for i, n in NAMES.items()]
    if filter and filter.get("ids") is not None:
        items = [i for i in items if i["id"] in filter["ids"]]
    if filter and filter.get("range") is not None:
        low, high = filter["range"].get("from"), filter["range"].get("to")
        items = [i for i in items if int(i["id"]) >= low and (high is None or int(i["id"]) <= high)]
    return (items if "ITEM" in kinds else []) + (LABELS if "LABEL" in kinds else [])


# Mutations of both subgraphs (and of the monolith) append here, so a result shows the order they ran in.
LOG: list[str] = []


def _stamp(item: Any, label: str) -> dict[str, Any]:
    LOG.append(label)
    return {"label": label, "seq": len(LOG), "item": item(str(len(LOG) % 4 + 1))}


def _bump(id_: str) -> int:
    LOG.append(f"bump {id_}")
    return len(LOG)


def _roots(item: Any) -> dict[str, Any]:
    return {
        "items": lambda _info: [item(i) for i in NAMES],
        "looseItems": lambda _info: [item(i) for i in NAMES],
        "item": lambda _info, id: item(id) if id in NAMES else None,
        "second": lambda _info: item("2"),
        "nodes": lambda _info: [item("1"), LABELS[0], item("3")],
        "things": lambda _info, kinds, filter=None: [
            item(t["id"]) if t["__typename"] == "Item" else t for t in _things(kinds, filter)
        ],
    }


def _stock_item(id_: str) -> dict[str, Any]:
    return {"__typename": "Item", "id": id_, **_stock(id_)}


def catalog_app(federation: bool) -> GraphQLApp:
    def item(id_: str) -> dict[str, Any]:
        return {"__typename": "Item", "id": id_, "name": NAMES[id_]}

    root = {
        **_roots(item),
        "stamp": lambda _info, label: _stamp(item, label),
        "_entities": lambda _info, representations: [item(r["id"]) for r in representations],
        "_service": lambda _info: {"sdl": CATALOG_SDL},
    }
    schema = executable_schema(CATALOG_SDL, ["Item"]) if federation else build_schema(CATALOG_PLAIN_SDL)
    return GraphQLApp(schema, root, cache=False)


def stock_app(federation: bool) -> GraphQLApp:
    root = {
        "_entities": lambda _info, representations: [_stock_item(r["id"]) for r in representations],
        "itemsById": lambda _info, ids: [_stock_item(i) for i in ids],
        "itemById": lambda _info, id: _stock_item(id),
        "bump": lambda _info, id: _bump(id),
        "stockVersion": lambda _info: 1,
        "_service": lambda _info: {"sdl": STOCK_SDL},
    }
    schema = executable_schema(STOCK_SDL, ["Item"]) if federation else build_schema(STOCK_PLAIN_SDL)
    return GraphQLApp(schema, root, cache=False)


MONOLITH = build_schema(MONOLITH_SDL)


def _monolith_item(id_: str) -> dict[str, Any]:
    return {"__typename": "Item", "id": id_, "name": NAMES[id_], **_stock(id_)}


MONOLITH_ROOT = {
    **_roots(_monolith_item),
    "stamp": lambda _info, label: _stamp(_monolith_item, label),
    "bump": lambda _info, id: _bump(id),
}


@pytest.fixture(scope="module", params=["federation", "graphql-batched", "graphql-single"])
def executor(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[asyncio.AbstractEventLoop, Executor, dict[str, GraphQLApp]]]:
    federation = request.param == "federation"
    apps = {"catalog": catalog_app(federation), "stock": stock_app(federation)}
    with UpstreamServers(dict(apps)) as servers:
        if federation:
            specs = [
                SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=servers.urls[name])
                for name, sdl in (("catalog", CATALOG_SDL), ("stock", STOCK_SDL))
            ]
        else:
            specs = [
                SourceSpec(
                    name="catalog",
                    protocol=SourceKind.GRAPHQL,
                    schema=CATALOG_PLAIN_SDL,
                    url=servers.urls["catalog"],
                    entities={"Item": EntityConfig(key="id", operation="item")},  # for items stock's fields return
                ),
                SourceSpec(
                    name="stock",
                    protocol=SourceKind.GRAPHQL,
                    schema=STOCK_PLAIN_SDL,
                    url=servers.urls["stock"],
                    entities={"Item": ENTITY_CONFIG[request.param]},
                ),
            ]
        supergraph = compose(specs)
        loop = asyncio.new_event_loop()
        transport = loop.run_until_complete(AiohttpTransport.create())
        yield loop, Executor(supergraph, transport, GatewayOptions(limits=Limits(max_cost=0, max_aliases=0))), apps
        loop.run_until_complete(transport.aclose())
        loop.close()


def ordered(value: Any) -> Any:
    """A value whose equality also compares the order of object keys."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


def assert_like_graphql_core(
    executor: tuple[asyncio.AbstractEventLoop, Executor, dict[str, GraphQLApp]],
    query: str,
    variables: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    loop, stitcher, _apps = executor
    LOG.clear()
    reference = execute_sync(MONOLITH, parse(query), MONOLITH_ROOT, variable_values=variables)
    LOG.clear()
    response = loop.run_until_complete(stitcher.execute(query, variables))
    assert not response.request_error, response.errors
    assert ordered(response.data) == ordered(reference.data), (query, response.data, reference.data)
    expected = sorted(str(e.path) for e in reference.errors or ())
    assert sorted(str(e.get("path")) for e in response.errors or ()) == expected, (query, response.errors)
    return response.errors or []


NULL_PROPAGATION = [
    # a nullable field that raises upstream: null there, one error inside the batch mapped to the list index
    "{ items { id note } }",
    # a non-null field null upstream, in [Item!]!: the list is non-null too, so data is null, ONE error (the first
    # failing item; graphql-core never reaches item 4)
    "{ items { id count } }",
    "{ items { note count } }",
    # [Item]!: each failing item is null on its own, one error each, at its index
    "{ looseItems { id count } }",
    "{ looseItems { note count name } }",
    "{ looseItems { c: count n: note } }",
    # nullable root field: only it becomes null; its sibling survives
    '{ item(id: "2") { name count } other: item(id: "1") { name count } }',
    '{ a: item(id: "4") { count } b: item(id: "3") { note count } }',
    # a non-null root field: the whole data is null
    '{ second { count } item(id: "1") { name } }',
    # a null inside [String!] nulls the list, not the item
    "{ looseItems { tags } items { id tags } }",
    # abstract types: errors under fragments keep their paths
    "{ nodes { id ... on Item { note count } ... on Label { text } } }",
    "{ things { __typename ... on Item { note } ... on Label { text } } }",
    "{ things { ... on Item { count } } }",
]


@pytest.mark.parametrize("query", NULL_PROPAGATION)
def test_null_propagation_and_error_paths(executor: Any, query: str) -> None:
    assert_like_graphql_core(executor, query)


def test_upstream_errors_keep_their_message_once_per_failure(executor: Any) -> None:
    errors = assert_like_graphql_core(executor, "{ looseItems { note count } }")
    by_path = {str(e["path"]): e["message"] for e in errors}
    assert by_path == {
        "['looseItems', 1, 'count']": "Cannot return null for non-nullable field Item.count.",
        "['looseItems', 2, 'note']": "note of item 3 is lost",
        "['looseItems', 3, 'count']": "count of item 4 is unknown",
    }


MERGING = [
    # the same response key twice with different sub-selections, through fragments and inline fragments
    "{ items { id ...N } items { name ... on Item { id note } } } fragment N on Item { name id }",
    "{ things { ... on Node { id } ... on Item { name id } ... on Label { id text } ...T } } fragment T on Thing "
    "{ __typename ... on Item { count: name } }",
    "{ nodes { ... on Item { id } ... on Node { __typename id } } nodes { ... on Label { text } } }",
    # aliases that collide with other fields' names, and __typename everywhere (root, fragments, aliased)
    "{ __typename t: __typename items: looseItems { name: id id: name __typename } looseItems { id } }",
    "{ nodes { __typename ... on Item { __typename kind: __typename } ... { t: __typename } } }",
    "query Q { ...R } fragment R on Query { __typename second { __typename name } }",
    # client aliases that look like the gateway's internal ones must not collide with them
    "{ items { _L_id: name count _e0: id _entities: note } looseItems { _L___typename: __typename note } }",
    '{ _e0: item(id: "1") { count } _L_item: item(id: "3") { _loomReps: count } }',
]


@pytest.mark.parametrize("query", MERGING)
def test_field_merging_and_typename(executor: Any, query: str) -> None:
    assert_like_graphql_core(executor, query)


DIRECTIVES_AND_VARIABLES: list[tuple[str, dict[str, Any] | None]] = [
    (
        "query($yes: Boolean!, $no: Boolean = false) { looseItems { id @include(if: $yes) name @skip(if: $yes) "
        "...F @include(if: $no) ... on Item @skip(if: $no) { note } ... @include(if: true) { tags } } } "
        "fragment F on Item { count }",
        {"yes": True},
    ),
    (
        "query($yes: Boolean!, $no: Boolean = false) { looseItems { id @include(if: $yes) name @skip(if: $yes) "
        "...F @include(if: $no) ... on Item @skip(if: $no) { note } ... @include(if: true) { tags } } } "
        "fragment F on Item { count }",
        {"yes": False, "no": True},
    ),
    # both directives on one field: it is included only when @skip is false and @include true
    (
        "query($a: Boolean!, $b: Boolean!) { looseItems { id @skip(if: $a) @include(if: $b) count @include(if: $b) "
        "@skip(if: $a) ... @skip(if: $a) @include(if: $b) { note } } }",
        {"a": False, "b": True},
    ),
    (
        "query($a: Boolean!, $b: Boolean!) { looseItems { id @skip(if: $a) @include(if: $b) name } }",
        {"a": True, "b": True},
    ),
    # the same field once skipped, once included: included wins
    ('query($s: Boolean!) { item(id: "1") { name @skip(if: $s) name @include(if: $s) } }', {"s": True}),
    ('{ item(id: "1") @skip(if: false) { id } skipped: item(id: "1") @skip(if: true) { id } }', None),
    # argument defaults, variable defaults, variables inside nested input objects and lists
    ("{ things { __typename } }", None),
    ("query($k: [Kind!] = [LABEL]) { things(kinds: $k) { ... on Label { text } } }", None),
    ("query($k: [Kind!]) { things(kinds: $k) { ... on Label { text } ... on Item { id } } }", {"k": ["ITEM"]}),
    ("query($k: Kind!) { things(kinds: [$k]) { ... on Item { id } } }", {"k": "ITEM"}),
    ('query($id: ID!) { things(kinds: [ITEM], filter: { ids: [$id, "3"] }) { ... on Item { id note } } }', {"id": "1"}),
    ("query($to: Int) { things(kinds: ITEM, filter: { range: { to: $to } }) { ... on Item { id } } }", {"to": 2}),
    ("query($r: Range) { things(kinds: ITEM, filter: { range: $r }) { ... on Item { id } } }", {"r": {"to": 3}}),
    ("query($f: Filter = { range: { from: 3 } }) { things(kinds: ITEM, filter: $f) { ... on Item { id } } }", None),
    # client variables named like the gateway's own upstream variables
    (
        'query($_loomReps: Int, $_k0: Int) { looseItems { label(times: $_loomReps) } a: item(id: "1") '
        "{ l: label(times: $_k0) count } }",
        {"_loomReps": 2, "_k0": 3},
    ),
    # variables and argument defaults in fields that another subgraph serves (sent along with the entity fetch)
    ("query($p: String, $t: Int = 3) { looseItems { label(prefix: $p) t: label(times: $t) d: label } }", {"p": "x"}),
    ("query($p: String, $t: Int = 3) { looseItems { label(prefix: $p) t: label(times: $t) d: label } }", None),
    ('query($p: String = "v") { looseItems { label(prefix: $p) } }', None),
    ('query($p: String = "v") { looseItems { label(prefix: $p) } }', {"p": None}),
    ('query($t: Int!) { a: item(id: "1") { label(times: $t) } b: item(id: "3") { label(times: $t) } }', {"t": 2}),
]


@pytest.mark.parametrize(("query", "variables"), DIRECTIVES_AND_VARIABLES)
def test_directives_defaults_and_variables(executor: Any, query: str, variables: dict[str, Any] | None) -> None:
    assert_like_graphql_core(executor, query, variables)


INTROSPECTION_AND_ROOTS: list[tuple[str, dict[str, Any] | None]] = [
    ("{ __typename __schema { queryType { name } } items { id } }", None),
    ('{ looseItems { name } __type(name: "Thing") { kind possibleTypes { name } } __typename }', None),
    ("query($n: String!) { __type(name: $n) { name kind } items { id } i: __type(name: $n) { kind } }", {"n": "Item"}),
    # introspection inside fragments on the root, merged with the same key outside
    ("{ ...I items { id } } fragment I on Query { __schema { mutationType { name } } }", None),
    (
        "{ ... { __schema { queryType { name } } } ...I __schema { queryType { kind } } } fragment I on Query "
        "{ __schema { mutationType { name } } }",
        None,
    ),
    ("{ __typename }", None),
    ('mutation { __typename s: stamp(label: "x") { seq __typename } t: __typename }', None),
    ("query($s: Boolean!) { items @skip(if: $s) { id } __typename }", {"s": True}),
    ("{ ... on Query { __typename } ... { second { id } } }", None),
]


@pytest.mark.parametrize(("query", "variables"), INTROSPECTION_AND_ROOTS)
def test_introspection_mixed_with_data_fields_and_root_typename(
    executor: Any, query: str, variables: dict[str, Any] | None
) -> None:
    assert_like_graphql_core(executor, query, variables)


REQUEST_ERRORS: list[tuple[str, dict[str, Any] | None, str | None, str]] = [
    ("query A { items { id } } query B { items { name } }", None, None, "pass operationName"),
    ("query A { items { id } } query B { items { name } }", None, "C", "Unknown operation named 'C'"),
    ("query A { items { id } } { items { name } }", None, "A", "anonymous operation must be the only"),
    ("query($id: ID!) { item(id: $id) { id } }", {}, None, "'ID!' to be provided"),
    ("query($id: ID!) { item(id: $id) { id } }", {"id": None}, None, "'ID!' not to be null"),
    ("query($k: [Kind!]) { things(kinds: $k) { __typename } }", {"k": ["BOX"]}, None, "'BOX'"),
    ("query($r: Range) { things(filter: { range: $r }) { __typename } }", {"r": {"to": "x"}}, None, "Int"),
]


@pytest.mark.parametrize(("query", "variables", "name", "message"), REQUEST_ERRORS)
def test_request_errors_say_what_is_wrong(
    executor: Any, query: str, variables: dict[str, Any] | None, name: str | None, message: str
) -> None:
    loop, stitcher, apps = executor
    before = {n: app.requests for n, app in apps.items()}
    response = loop.run_until_complete(stitcher.execute(query, variables, name))
    assert response.request_error and response.data is None
    assert response.errors is not None and message in response.errors[0]["message"], response.errors
    assert {n: app.requests for n, app in apps.items()} == before  # refused before any upstream call


def test_mutations_run_serially_in_document_order_across_subgraphs(executor: Any) -> None:
    """``stamp`` is served by ``catalog``, ``bump`` by ``stock``; each returns its position in the shared log. The
    stamps' items need entity fetches (one fails: item 4's count) that must finish before the next field runs."""
    assert_like_graphql_core(
        executor,
        'mutation { a: stamp(label: "a") { seq label } b: bump(id: "1") c: stamp(label: "c") { item { id count '
        'note } seq } d: bump(id: "3") e: stamp(label: "e") { __typename item { name tags } } }',
    )
    assert LOG == ["a", "bump 1", "c", "bump 3", "e"]


def test_introspection_off_refuses_it_anywhere_but_keeps_typename(executor: Any) -> None:
    loop, stitcher, apps = executor
    closed = Executor(stitcher.supergraph, stitcher.transport, GatewayOptions(introspection=False))
    before = {n: app.requests for n, app in apps.items()}
    hidden = '{ items { id } ...I } fragment I on Query { ... { t: __type(name: "Item") { name } } }'
    response = loop.run_until_complete(closed.execute(hidden))
    assert response.request_error and response.errors is not None
    assert response.errors[0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert {n: app.requests for n, app in apps.items()} == before
    response = loop.run_until_complete(closed.execute("{ __typename items { __typename id } }"))
    assert response.errors is None and response.data is not None
    assert response.data["__typename"] == "Query" and response.data["items"][0] == {"__typename": "Item", "id": "1"}
