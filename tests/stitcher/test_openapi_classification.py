"""The classification's shortcut for plain scalar schemas (``{type: string}``, most properties of a real spec) says
what the full walk says, for any schema: the same kind when it answers, and it answers only where the schema is
not nullable."""

from __future__ import annotations

from typing import Any

from hypothesis import given, strategies as st

from stitcher.ir import SourceKind
from stitcher.openapi.classification import Classifier, Kind, nullable, plain_scalar
from stitcher.openapi.context import Context, Location, Node
from stitcher.sources import SourceSpec

_TYPES = st.one_of(
    st.sampled_from(["string", "integer", "number", "boolean", "file", "object", "array", "null", "x"]),
    st.lists(st.sampled_from(["string", "integer", "null"]), max_size=2),
)
_KEYS = ["format", "description", "maxLength", "enum", "const", "nullable", "x-nullable", "items", "properties"]
_KEYS += ["allOf", "oneOf", "anyOf", "default", "readOnly", "$ref"]
_VALUES: list[Any] = ["int64", "int32", "date-time", True, False, None, ["a", None], ["a"], [], {}, {"type": "string"}]
_VALUES += [[{"type": "string"}], [{"type": "null"}, {"type": "integer"}], {"a": {"type": "string"}}, "#/x"]
_EXTRA = st.dictionaries(
    st.sampled_from(_KEYS),
    st.sampled_from(_VALUES),
    max_size=3,
)


def _classifier() -> Classifier:
    spec = SourceSpec("svc", SourceKind.OPENAPI, "{}", url="http://127.0.0.1:9")
    return Classifier(Context(spec, {"openapi": "3.0.3", "x": {"type": "string"}}, swagger=False))


@given(json_type=_TYPES, extra=_EXTRA)
def test_the_plain_scalar_shortcut_agrees_with_the_full_classification(json_type: Any, extra: dict[str, Any]) -> None:
    value = {"type": json_type, **extra}
    kind = plain_scalar(value)
    if kind is None:
        return
    assert kind.is_scalar
    assert kind is _classifier().kind(Node(value, Location("", "/components/schemas/S"), ""))
    assert not nullable(value)


def test_the_shortcut_answers_the_common_cases() -> None:
    assert plain_scalar({"type": "string", "description": "d", "maxLength": 3}) is Kind.STRING
    assert plain_scalar({"type": "integer", "format": "int64"}) is Kind.BIG_INT
    assert plain_scalar({"type": "integer"}) is Kind.INT
    assert plain_scalar({"type": "number"}) is Kind.FLOAT
    assert plain_scalar({"type": "boolean", "default": True}) is Kind.BOOLEAN
    for not_plain in ({"type": "string", "enum": ["a"]}, {"type": "string", "nullable": True}, {"type": ["string"]}):
        assert plain_scalar(not_plain) is None
