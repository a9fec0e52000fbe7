"""``@composeDirective`` (Federation 2.1): a subgraph that ``@link``s its own spec and lists a directive in
``@composeDirective`` gets the directive's definition and its applications kept in the product schema and the
supergraph, as Apollo composition does. ``shop`` composes a type-system directive (``@cacheHint`` on objects and
fields) and an executable one (``@locale`` on fields, which its resolver reads); ``reviews`` defines neither, so it
never receives ``@locale``."""

from __future__ import annotations

from typing import Any

import pytest

from stitcher.composition import compose
from stitcher.errors import CompositionError, SchemaError
from stitcher.ir import SourceKind
from stitcher.sources import SourceSpec
from stitcher.supergraph import load_supergraph, print_product_sdl, print_supergraph_sdl
from stitcher.transport import AiohttpTransport
from tests.stitcher.federation.kit import LINK, Gateway, Subgraph, compose_subgraphs, gateway_fixture, supergraph_sdl

SPEC = "https://specs.example.com/shop/v1.0"
COMPOSE = "directive @composeDirective(name: String!) repeatable on SCHEMA\n"
SHOP_HEAD = (
    f'extend schema @link(url: "{SPEC}", import: ["@cacheHint", "@locale"])\n'
    '  @composeDirective(name: "@cacheHint") @composeDirective(name: "@locale")\n'
    + COMPOSE
    + "directive @locale(lang: String!) on FIELD\n"
)
CACHE_HINT = '"How long a cache may keep it."\ndirective @cacheHint(maxAge: Int!) on OBJECT | FIELD_DEFINITION\n'
NAMES = {"de": "Fahrrad", "fr": "Vélo"}


def _name(info: Any) -> str:
    for directive in info.field_nodes[0].directives or ():
        if directive.name.value == "locale":
            lang = next(iter(directive.arguments or ())).value
            return NAMES.get(getattr(lang, "value", ""), "Bicycle")
    return "Bicycle"


def _product(product_id: str) -> dict[str, Any]:
    return {"id": product_id, "name": _name}


SHOP = Subgraph(
    "shop",
    SHOP_HEAD
    + CACHE_HINT
    + "type Query { product: Product @cacheHint(maxAge: 30) }\n"
    + 'type Product @key(fields: "id") @cacheHint(maxAge: 60) { id: ID! name: String! }',
    entities=["Product"],
    query={"product": lambda: _product("p1")},
    resolve=lambda rep: _product(rep["id"]),
)
REVIEWS = Subgraph(
    "reviews",
    'type Product @key(fields: "id") { id: ID! review: String! }',
    entities=["Product"],
    resolve=lambda rep: {"id": rep["id"], "review": "great"},
)
served = gateway_fixture(SHOP, REVIEWS)


def test_the_definition_and_its_applications_reach_the_product_and_the_supergraph() -> None:
    sg = compose_subgraphs((SHOP, REVIEWS))
    product = print_product_sdl(sg)
    assert '"How long a cache may keep it."\ndirective @cacheHint(maxAge: Int!) on OBJECT | FIELD_DEFINITION' in product
    assert "directive @locale(lang: String!) on FIELD" in product
    assert "product: Product @cacheHint(maxAge: 30)" in product
    assert "type Product @cacheHint(maxAge: 60) {" in product
    assert not [w for w in sg.warnings if "cacheHint" in w or "locale" in w]  # kept, so nothing to warn about
    supergraph = print_supergraph_sdl(sg)
    assert f'@link(url: "{SPEC}", import: ["@cacheHint", "@locale"])' in supergraph
    assert "directive @cacheHint(maxAge: Int!) on OBJECT | FIELD_DEFINITION" in supergraph
    assert '@join__type(graph: SHOP, key: "id") @join__type(graph: REVIEWS, key: "id") @cacheHint(maxAge: 60)' in (
        supergraph
    )
    loaded = load_supergraph(supergraph)
    assert print_product_sdl(loaded) == product and print_supergraph_sdl(loaded) == supergraph


def test_without_compose_directive_a_type_system_directive_is_still_a_warning() -> None:
    sdl = CACHE_HINT + "type Query { product: Product @cacheHint(maxAge: 30) }\ntype Product { id: ID! }"
    plain = Subgraph("shop", sdl)
    sg = compose_subgraphs((plain,))
    assert "@cacheHint" not in print_product_sdl(sg)
    assert any(w.startswith('@cacheHint: a type-system directive of service "shop"') for w in sg.warnings)


