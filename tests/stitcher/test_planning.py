"""stitcher.planning: the fetch tree and upstream documents for known operations (no network: plans only)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from stitcher.composition import compose
from stitcher.ir import SourceKind, Supergraph
from stitcher.planning import FetchNode, PlanningError, QueryPlan, build_plan, condition_variables
from stitcher.sources import SourceSpec
from tests.stitcher.upstreams import federation

LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])\n'


@pytest.fixture(scope="module")
def shop() -> Supergraph:
    return compose(
        [
            SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=f"http://{name}.invalid/graphql")
            for name, (sdl, _make) in federation.SUBGRAPHS.items()
        ]
    )


def plan(supergraph: Supergraph, document: str, **conditions: bool) -> QueryPlan:
    ast = parse(document)
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    return build_plan(supergraph, operation, fragments, conditions)


def tree(node: FetchNode) -> Any:
    """A compact, comparable picture of a fetch node and its staged children."""
    children = [[tree(child) for child in stage] for stage in node.stages]
    path = "/".join(step for step, _types in node.path)
    return (node.subgraph, node.kind, path, children) if children else (node.subgraph, node.kind, path)


def test_one_fetch_per_subgraph_per_level(shop: Supergraph) -> None:
    result = plan(shop, "{ topProducts { name reviews { body author { name } } inStock } }")
    [[root]] = result.stages
    assert tree(root) == (
        "products",
        "root",
        "",
        [
            [
                ("reviews", "entity", "topProducts", [[("accounts", "entity", "topProducts/reviews/author")]]),
                ("inventory", "entity", "topProducts"),
            ]
        ],
    )
    assert root.query == "query{topProducts{name _L_upc: upc}}"
    assert result.fetch_count == 4


def test_root_fields_of_one_subgraph_share_a_fetch_and_others_run_in_parallel(shop: Supergraph) -> None:
    result = plan(shop, "{ me { name } topProducts { upc } users { id } }")
    [stage] = result.stages
    assert sorted(node.subgraph for node in stage) == ["accounts", "products"]
    accounts = next(node for node in stage if node.subgraph == "accounts")
    assert accounts.query == "query{me{name} users{id}}"


def test_provides_needs_no_entity_fetch(shop: Supergraph) -> None:
    [[root]] = plan(shop, "{ reviews { author { username } } }").stages
    assert tree(root) == ("reviews", "root", "")
    assert root.query == "query{reviews{author{username}}}"


def test_requires_fields_are_fetched_into_the_parent_and_sent_in_representations(shop: Supergraph) -> None:
    [[root]] = plan(shop, "{ topProducts { shippingEstimate } }").stages
    assert root.query == "query{topProducts{_L_upc: upc _L_price: price _L_weight: weight}}"
    [[inventory]] = root.stages
    target = inventory.targets["Product"]
    assert target.representation == (("upc", "_L_upc"), ("price", "_L_price"), ("weight", "_L_weight"))
    assert "shippingEstimate" in inventory.query


def test_compound_key_chosen_from_fields_the_parent_has(shop: Supergraph) -> None:
    [[root]] = plan(shop, "{ topProducts { deliveryDays } }").stages
    [[shipping]] = root.stages
    assert shipping.targets["Product"].representation == (("sku", "_L_sku"), ("vendor", "_L_vendor"))


def test_union_members_get_fragments_and_entity_fetches_per_type(shop: Supergraph) -> None:
    [[root]] = plan(shop, '{ search(text: "a") { ... on User { name } ... on Product { name } } }').stages
    assert "... on User{_L_id: id}" in root.query and "... on Product{name}" in root.query
    [[accounts]] = root.stages
    assert accounts.subgraph == "accounts" and set(accounts.targets) == {"User"}


def test_variables_are_declared_in_upstream_documents(shop: Supergraph) -> None:
    [[root]] = plan(shop, "query($n: Int = 2, $unused: ID) { topProducts(first: $n) { name } }").stages
    assert root.query == "query($n: Int = 2){topProducts(first: $n){name}}"
    assert root.variables == ("n",)


def test_skip_and_include_are_planned_per_condition_value(shop: Supergraph) -> None:
    document = "query($r: Boolean!) { topProducts { name reviews @include(if: $r) { body } } }"
    ast = parse(document)
    operation = ast.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    assert condition_variables(operation, {}) == ("r",)
    [[with_reviews]] = plan(shop, document, r=True).stages
    [[without]] = plan(shop, document, r=False).stages
    assert len(with_reviews.stages) == 1 and without.stages == ()


def test_mutations_run_in_order_and_interfaces_resolve_across_subgraphs() -> None:
    library = (
        LINK
        + """
        type Query { media: [Media] }
        type Mutation { borrow(id: ID!): Boolean giveBack(id: ID!): Boolean }
        interface Media { id: ID! title: String }
        type Book implements Media @key(fields: "id") { id: ID! title: String }
        type Movie implements Media @key(fields: "id") { id: ID! title: String }
        """
    )
    pages = LINK + 'type Book @key(fields: "id") { id: ID! pages: Int } type Mutation { notify(id: ID!): Boolean }'
    supergraph = compose(
        [
            SourceSpec(name="library", protocol=SourceKind.FEDERATION, schema=library, url="http://l.invalid"),
            SourceSpec(name="pages", protocol=SourceKind.FEDERATION, schema=pages, url="http://p.invalid"),
        ]
    )
    result = plan(supergraph, 'mutation { a: borrow(id: "1") b: notify(id: "1") c: giveBack(id: "1") }')
    assert [[node.subgraph for node in stage] for stage in result.stages] == [["library"], ["pages"], ["library"]]
    assert result.stages[0][0].query == 'mutation{a: borrow(id: "1")}'
    [[root]] = plan(supergraph, "{ media { title ... on Book { pages } } }").stages
    assert "... on Book{title _L_id: id}" in root.query and "... on Movie{title}" in root.query
    [[pages_fetch]] = root.stages
    assert set(pages_fetch.targets) == {"Book"}


def test_subscriptions_are_refused_with_a_clear_error() -> None:
    orphan = LINK + "type Query { a: Thing } type Thing { id: ID! }"
    more = LINK + 'type Query { b: Int } type Other @key(fields: "id") { id: ID! n: Int }'
    supergraph = compose(
        [
            SourceSpec(name="one", protocol=SourceKind.FEDERATION, schema=orphan, url="http://1.invalid"),
            SourceSpec(name="two", protocol=SourceKind.FEDERATION, schema=more, url="http://2.invalid"),
        ]
    )
    plan(supergraph, "{ a { id } b }")  # plannable
    with pytest.raises(PlanningError, match="no subscription type"):
        plan(supergraph, "subscription { a { id } }")


def test_requires_from_a_third_subgraph_waits_for_it() -> None:
    fed = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
        'import: ["@key", "@external", "@requires"])\n'
    )
    items = fed + 'type Query { items: [Item!]! } type Item @key(fields: "id") { id: ID! price: Int }'
    weights = fed + 'type Item @key(fields: "id") { id: ID! weight: Int }'
    costs = fed + (
        'type Item @key(fields: "id") { id: ID! price: Int @external weight: Int @external '
        'cost: Int @requires(fields: "price weight") }'
    )
    supergraph = compose(
        [
            SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=f"http://{name}.invalid")
            for name, sdl in (("items", items), ("weights", weights), ("costs", costs))
        ]
    )
    result = plan(supergraph, "{ items { cost } }")
    [[root]] = result.stages
    assert [[child.subgraph for child in stage] for stage in root.stages] == [["weights"], ["costs"]]
    [[weights_fetch], [costs_fetch]] = root.stages
    assert "_L_weight: weight" in weights_fetch.query
    assert costs_fetch.targets["Item"].representation == (
        ("id", "_L_id"),
        ("price", "_L_price"),
        ("weight", "_L_weight"),
    )
    # Level by level: the costs fetch comes one level after the weights fetch.
    assert [[batch.subgraph for batch in level] for level in result.levels] == [["weights"], ["costs"]]


def test_a_key_the_client_selected_is_not_fetched_twice(shop: Supergraph) -> None:
    [[root]] = plan(shop, "{ topProducts { upc price inStock shippingEstimate } }").stages
    assert root.query == "query{topProducts{upc price _L_weight: weight}}"
    [[inventory]] = root.stages
    assert inventory.targets["Product"].representation == (("upc", "upc"), ("price", "price"), ("weight", "_L_weight"))


def test_a_fetch_shared_below_objects_of_several_types_reaches_all_of_them() -> None:
    """``owner`` is local to ``a`` on A and on B, ``name`` lives in ``b``: one entity fetch serves both owners, so
    its path must not keep only the first type's filter (it did: B's owners were never fetched)."""
    a = LINK + (
        "type Query { things: [Thing] } interface Thing { id: ID! } "
        "type A implements Thing { id: ID! owner: User } type B implements Thing { id: ID! owner: User } "
        'type User @key(fields: "id") { id: ID! }'
    )
    b = LINK + 'type User @key(fields: "id") { id: ID! name: String }'
    supergraph = compose(
        [
            SourceSpec(name=name, protocol=SourceKind.FEDERATION, schema=sdl, url=f"http://{name}.invalid")
            for name, sdl in (("a", a), ("b", b))
        ]
    )
    result = plan(supergraph, "{ things { ... on A { owner { name } } ... on B { owner { name } } } }")
    [[root]] = result.stages
    [[owners]] = root.stages
    assert owners.subgraph == "b" and result.fetch_count == 2
    assert owners.path == (("things", frozenset({"A", "B"})), ("owner", None))
