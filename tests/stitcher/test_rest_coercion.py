"""REST answers that break their own schema are coerced as the GraphQL spec says, and what cannot be coerced is a
field error with its path (null in the result), never passed through; through Loom against a real upstream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLScalarType,
    build_schema,
    execute_sync,
    graphql_sync,
    is_introspection_type,
    parse,
    print_schema,
)
from hypothesis import HealthCheck, given, settings, strategies as st

from stitcher.composition import compose
from stitcher.ir import SourceKind
from stitcher.openapi import BIG_INT, JSON_SCALAR
from stitcher.sources import EntityConfig, SourceSpec
from tests._serving import serving
from tests.stitcher.rest_gateway import get_json, openapi, run, supergraph_of, upstream
from tests.stitcher.upstreams.scripted import ScriptedRestApp

__all__ = ["upstream"]  # the fixture

THING = {
    "type": "object",
    "required": ["must"],
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "name": {"type": "string"},
        "flag": {"type": "boolean"},
        "status": {"type": "string", "enum": ["in-progress", "done"]},
        "big": {"type": "integer", "format": "int64"},
        "meta": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "integer"}},
        "must": {"type": "integer"},
        "inner": {
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer"}, "label": {"type": "string"}},
        },
    },
}
QUERY = "{ thing { count ratio name flag status big meta tags must inner { n label } } }"


def errors_by_path(errors: list[dict[str, Any]] | None) -> dict[tuple[Any, ...], str]:
    return {tuple(e["path"]): _wording(e["message"]) for e in errors or []}


def _wording(message: str) -> str:
    """Loom names the field by its path where graphql-core names it by its type; the rest is the same text."""
    null = "Cannot return null for non-nullable field"
    return null if message.startswith(null) else message


async def test_coercible_values_are_coerced(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    supergraph = supergraph_of(openapi({"/thing": get_json("thing", THING)}), url)
    app.answer(
        "GET",
        "/thing",
        {
            "count": "12",
            "ratio": "1.5",
            "name": 42,
            "flag": 1,
            "status": "in-progress",
            "big": "9007199254740993",
            "meta": {"any": ["thing", 1]},
            "tags": [1, 2.0, "3"],
            "must": True,
            "inner": {"n": 7, "label": False},
        },
    )
    response = await run(supergraph, QUERY)
    assert response.errors is None
    assert response.data == {
        "thing": {
            "count": 12,
            "ratio": 1.5,
            "name": "42",
            "flag": True,
            "status": "in_progress",
            "big": 9007199254740993,
            "meta": {"any": ["thing", 1]},
            "tags": [1, 2, 3],
            "must": 1,
            "inner": {"n": 7, "label": "false"},
        }
    }


async def test_values_that_cannot_be_coerced_are_field_errors_with_paths(upstream: tuple[ScriptedRestApp, str]) -> None:
    app, url = upstream
    supergraph = supergraph_of(openapi({"/thing": get_json("thing", THING)}), url)
    app.answer(
        "GET",
        "/thing",
        {
            "count": "high",
            "ratio": "much",
            "name": {"first": "Ada"},
            "flag": "yes",
            "status": "cancelled",
            "big": "lots",
            "tags": [1, "two", 3],  # items are non-null: the bad item nulls the list
            "must": 3,
            "inner": {"n": 2**40, "label": "kept"},  # n is non-null: inner becomes null
        },
    )
    response = await run(supergraph, QUERY)
    assert response.data == {
        "thing": {
            "count": None,
            "ratio": None,
            "name": None,
            "flag": None,
            "status": None,
            "big": None,
            "meta": None,
            "tags": None,
            "must": 3,
            "inner": None,
        }
    }
    assert errors_by_path(response.errors) == {
        ("thing", "count"): "Int cannot represent non-integer value: 'high'",
        ("thing", "ratio"): "Float cannot represent non numeric value: 'much'",
        ("thing", "name"): "String cannot represent value: {'first': 'Ada'}",
        ("thing", "flag"): "Boolean cannot represent a non boolean value: 'yes'",
        ("thing", "status"): "Enum 'ThingResponseStatus' cannot represent value: 'cancelled'",
        ("thing", "big"): "BigInt cannot represent non-integer value: 'lots'",
        ("thing", "tags", 1): "Int cannot represent non-integer value: 'two'",
        ("thing", "inner", "n"): "Int cannot represent non 32-bit signed integer value: 1099511627776",
    }
    assert all(e["extensions"]["code"] == "UPSTREAM_INVALID_VALUE" for e in response.errors or [])


async def test_a_bad_non_null_value_nulls_its_parent_and_aliases_keep_their_paths(
    upstream: tuple[ScriptedRestApp, str],
) -> None:
    app, url = upstream
    supergraph = supergraph_of(openapi({"/thing": get_json("thing", THING)}), url)
    app.answer("GET", "/thing", {"must": "many", "count": 1, "tags": {"not": "a list"}})
    response = await run(supergraph, "{ a: thing { c: count must } b: thing { t: tags } }")
    assert response.data == {"a": None, "b": {"t": None}}
    assert errors_by_path(response.errors) == {
        ("a", "must"): "Int cannot represent non-integer value: 'many'",
        ("b", "t"): "Expected Iterable, but did not find one for field 'ThingResponse.tags'.",
    }


# -- property: Loom's answer equals graphql-core executing the same schema over the upstream's JSON -----------------

_LEAVES: dict[str, dict[str, Any]] = {
    "Int": {"type": "integer"},
    "Float": {"type": "number"},
    "String": {"type": "string"},
    "Boolean": {"type": "boolean"},
    "BigInt": {"type": "integer", "format": "int64"},
    "Colour": {"type": "string", "enum": ["red", "green", "blue"]},
}
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["12", "-3", "1.5", "high", "", "red", "RED", "true", "yes", "9007199254740993"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), children, max_size=2)
    ),
    max_leaves=4,
)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(["p", "q", "r", "s", "t"]), min_size=1, max_size=4, unique=True))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in names:
        leaf = _LEAVES[draw(st.sampled_from(sorted(_LEAVES)))]
        properties[name] = {"type": "array", "items": leaf} if draw(st.booleans()) else leaf
        if draw(st.booleans()):
            required.append(name)
    schema = {"type": "object", "properties": properties, **({"required": required} if required else {})}
    value = {name: draw(_JSON_VALUES) for name in names if draw(st.integers(0, 5))}
    return schema, value


def _oracle(sdl: str, value: Any) -> tuple[Any, dict[tuple[Any, ...], str]]:
    """graphql-core's own execution of the subgraph's schema, resolving from the upstream JSON as it is."""
    schema = build_schema(sdl)
    for named in schema.type_map.values():
        if is_introspection_type(named):  # graphql-core's own, shared by every schema in the process
            continue
        if isinstance(named, GraphQLScalarType) and named.name in ("BigInt", "JSON"):
            coerce = (BIG_INT if named.name == "BigInt" else JSON_SCALAR).serialize
            for attribute in ("serialize", "coerce_output_value"):  # graphql-core 3.2, 3.3
                if hasattr(named, attribute):
                    setattr(named, attribute, coerce)
        if isinstance(named, GraphQLEnumType):
            for enum_value in named.values.values():
                enum_value.value = None  # serialize by name: JSON values are the names here
    query = "{ thing { " + " ".join(_fields(schema)) + " } }"
    result = execute_sync(schema, parse(query), {"thing": value})
    errors = {tuple(e.path or ()): _wording(e.message) for e in result.errors or []}
    return result.data, errors


def _fields(schema: Any) -> list[str]:
    thing = schema.query_type.fields["thing"].type
    return list(getattr(thing, "of_type", thing).fields)


def test_the_oracle_leaves_the_introspection_types_every_schema_shares_alone() -> None:
    """The oracle serializes enums by name by clearing their values, and ``__TypeKind`` and ``__DirectiveLocation``
    are enums in every schema's type map: graphql-core's single instances, shared by the whole process. Clearing
    theirs broke every later introspection in the same worker ("Enum '__TypeKind' cannot represent value")."""
    sdl = "enum Status { ON OFF }\ntype Thing { status: Status }\ntype Query { thing: Thing }"
    assert _oracle(sdl, {"status": "ON"}) == ({"thing": {"status": "ON"}}, {})
    other = build_schema("type Query { a: Int }")
    result = graphql_sync(other, "{ __schema { queryType { kind } directives { name locations } } }")
    assert result.errors is None and result.data is not None
    assert result.data["__schema"]["queryType"] == {"kind": "OBJECT"}
    assert {"name": "skip", "locations": ["FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"]} in result.data["__schema"][
        "directives"
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_cases())
def test_execution_through_loom_equals_graphql_execution_over_the_upstream_data(
    upstream: tuple[ScriptedRestApp, str], case: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    schema, value = case
    app, url = upstream
    supergraph = supergraph_of(openapi({"/thing": get_json("thing", schema)}), url)
    subgraph = supergraph.subgraphs["svc"].schema
    assert subgraph is not None
    app.answer("GET", "/thing", value)
    expected_data, expected_errors = _oracle(print_schema(subgraph), value)
    query = "{ thing { " + " ".join(_fields(subgraph)) + " } }"
    response = asyncio.run(run(supergraph, query))
    assert response.data == expected_data
    assert errors_by_path(response.errors) == expected_errors


def _book_service(name: str, schema: dict[str, Any], listing: bool) -> dict[str, Any]:
    isbn = [{"name": "isbn", "in": "path", "required": True, "schema": {"type": "string"}}]
    book = {"$ref": "#/components/schemas/Book"}
    paths = {f"/{name}/{{isbn}}": get_json(f"{name}Book", book, parameters=isbn)}
    if listing:
        paths["/books"] = get_json("books", {"type": "array", "items": book})
    return openapi(paths, {"Book": schema})


async def test_values_fetched_for_entities_are_field_errors_at_the_entitys_path(
    upstream: tuple[ScriptedRestApp, str],
) -> None:
    """Book comes from `catalog`; `stock` adds its count by key: a bad count is an error at books[0].count."""
    catalog_app, catalog_url = upstream
    stock_app = ScriptedRestApp()
    title = {"isbn": {"type": "string"}, "title": {"type": "string"}}
    count = {
        "isbn": {"type": "string"},
        "count": {"type": "integer"},
        "shelf": {"type": "object", "properties": {"row": {"type": "integer"}}},
    }
    with serving(stock_app, "stock upstream") as stock_url:
        supergraph = compose(
            [
                SourceSpec(
                    "catalog",
                    SourceKind.OPENAPI,
                    json.dumps(
                        _book_service("catalog", {"type": "object", "required": ["isbn"], "properties": title}, True)
                    ),
                    url=catalog_url,
                    entities={"Book": EntityConfig(key="isbn", operation="catalogBook")},
                ),
                SourceSpec(
                    "stock",
                    SourceKind.OPENAPI,
                    json.dumps(
                        _book_service("stock", {"type": "object", "required": ["isbn"], "properties": count}, False)
                    ),
                    url=stock_url,
                    entities={"Book": EntityConfig(key="isbn", operation="stockBook")},
                ),
            ]
        )
        catalog_app.answer("GET", "/books", [{"isbn": "1", "title": "One"}, {"isbn": "2", "title": "Two"}])
        stock_app.answer("GET", "/stock/1", {"isbn": "1", "count": "many", "shelf": {"row": "x"}})
        stock_app.answer("GET", "/stock/2", {"isbn": "2", "count": 3, "shelf": {"row": 2}})
        response = await run(supergraph, "{ books { title count shelf { row } } }")
    assert response.data == {
        "books": [
            {"title": "One", "count": None, "shelf": {"row": None}},
            {"title": "Two", "count": 3, "shelf": {"row": 2}},
        ]
    }
    assert errors_by_path(response.errors) == {
        ("books", 0, "count"): "Int cannot represent non-integer value: 'many'",
        ("books", 0, "shelf", "row"): "Int cannot represent non-integer value: 'x'",
    }