def test_different_definitions_are_a_conflict_naming_both_services() -> None:
    other = Subgraph(
        "catalog",
        f'extend schema @link(url: "{SPEC}", import: ["@cacheHint"]) @composeDirective(name: "@cacheHint")\n'
        + COMPOSE
        + "directive @cacheHint(maxAge: Int!, scope: String) on OBJECT | FIELD_DEFINITION\n"
        + 'type Product @key(fields: "id") @cacheHint(maxAge: 5) { id: ID! sku: String! }',
    )
    with pytest.raises(CompositionError) as caught:
        compose_subgraphs((SHOP, other))
    [conflict] = [c for c in caught.value.conflicts if c.startswith("@cacheHint")]
    assert 'service "shop" defines "' in conflict and 'service "catalog" "directive @cacheHint(maxAge: Int!, ' in (
        conflict
    )


def _catalog(version: str) -> Subgraph:
    """A second subgraph composing ``@cacheHint`` from ``version`` of the shop spec, with a ``scope`` argument."""
    return Subgraph(
        "catalog",
        f'extend schema @link(url: "{SPEC.removesuffix("v1.0")}{version}", import: ["@cacheHint"])\n'
        '  @composeDirective(name: "@cacheHint")\n'
        + COMPOSE
        + "directive @cacheHint(maxAge: Int!, scope: String) on OBJECT | FIELD_DEFINITION\n"
        + 'type Product @key(fields: "id") @cacheHint(maxAge: 5, scope: "public") { id: ID! sku: String! }',
    )


def test_definitions_of_one_major_version_merge_to_the_newest_minor() -> None:
    """``shop`` imports ``@cacheHint`` from v1.0 and ``catalog`` from v1.1 with one more argument: as Apollo does,
    the newest minor's definition is the product's, and the supergraph links v1.1; the same in either order. Both
    apply the non-repeatable ``@cacheHint`` to ``Product`` differently: the first service's is kept, with a warning
    naming the other."""
    for subgraphs in ((SHOP, _catalog("v1.1")), (_catalog("v1.1"), SHOP)):
        sg = compose_subgraphs(subgraphs)
        product = print_product_sdl(sg)
        assert "directive @cacheHint(maxAge: Int!, scope: String) on OBJECT | FIELD_DEFINITION" in product
        assert "directive @cacheHint(maxAge: Int!) on" not in product
        shop, catalog = (
            '@cacheHint(maxAge: 60) (service "shop")',
            '@cacheHint(maxAge: 5, scope: "public") (service "catalog")',
        )
        kept, left = (shop, catalog) if subgraphs[0] is SHOP else (catalog, shop)
        assert f"type Product {kept.split(' (')[0]} {{" in product
        assert (
            "@cacheHint on Product: a non-repeatable directive applied differently by the services: "
            f"{kept} is kept, {left} is left out"
        ) in sg.warnings
        supergraph = print_supergraph_sdl(sg)
        assert '@link(url: "https://specs.example.com/shop/v1.1", import: ["@cacheHint"' in supergraph
        assert print_product_sdl(load_supergraph(supergraph)) == product


def test_different_major_versions_are_a_conflict_naming_both_services() -> None:
    with pytest.raises(CompositionError) as caught:
        compose_subgraphs((SHOP, _catalog("v2.0")))
    assert (
        "@cacheHint: composed from different major versions of https://specs.example.com/shop: "
        'https://specs.example.com/shop/v1.0 in service "shop" and https://specs.example.com/shop/v2.0 in service '
        '"catalog" (use one major version)'
    ) in caught.value.conflicts


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (
            'extend schema @composeDirective(name: "@cacheHint")\n' + CACHE_HINT,
            "@cacheHint is not imported from a spec",
        ),
        (
            f'extend schema @link(url: "{SPEC}", import: ["@gone"]) @composeDirective(name: "@gone")\n',
            "the subgraph defines no directive @gone",
        ),
        ('extend schema @composeDirective(name: "@key")\n', "@key is a built-in or federation directive"),
        ('extend schema @composeDirective(name: "cacheHint")\n' + CACHE_HINT, 'name a directive with its "@"'),
    ],
)
def test_what_cannot_be_composed_is_refused_naming_it(head: str, message: str) -> None:
    sdl = LINK + head + COMPOSE + "type Query { ok: Boolean }"
    with pytest.raises(SchemaError, match=message):
        compose([SourceSpec("shop", SourceKind.FEDERATION, sdl, url="http://127.0.0.1:9/shop")])


async def test_a_composed_executable_directive_goes_to_the_subgraph_serving_the_field(
    served: Gateway, transport: AiohttpTransport
) -> None:
    query = '{ product { name @locale(lang: "de") review } }'
    for response in await served.both(transport, query):
        assert response.errors is None
        assert response.data == {"product": {"name": "Fahrrad", "review": "great"}}
    assert '@locale(lang: "de")' in served.requests("shop")[-1]["query"]
    assert "@" not in served.requests("reviews")[-1]["query"]


