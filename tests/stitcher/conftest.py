"""Fixtures shared by the stitcher's tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from graphql import GraphQLEnumType
from graphql.type.introspection import introspection_types


def _introspection_enum_values() -> dict[str, dict[str, Any]]:
    return {
        name: {key: value.value for key, value in named.values.items()}
        for name, named in introspection_types.items()
        if isinstance(named, GraphQLEnumType)
    }


@pytest.fixture(autouse=True)
def _introspection_enums_untouched() -> Iterator[None]:
    """``__TypeKind`` and ``__DirectiveLocation`` are in every schema's type map as graphql-core's single instances:
    a test that changes their values breaks introspection for every later test in its worker, so it fails itself."""
    before = _introspection_enum_values()
    yield
    assert _introspection_enum_values() == before, "graphql-core's shared introspection enums were changed"
