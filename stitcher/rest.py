"""REST fetches for OpenAPI subgraphs: build the upstream request for a root field and shape its JSON response.

Pure functions, no I/O: the executor sends the :class:`RestRequest` with its transport and hands the response back.

* ``build_request(subgraph, root_type, field_name, arguments)`` -> :class:`RestRequest`. ``root_type`` is
  ``"Query"`` or ``"Mutation"``, ``field_name`` the subgraph's (upstream) field name, ``arguments`` the GraphQL
  argument values already coerced (enum values are their GraphQL names, as :mod:`stitcher.openapi` builds them).
  Path and query values are percent-encoded here (``RestRequest.url`` is sent as it is; a query's reserved
  characters are kept with ``RestParameter.allow_reserved``); arrays and objects follow ``RestParameter.explode``
  (repeated query parameters), ``RestParameter.separator`` (``a,b``, ``a%20b``, ``a|b``) and ``RestParameter.style``
  (label ``.a,b``, matrix ``;id=a,b``, deepObject ``f[k]=v``) as OpenAPI's style table writes them, and an item's
  own ``,`` or ``&`` stays encoded (``b%2Cc``); input objects are turned back into JSON
  with the original property names and enum values; the body is encoded per ``RestOperation.content_type`` (JSON,
  form, multipart or text).
* ``check_status(status, body)`` raises :class:`RestStatusError` for a non-2xx response; map it to a GraphQL error
  with ``error.extensions`` (``{"code": "UPSTREAM_HTTP_ERROR", "status": ...}``).
* ``shape_result(subgraph, return_type, body)`` parses the JSON and shapes the whole value by the field's GraphQL
  type: property names mapped back by ``json_names``, ``__typename`` on every object (the concrete type of a union
  picked by its :class:`~stitcher.ir.Discriminator`), enum values mapped to their GraphQL names, JSON scalars left
  as they are. A ``Boolean`` field of an operation without content is ``true``. Leaves are coerced as the GraphQL
  spec's result coercion says (graphql-core's serializers, plus ``BigInt``): ``"12"`` for an ``Int`` is 12, a
  number for a ``String`` its text. A value that cannot be coerced (``"high"`` for an ``Int``, an object for a
  ``String``, an enum value the schema does not list, a number where a list belongs) is never passed through: it
  is an :class:`InvalidValue` at its position, which :func:`settle` turns into ``null`` plus a field error with
  its path, as GraphQL Mesh (graphql-js) reports it. A body that is not JSON, or whose whole value does not fit,
  raises :class:`RestResponseError`; the executor reports it as an error at the field's path.
"""

from __future__ import annotations

import http
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)
from graphql.pyutils import inspect

from stitcher.errors import StitcherError
from stitcher.ir import RestBinding, RestOperation, RestParameter, Subgraph

__all__ = [
    "InvalidValue",
    "RestRequest",
    "RestResponseError",
    "RestStatusError",
    "build_request",
    "check_status",
    "settle",
    "shape_result",
    "shape_value",
]

_SUMMARY_KEYS = ("message", "detail", "title", "error_description", "error")
_SUMMARY_LENGTH = 200


class RestStatusError(StitcherError):
    """The REST upstream answered with a non-2xx status. ``summary`` is a short excerpt of its body."""

    def __init__(self, status: int, summary: str, body: Any = None) -> None:
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown Status"
        text = f"upstream responded {status} {phrase}"
        super().__init__(f"{text}: {summary}" if summary else text)
        self.status = status
        self.summary = summary
        self.body = body  # the parsed JSON error body, or None

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": "UPSTREAM_HTTP_ERROR", "status": self.status}


class RestResponseError(StitcherError):
    """The REST upstream's 2xx body does not fit the operation's schema (not JSON, or the wrong shape)."""


@dataclass(slots=True)
class RestRequest:
    """One upstream HTTP request. ``path`` is relative to the service URL and ``query`` in order, both already
    percent-encoded: an array's separators (``a,b``) stay literal while the same characters inside an item are
    encoded (``b%2Cc``), so the upstream can tell them apart. :meth:`url` is what to send (the transport must not
    decode it again)."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def url(self, base: str) -> str:
        """The request's URL under the service URL ``base``."""
        url = base.rstrip("/") + self.path
        if self.query:
            url += "?" + "&".join(f"{name}={value}" for name, value in self.query)
        return url