def test_a_supergraph_composed_elsewhere_keeps_its_composed_directives() -> None:
    """Apollo's composition writes a composed directive's spec (``@link(url:, import:)``), its definition and its
    applications into the supergraph: loading keeps them, and the product and supergraph SDLs print them again."""
    body = (
        f'extend schema @link(url: "{SPEC}", import: ["@cacheHint"])\n'
        + CACHE_HINT
        + "type Query @join__type(graph: SHOP) { product: Product @cacheHint(maxAge: 30) }\n"
        + 'type Product @join__type(graph: SHOP, key: "id") @cacheHint(maxAge: 60) { id: ID! name: String! }\n'
    )
    loaded = load_supergraph(supergraph_sdl(body, {"shop": "http://127.0.0.1:9/shop"}))
    assert loaded.composed_directives == {"cacheHint": SPEC}
    product = print_product_sdl(loaded)
    assert "directive @cacheHint(maxAge: Int!) on OBJECT | FIELD_DEFINITION" in product
    assert "product: Product @cacheHint(maxAge: 30)" in product and "type Product @cacheHint(maxAge: 60) {" in product
    assert f'@link(url: "{SPEC}", import: ["@cacheHint"])' in print_supergraph_sdl(loaded)


def test_an_application_on_the_schema_itself_is_kept() -> None:
    """``extend schema @owner(team: "shop")``: the product SDL prints it on its schema block, the supergraph on its
    own, and a loaded supergraph keeps it (also one composed elsewhere: read from its schema's directives)."""
    owned = Subgraph(
        "shop",
        f'extend schema @link(url: "{SPEC}", import: ["@owner"]) @composeDirective(name: "@owner")\n'
        '  @owner(team: "shop")\n' + COMPOSE + "directive @owner(team: String!) on SCHEMA | OBJECT\n"
        'type Query { product: Product }\ntype Product @key(fields: "id") @owner(team: "catalog") { id: ID! }',
        entities=["Product"],
    )
    sg = compose_subgraphs((owned,))
    product = print_product_sdl(sg)
    assert 'schema @owner(team: "shop") {\n  query: Query\n}' in product
    assert 'type Product @owner(team: "catalog") {' in product
    supergraph = print_supergraph_sdl(sg)
    assert f'\n  @link(url: "{SPEC}", import: ["@owner"])\n  @owner(team: "shop")\n' in supergraph
    loaded = load_supergraph(supergraph)
    assert print_product_sdl(loaded) == product and print_supergraph_sdl(loaded) == supergraph
    body = (
        f'extend schema @link(url: "{SPEC}", import: ["@owner"]) @owner(team: "shop")\n'
        "directive @owner(team: String!) on SCHEMA | OBJECT\n"
        "type Query @join__type(graph: SHOP) { product: Product }\n"
        'type Product @join__type(graph: SHOP, key: "id") { id: ID! }\n'
    )
    elsewhere = load_supergraph(supergraph_sdl(body, {"shop": "http://127.0.0.1:9/shop"}))
    assert 'schema @owner(team: "shop") {\n  query: Query\n}' in print_product_sdl(elsewhere)


META = "directive @meta(note: String!) on ARGUMENT_DEFINITION | OBJECT | FIELD_DEFINITION\n"


def _metered(name: str, sdl: str, *, composes: bool = True) -> Subgraph:
    """A subgraph that defines ``@meta`` (importing it from its spec, composing it when ``composes``)."""
    compose_it = '@composeDirective(name: "@meta")' if composes else ""
    head = f'extend schema @link(url: "https://specs.example.com/meta/v1.0", import: ["@meta"]) {compose_it}\n'
    return Subgraph(name, head + COMPOSE + META + sdl, entities=["Product"])


def test_applications_on_the_arguments_of_a_directive_definition_are_kept() -> None:
    """``directive @locale(lang: String! @meta(...)) on FIELD``: the argument of a directive the product keeps (one
    composed, and an executable one merged from a service) keeps the composed directive applied to it, in the
    product SDL and the supergraph, and a loaded supergraph prints it again."""
    shop = _metered(
        "shop",
        '"Where the query runs."\ndirective @inContext(country: String @meta(note: "ISO 3166")) on QUERY\n'
        'type Query { product: Product }\ntype Product @key(fields: "id") { id: ID! }',
    )
    sg = compose_subgraphs((shop,))
    product = print_product_sdl(sg)
    assert 'directive @inContext(country: String @meta(note: "ISO 3166")) on QUERY' in product
    assert not [w for w in sg.warnings if "meta" in w]
    supergraph = print_supergraph_sdl(sg)
    assert 'directive @inContext(country: String @meta(note: "ISO 3166")) on QUERY' in supergraph
    loaded = load_supergraph(supergraph)
    assert print_product_sdl(loaded) == product and print_supergraph_sdl(loaded) == supergraph
    composed_arg = Subgraph(
        "shop",
        SHOP_HEAD.replace("lang: String!", "lang: String! @cacheHint(maxAge: 1)")
        + CACHE_HINT.replace("OBJECT |", "OBJECT | ARGUMENT_DEFINITION |")
        + 'type Query { product: Product }\ntype Product @key(fields: "id") { id: ID! }',
        entities=["Product"],
    )
    sg = compose_subgraphs((composed_arg,))
    product = print_product_sdl(sg)
    assert "directive @locale(lang: String! @cacheHint(maxAge: 1)) on FIELD" in product
    supergraph = print_supergraph_sdl(sg)
    assert "directive @locale(lang: String! @cacheHint(maxAge: 1)) on FIELD" in supergraph
    assert print_product_sdl(load_supergraph(supergraph)) == product


def test_applications_composition_cannot_keep_are_warnings_naming_their_coordinates() -> None:
    """Nothing is left out silently: an application on the argument of a directive the product leaves out, the
    applications of a service that defines the directive without composing it (Apollo leaves them out too), and a
    second, different application of a non-repeatable directive on one element (the product keeps one)."""
    shop = _metered(
        "shop",
        'directive @audit(level: Int @meta(note: "1-3")) on OBJECT\n'
        'type Query { product: Product @meta(note: "entry") }\n'
        'type Product @key(fields: "id") @meta(note: "shop") { id: ID! }',
    )
    other = _metered(
        "other",
        'type Product @key(fields: "id") @meta(note: "other") { id: ID! price: Int @meta(note: "cents") }',
        composes=False,
    )
    sg = compose_subgraphs((shop, other))
    product = print_product_sdl(sg)
    assert 'type Product @meta(note: "shop") {' in product and "@audit" not in product
    assert '"other"' not in product and "cents" not in product
    assert (
        '@meta on @audit(level:) in service "shop": left out with the directive @audit it is applied to'
    ) in sg.warnings
    assert (
        '@meta: service "other" defines it without @composeDirective, so its applications (on Product, '
        'Product.price) are left out (add @composeDirective(name: "@meta") to its schema to keep them)'
    ) in sg.warnings
    both = _metered("other", 'type Product @key(fields: "id") @meta(note: "other") { id: ID! }')
    sg = compose_subgraphs((shop, both))
    product = print_product_sdl(sg)
    assert 'type Product @meta(note: "shop") {' in product
    assert (
        '@meta on Product: a non-repeatable directive applied differently by the services: @meta(note: "shop") '
        '(service "shop") is kept, @meta(note: "other") (service "other") is left out'
    ) in sg.warnings
    assert print_product_sdl(load_supergraph(print_supergraph_sdl(sg))) == product


def test_a_type_system_directive_applied_only_to_a_directive_argument_is_counted_as_applied() -> None:
    sdl = META + 'directive @inContext(country: String @meta(note: "ISO")) on QUERY\ntype Query { ok: Boolean }'
    sg = compose_subgraphs((Subgraph("shop", sdl),))
    assert "directive @inContext(country: String) on QUERY" in print_product_sdl(sg)
    assert any(
        w.startswith('@meta: a type-system directive of service "shop"') and "applied 1 time)" in w for w in sg.warnings
    )


def test_applications_of_a_plain_graphql_service_that_cannot_compose_are_a_warning() -> None:
    """A plain GraphQL service defines and applies the directive a Federation subgraph composes: it cannot compose
    it itself, so its applications are left out, and the report says so."""
    shop = _metered(
        "shop", 'type Query { product: Product }\ntype Product @key(fields: "id") @meta(note: "shop") { id: ID! }'
    )
    plain = SourceSpec(
        "legacy",
        SourceKind.GRAPHQL,
        META + 'type Query { legacy: Int @meta(note: "old") }',
        url="http://127.0.0.1:9/legacy",
    )
    sg = compose([SourceSpec("shop", SourceKind.FEDERATION, LINK + shop.sdl, url="http://127.0.0.1:9/shop"), plain])
    product = print_product_sdl(sg)
    assert 'type Product @meta(note: "shop") {' in product and '"old"' not in product
    assert (
        '@meta: service "legacy" applies it 1 time, but only a Federation subgraph can compose a directive '
        "(@composeDirective): those applications are left out"
    ) in sg.warnings