# -- requests ---------------------------------------------------------------------------------------------------


def _binding(subgraph: Subgraph) -> tuple[RestBinding, GraphQLSchema]:
    if subgraph.rest is None or subgraph.schema is None:
        raise StitcherError(f"subgraph {subgraph.name!r} is not a REST (OpenAPI) subgraph")
    return subgraph.rest, subgraph.schema


def _to_json(binding: RestBinding, type_: GraphQLInputType, value: Any) -> Any:
    """A coerced GraphQL input value as the JSON the upstream expects (original property names and enum values)."""
    if value is None:
        return None
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        items = value if isinstance(value, list | tuple) else [value]
        return [_to_json(binding, type_.of_type, item) for item in items]
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, Mapping):
        fields = type_.fields
        if type_.is_one_of:  # a choice between schemas (oneOf, subtypes): the chosen member's JSON is the value
            for key, item in value.items():
                if key in fields and item is not None:
                    return _to_json(binding, fields[key].type, item)
            return None
        names = binding.json_names
        return {
            names.get((type_.name, key), key): _to_json(binding, fields[key].type, item)
            for key, item in value.items()
            if key in fields
        }
    if isinstance(type_, GraphQLEnumType):
        return binding.enum_values.get(type_.name, {}).get(value, value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _plain(text: str) -> str:
    return text


def _encoded(text: str) -> str:
    return quote(text, safe="")


def _reserved_kept(text: str) -> str:
    """Percent-encoded except RFC 3986's reserved characters (``allowReserved``); ``%`` itself is encoded."""
    return quote(text, safe=_RESERVED)


_RESERVED = ":/?#[]@!$&'()*+,;="


def _joined(value: Any, explode: bool, separator: str = ",", encode: Callable[[str], str] = _plain) -> str:
    """Simple style: ``a,b,c`` for arrays, ``k,v,k2,v2`` (or ``k=v,k2=v2`` exploded) for objects. Each item goes
    through ``encode`` (percent-encoding: its own ``,`` or ``&`` too), the separators are left as they are."""

    def text(item: Any) -> str:
        return encode(_text(item))

    if isinstance(value, list):
        return separator.join(text(v) for v in value)
    if isinstance(value, dict):
        if explode:
            return separator.join(f"{text(k)}={text(v)}" for k, v in value.items())
        return separator.join(f"{text(k)}{separator}{text(v)}" for k, v in value.items())
    return text(value)


# What stands between the items of an unexploded query array, as sent (a space is %20).
_SENT_SEPARATORS = {" ": "%20", "\t": "%09"}


def _path_value(param: RestParameter, value: Any) -> str:
    """A path parameter's value in its style, as OpenAPI's style table (RFC 6570's ``{x}``, ``{.x}``, ``{;x}``)
    writes it for ``color``: simple ``blue,black`` (``R=100,G=200`` exploded), label ``.blue,black`` (``.blue.black``,
    ``.R=100.G=200`` exploded), matrix ``;color=blue,black`` (``;color=blue;color=black``, ``;R=100;G=200``
    exploded); every item percent-encoded."""
    exploded = param.explode and isinstance(value, list | dict)
    if param.style == "label":
        return "." + _joined(value, param.explode, "." if exploded else ",", _encoded)
    if param.style == "matrix":
        if not exploded:
            return _matrix_pair(_encoded(param.name), _joined(value, False, ",", _encoded))
        if isinstance(value, dict):
            return "".join(_matrix_pair(_encoded(_text(k)), _encoded(_text(v))) for k, v in value.items())
        return "".join(_matrix_pair(_encoded(param.name), _encoded(_text(v))) for v in value)
    return _joined(value, param.explode, ",", _encoded)


def _matrix_pair(name: str, text: str) -> str:
    return f";{name}={text}" if text else f";{name}"


def _query_pairs(param: RestParameter, value: Any) -> list[tuple[str, str]]:
    """A query parameter's ``(name, value)`` pairs, percent-encoded (reserved characters kept with
    ``allow_reserved``): form (exploded: ``color=blue&color=black``, ``R=100&G=200``; else ``color=blue,black``,
    ``color=R,100,G,200``), spaceDelimited and pipeDelimited (``color=blue%20black``, ``color=blue|black``), and
    deepObject (``color[R]=100&color[G]=200``, nested objects nested again, arrays repeated)."""
    encode = _reserved_kept if param.allow_reserved else _encoded
    if param.style == "deepObject" and isinstance(value, dict):
        return _deep_pairs(param.name, value, encode)
    name = encode(param.name)
    if isinstance(value, list) and param.explode:
        return [(name, encode(_text(v))) for v in value]
    if isinstance(value, dict) and param.explode:
        return [(encode(_text(k)), encode(_text(v))) for k, v in value.items() if v is not None]
    separator = _SENT_SEPARATORS.get(param.separator, param.separator)
    return [(name, _joined(value, False, separator, encode))]


def _deep_pairs(prefix: str, value: dict[str, Any], encode: Callable[[str], str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}[{key}]"
        if isinstance(item, dict):
            pairs.extend(_deep_pairs(name, item, encode))
        elif isinstance(item, list):
            pairs.extend((encode(name), encode(_text(v))) for v in item if v is not None)
        elif item is not None:
            pairs.append((encode(name), encode(_text(item))))
    return pairs


def build_request(subgraph: Subgraph, root_type: str, field_name: str, arguments: Mapping[str, Any]) -> RestRequest:
    """The upstream request for root field ``root_type.field_name`` called with ``arguments``."""
    binding, schema = _binding(subgraph)
    op = binding.operations.get((root_type, field_name))
    root = schema.get_type(root_type)
    if op is None or not isinstance(root, GraphQLObjectType) or field_name not in root.fields:
        raise StitcherError(f"subgraph {subgraph.name!r} has no REST operation for {root_type}.{field_name}")
    args = root.fields[field_name].args
    path = op.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {"Accept": "application/json"}
    cookies: list[str] = []
    for param in op.parameters:
        raw = arguments.get(param.argument)
        if raw is None:
            if param.location == "path":
                raise StitcherError(f"{root_type}.{field_name}: path parameter {param.name!r} needs a value")
            continue
        value = _to_json(binding, args[param.argument].type, raw)
        if param.location == "path":
            path = path.replace("{" + param.name + "}", _path_value(param, value))
        elif param.location == "query":
            query.extend(_query_pairs(param, value))
        elif param.location == "header":
            headers[param.name] = _joined(value, param.explode)
        else:
            cookies.append(f"{param.name}={_joined(value, False, ',', _encoded)}")
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    body: bytes | None = None
    if op.body_argument is not None and arguments.get(op.body_argument) is not None:
        value = _to_json(binding, args[op.body_argument].type, arguments[op.body_argument])
        body, content_type = _encode_body(op, value)
        headers["Content-Type"] = content_type
    return RestRequest(method=op.method, path=path, query=query, headers=headers, body=body)


def _form_pairs(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("value", _text(value))]
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if isinstance(item, list):
            pairs.extend((str(key), _text(v)) for v in item)
        elif item is not None:
            pairs.append((str(key), _text(item)))
    return pairs


def _encode_body(op: RestOperation, value: Any) -> tuple[bytes, str]:
    media = op.content_type.split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return urlencode(_form_pairs(value)).encode(), op.content_type
    if media == "multipart/form-data":
        boundary = "loom" + secrets.token_hex(12)
        parts: list[bytes] = []
        for key, text in _form_pairs(value):
            disposition = f'Content-Disposition: form-data; name="{quote(key, safe="")}"'
            parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{text}\r\n".encode())
        parts.append(f"--{boundary}--\r\n".encode())
        return b"".join(parts), f"multipart/form-data; boundary={boundary}"
    if isinstance(value, str) and not (media == "application/json" or media.endswith("+json")):
        return value.encode(), op.content_type
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), op.content_type


# -- responses --------------------------------------------------------------------------------------------------


def _summary(body: bytes) -> tuple[str, Any]:
    """A short, single-line excerpt of an error body, and the body as JSON when it is JSON."""
    text = body.decode("utf-8", "replace").strip()
    parsed: Any = None
    if text[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        for key in _SUMMARY_KEYS:
            if isinstance(parsed.get(key), str) and parsed[key].strip():
                text = parsed[key]
                break
    text = " ".join(text.split())
    return (text[: _SUMMARY_LENGTH - 1] + "…" if len(text) > _SUMMARY_LENGTH else text), parsed


def check_status(status: int, body: bytes) -> None:
    """Raise :class:`RestStatusError` unless ``status`` is 2xx."""
    if 200 <= status < 300:
        return
    summary, parsed = _summary(body)
    raise RestStatusError(status, summary, parsed)


def shape_result(
    subgraph: Subgraph,
    return_type: GraphQLOutputType,
    body: bytes,
    invalid: list[InvalidValue] | None = None,
    status: int | None = None,
) -> Any:
    """Parse a 2xx body and shape it as the GraphQL value of ``return_type`` (see the module docstring). Positions
    whose value does not fit the schema hold an :class:`InvalidValue`, also appended to ``invalid``; the root
    value not fitting raises :class:`RestResponseError`. ``status`` (the answer's HTTP status) picks the type of an
    operation whose 2xx responses have different bodies; a success without a body (204) is ``null``."""
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    text = body.strip()
    if getattr(named, "name", None) == "Boolean":
        if text in (b"true", b"false"):
            return text == b"true"
        return True  # an operation without content: success is the value
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8
        if getattr(named, "name", None) == "String":
            return body.decode("utf-8", "replace")
        raise RestResponseError(f"upstream returned a body that is not JSON: {exc}") from exc
    return shape_value(subgraph, return_type, value, invalid, status)


def shape_value(
    subgraph: Subgraph,
    return_type: GraphQLOutputType,
    value: Any,
    invalid: list[InvalidValue] | None = None,
    status: int | None = None,
) -> Any:
    """Shape already parsed JSON as the GraphQL value of ``return_type`` (see :func:`shape_result`)."""
    binding, schema = _binding(subgraph)
    found: list[InvalidValue] = [] if invalid is None else invalid
    if status is not None and isinstance(value, dict):
        return_type = _by_status(binding, schema, return_type, status)
    shaped = _shape(binding, schema, return_type, value, "", "", found)
    if isinstance(shaped, InvalidValue):  # the whole value does not fit: the root field fails
        raise RestResponseError(shaped.message)
    return shaped


def _by_status(binding: RestBinding, schema: GraphQLSchema, type_: GraphQLOutputType, status: int) -> GraphQLOutputType:
    """The member of a union of an operation's 2xx responses that answers ``status`` (``201``, else ``2XX``)."""
    named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not isinstance(named, GraphQLUnionType):
        return type_
    disc = binding.discriminators.get(named.name)
    if disc is None or disc.property_name is not None:
        return type_
    chosen = disc.mapping.get(str(status)) or disc.mapping.get(f"{str(status)[0]}XX")
    member = schema.get_type(chosen) if chosen else None
    return member if isinstance(member, GraphQLObjectType) else type_


class InvalidValue:
    """A position of a shaped REST value whose upstream value does not fit the schema (a ``"high"`` for an
    ``Int``, an object for a ``String``, an unknown enum value, an object where a list belongs). :func:`settle`
    turns each into ``null`` and a field error at its path, as GraphQL execution does; it never reaches a client."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidValue({self.message!r})"


def settle(value: Any) -> tuple[Any, list[tuple[list[str | int], str]]]:
    """Replace every :class:`InvalidValue` in a shaped (and re-keyed) value by ``None``, in place; returns the value
    and, for each one, its path relative to ``value`` and the error message."""
    found: list[tuple[list[str | int], str]] = []
    if isinstance(value, InvalidValue):
        return None, [([], value.message)]
    _settle(value, [], found)
    return value, found


def _settle(value: Any, path: list[str | int], found: list[tuple[list[str | int], str]]) -> None:
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if isinstance(item, InvalidValue):
            value[key] = None
            found.append(([*path, key], item.message))
        elif isinstance(item, dict | list):
            _settle(item, [*path, key], found)


def _is_int32(value: Any) -> bool:
    return value.__class__ is int and -(2**31) <= value < 2**31


# Values that need no coercion, by scalar name; anything else goes through the scalar's own ``serialize``.
_FITS: dict[str, Callable[[Any], bool]] = {
    "String": lambda value: value.__class__ is str,
    "ID": lambda value: value.__class__ is str,
    "Int": _is_int32,
    "Float": lambda value: value.__class__ is float or value.__class__ is int,
    "Boolean": lambda value: value.__class__ is bool,
    "BigInt": lambda value: value.__class__ is int,
    "JSON": lambda value: True,
}


def _leaf(binding: RestBinding, type_: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    """A leaf as the GraphQL spec's result coercion makes it (graphql-core's serializers: ``"12"`` is the Int 12,
    ``1`` the Boolean true), or an :class:`InvalidValue` with the serializer's message."""
    if isinstance(type_, GraphQLEnumType):
        back = binding.enum_values.get(type_.name)
        if back:
            for graphql_name, json_value in back.items():
                if json_value == value:
                    return graphql_name
        if isinstance(value, str) and value in type_.values and not (back and value in back):
            return value
        return InvalidValue(f"Enum {type_.name!r} cannot represent value: {inspect(value)}")
    fits = _FITS.get(type_.name)
    if fits is not None and fits(value):
        return value
    try:
        return type_.serialize(value)
    except (GraphQLError, TypeError, ValueError, OverflowError) as exc:
        return InvalidValue(exc.message if isinstance(exc, GraphQLError) else str(exc))


def _shape(
    binding: RestBinding,
    schema: GraphQLSchema,
    type_: GraphQLOutputType,
    value: Any,
    path: str,
    field: str,
    invalid: list[InvalidValue],
) -> Any:
    """``path`` locates ``value`` for messages about the whole body, ``field`` (``Type.field``) for field errors."""
    if value is None:
        return None
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        if not isinstance(value, list):
            if field:  # graphql-js's (and Mesh's) wording
                return _invalid(invalid, f"Expected Iterable, but did not find one for field '{field}'.")
            return _invalid(invalid, f"expected a list at {path or 'the top'}, got {type(value).__name__}")
        item_type = type_.of_type
        return [
            _shape(binding, schema, item_type, item, f"{path}[{i}]", field, invalid) for i, item in enumerate(value)
        ]
    if isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
        if not isinstance(value, dict):
            return _invalid(invalid, f"expected an object at {path or 'the top'}, got {type(value).__name__}")
        type_ = _concrete(binding, schema, type_, value)
    if isinstance(type_, GraphQLObjectType):
        if not isinstance(value, dict):
            return _invalid(invalid, f"expected an object at {path or 'the top'}, got {type(value).__name__}")
        names = binding.json_names
        type_name = type_.name
        shaped: dict[str, Any] = {"__typename": type_name}
        for name, field_def in type_.fields.items():
            item = value.get(names.get((type_name, name), name))
            if item is None:
                shaped[name] = None
            else:
                label = f"{type_name}.{name}"
                shaped[name] = _shape(binding, schema, field_def.type, item, f"{path}.{name}", label, invalid)
        return shaped
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        leaf = _leaf(binding, type_, value)
        if isinstance(leaf, InvalidValue):
            invalid.append(leaf)
        return leaf
    return value


def _invalid(invalid: list[InvalidValue], message: str) -> InvalidValue:
    found = InvalidValue(message)
    invalid.append(found)
    return found


def _concrete(
    binding: RestBinding,
    schema: GraphQLSchema,
    abstract: GraphQLUnionType | GraphQLInterfaceType,
    value: dict[str, Any],
) -> GraphQLObjectType:
    """The object type of a union/interface value. The discriminator's value decides when it names a type;
    otherwise the properties present do: the types that declare every property of the value, narrowed to those
    whose required properties are all present, then the one declaring most of them (the first on a tie); when no
    type declares them all, the types whose required properties are present, then the largest overlap."""
    candidates = schema.get_possible_types(abstract)
    if not candidates:
        raise RestResponseError(f"{abstract.name} has no possible types")
    disc = binding.discriminators.get(abstract.name)
    if disc is not None and disc.property_name is not None and disc.property_name in value:
        chosen = disc.mapping.get(_text(value[disc.property_name]))
        for candidate in candidates:
            if candidate.name == chosen:
                return candidate
    if len(candidates) == 1:
        return candidates[0]
    names = binding.json_names
    present = {key for key, item in value.items() if item is not None}
    declared = {t.name: {names.get((t.name, f), f) for f in t.fields} for t in candidates}
    pool = [t for t in candidates if present <= declared[t.name]] or list(candidates)
    if len(pool) > 1:
        required = disc.required if disc is not None else {}
        pool = [t for t in pool if required.get(t.name, frozenset()) <= present] or pool
    return max(pool, key=lambda t: len(present & declared[t.name]))
