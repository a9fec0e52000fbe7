"""OpenAPI 2.0 (Swagger), 3.0 and 3.1 documents as GraphQL subgraphs.

:func:`subgraph_from_openapi` turns a REST service's description into a :class:`~stitcher.ir.Subgraph` whose schema
is always a valid GraphQL schema and whose :class:`~stitcher.ir.RestBinding` tells :mod:`stitcher.rest` how to build
requests and shape responses. Decisions worth knowing:

* GET and HEAD operations become ``Query`` fields, every other method a ``Mutation`` field. The field is named by
  the operationId in camelCase (``list_books`` -> ``listBooks``), else by method and path
  (``GET /books/{isbn}`` -> ``getBooksByIsbn``); names are claimed in document order, operationIds first, so a new
  operation never renames an existing one. Root fields are nullable: a failed fetch is ``null`` plus an error.
* The field's type is the schema of the lowest 2xx response that has content (``default`` when there is no 2xx).
  An operation whose success has no content (204, HEAD, no schema) returns ``Boolean``: ``true`` on success.
* Parameters become arguments (sanitized camelCase names; :class:`~stitcher.ir.RestParameter` keeps the original),
  the request body the argument ``input``. ``Accept``, ``Content-Type`` and ``Authorization`` header parameters are
  left to the gateway, as OpenAPI 3 says.
* Object schemas become object types (output) and input object types (input, named ``<Name>Input``), named after
  their component/definition or, when inline, after where they appear (``PlaceHoldInput``, ``BookFormat``).
  ``readOnly`` properties are left out of input types and ``writeOnly`` ones out of output types. ``allOf`` merges
  its members; ``oneOf``/``anyOf`` of objects becomes a union resolved by the discriminator (explicit mapping,
  schema names and single-valued ``enum``/``const`` of the discriminator property) or, without one, by each member's
  required properties. A base schema with a ``discriminator`` that other schemas extend through ``allOf``
  (Swagger's inheritance) becomes an interface that they implement. Recursive schemas are recursive types. A property
  is non-null when it is required and not nullable; list items are non-null unless nullable. ``integer`` with
  ``format: int64`` is the ``BigInt`` scalar (GraphQL ``Int`` is 32-bit).
* Property, parameter and enum names that are valid GraphQL names are kept as they are and win over sanitized ones
  (``type`` stays, ``@type`` becomes ``type2``); ``RestBinding.json_names`` lists only the renamed ones.
* String enums become enum types; a value that is not a valid GraphQL name is sanitized (``in-progress`` ->
  ``in_progress``) and mapped back through ``RestBinding.enum_values``. Enum values' internal values are their
  GraphQL names. Numeric enums are just ``Int``/``Float``.
* Whatever cannot be typed (free-form objects, ``additionalProperties`` maps, mixed primitive unions, ``oneOf`` in
  input, unresolvable or refused ``$ref``) becomes the ``JSON`` scalar and adds a warning to
  ``Subgraph.warnings``. Only a document that is not OpenAPI at all raises :class:`~stitcher.errors.SchemaError`.
* A path template parameter that is not declared becomes a required ``String`` argument (with a warning). A spec
  with no GET operation gets a placeholder ``Query._empty: Boolean`` (GraphQL needs a query type).
* Paths in :class:`~stitcher.ir.RestOperation` include Swagger's ``basePath`` or the path of the first
  ``servers`` URL, so the service URL is just scheme, host and port.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLNullableInputType,
    GraphQLNullableOutputType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
    ValueNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    validate_schema,
)
from graphql.language import IntValueNode, StringValueNode
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast_untyped

from stitcher._jsonref import RefError, RefResolver, load_text
from stitcher.errors import SchemaError
from stitcher.ir import (
    Discriminator,
    EntityKey,
    EntityResolver,
    RestBinding,
    RestOperation,
    RestParameter,
    SourceKind,
    Subgraph,
)
from stitcher.sources import SourceSpec

__all__ = ["BIG_INT", "JSON_SCALAR", "subgraph_from_openapi"]


def _parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


JSON_SCALAR = GraphQLScalarType(
    "JSON",
    description="Any JSON value: stands where the OpenAPI schema could not be typed.",
    serialize=lambda value: value,
    parse_value=lambda value: value,
    parse_literal=_parse_json_literal,
)


def _parse_big_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"BigInt cannot represent {value!r}")
    return int(value)


def _parse_big_int_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return int(node.value)
    raise TypeError("BigInt expects an integer literal")


BIG_INT = GraphQLScalarType(
    "BigInt",
    description="A 64-bit integer (OpenAPI `integer` with `format: int64`), sent and received as a JSON number.",
    serialize=lambda value: value,
    parse_value=_parse_big_int,
    parse_literal=_parse_big_int_literal,
)

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_RESERVED_TYPES = frozenset(
    {"Query", "Mutation", "Subscription", "JSON", "BigInt", "String", "Int", "Float", "Boolean"}
)
_RESERVED_TYPES |= {"ID"}
_NAME_RE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
_WORD_RE = re.compile(r"[A-Za-z0-9]+")
_COMPONENT_RE = re.compile(r"^/(?:components/schemas|definitions)/([^/]+)$|/\$defs/([^/]+)$")


# -- names -------------------------------------------------------------------------------------------------------


def _words(raw: str) -> list[str]:
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return _WORD_RE.findall(ascii_text)


def _hex_name(raw: str) -> str:
    return "_" + "_".join(f"{ord(ch):x}" for ch in raw[:8])


def _lower_first(word: str) -> str:
    run = re.match(r"[A-Z]+", word)
    if not run:
        return word
    length = len(run.group())
    if length == len(word):
        return word.lower()
    if length == 1:
        return word[0].lower() + word[1:]
    return word[: length - 1].lower() + word[length - 1 :]


def _upper_first(word: str) -> str:
    return word[:1].upper() + word[1:]


def _digit_safe(name: str) -> str:
    return "_" + name if name[:1].isdigit() else name


def camel_name(raw: str) -> str:
    """A readable camelCase GraphQL name for an operationId or a method+path (``get-book`` -> ``getBook``)."""
    words = _words(raw)
    if not words:
        return _hex_name(raw) if raw else "_"
    return _digit_safe(_lower_first(words[0]) + "".join(_upper_first(w) for w in words[1:]))


def pascal_name(raw: str) -> str:
    """A PascalCase GraphQL name for an inline type built from a hint (``place hold`` -> ``PlaceHold``)."""
    words = _words(raw)
    if not words:
        return "T" + _hex_name(raw) if raw else "Type"
    return _digit_safe("".join(_upper_first(w) for w in words))


def field_name(raw: str) -> str:
    """A property or parameter name as a GraphQL field/argument name: kept when valid, else camelCased."""
    if _NAME_RE.match(raw) and not raw.startswith("__"):
        return raw
    return camel_name(raw)


def type_name(raw: str) -> str:
    """A component/definition name as a GraphQL type name: kept when valid, else PascalCased."""
    name = raw if _NAME_RE.match(raw) and not raw.startswith("__") else pascal_name(raw)
    return name + "Type" if name in _RESERVED_TYPES else name


def enum_value_name(raw: str) -> str:
    """A JSON enum value as a GraphQL enum value name (``in-progress`` -> ``in_progress``, ``1`` -> ``_1``)."""
    if raw in ("true", "false", "null"):
        return raw.upper()
    if _NAME_RE.match(raw) and not raw.startswith("__"):
        return raw
    words = _words(raw)
    if not words:
        return _hex_name(raw) if raw else "EMPTY"
    return _digit_safe("_".join(words))


class _Names:
    """Claims unique names in first-come order: ``Book``, ``Book2``, ``Book3``..."""

    def __init__(self, taken: frozenset[str] = frozenset()) -> None:
        self._taken = set(taken)

    def claim(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{name}{n}"
        self._taken.add(candidate)
        return candidate

    def __contains__(self, name: str) -> bool:
        return name in self._taken


def _assign(raws: list[str], sanitize: Callable[[str], str]) -> list[str]:
    """Unique GraphQL names for ``raws`` in order; names that are already valid keep them, sanitized ones yield."""
    valid = {raw for raw in raws if sanitize(raw) == raw}  # raws are unique (JSON keys, distinct enum values)
    names = _Names(frozenset(valid))
    return [raw if raw in valid else names.claim(sanitize(raw)) for raw in raws]


# -- schema helpers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prop:
    json_name: str
    node: Any
    doc: str
    required: bool


def _type_list(node: dict[str, Any]) -> tuple[list[str], bool]:
    """The JSON types a schema allows (without ``null``) and whether it is nullable (3.0, 3.1 and Swagger forms)."""
    raw = node.get("type")
    types = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    nullable = node.get("nullable") is True or node.get("x-nullable") is True or "null" in types
    enum = node.get("enum")
    if isinstance(enum, list) and None in enum:
        nullable = True
    return [t for t in types if t != "null"], nullable


def _nullable(node: dict[str, Any]) -> bool:
    members = node.get("oneOf") or node.get("anyOf") or []
    return _type_list(node)[1] or (isinstance(members, list) and any(_is_null_schema(m) for m in members))


def _is_null_schema(node: Any) -> bool:
    return isinstance(node, dict) and (node.get("type") == "null" or ("const" in node and node["const"] is None))


def _constraint_only(node: Any) -> bool:
    """True for allOf members that add only validation keywords, ``required`` or docs (``type: object`` allowed)."""
    keys = ("properties", "items", "allOf", "oneOf", "anyOf", "enum", "const", "$ref", "additionalProperties")
    return isinstance(node, dict) and node.get("type", "object") == "object" and not any(k in node for k in keys)


def _schema_sections(document: Any) -> list[dict[str, Any]]:
    """The named-schema sections of a document: Swagger ``definitions``, ``components.schemas``, ``$defs``."""
    if not isinstance(document, dict):
        return []
    components = document.get("components")
    sections = [
        document.get("definitions"),
        components.get("schemas") if isinstance(components, dict) else None,
        document.get("$defs"),
    ]
    return [section for section in sections if isinstance(section, dict)]


def _is_json_media(media: str) -> bool:
    media = media.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "*/*"


# -- the translator ----------------------------------------------------------------------------------------------


class _Translator:
    def __init__(self, spec: SourceSpec, root: dict[str, Any], swagger: bool) -> None:
        self.spec = spec
        self.root = root
        self.swagger = swagger
        self.refs = RefResolver(root, spec.base_path)
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self.types = _Names(_RESERVED_TYPES)
        self.component_names: dict[int, str] = {}  # id(schema node) -> GraphQL type name reserved for it
        self.component_raw: dict[int, str] = {}  # id(schema node) -> component name as written
        self._out: dict[int, tuple[GraphQLNullableOutputType, bool]] = {}
        self._in: dict[int, tuple[GraphQLNullableInputType, bool]] = {}
        self._leaf: dict[int, GraphQLEnumType] = {}
        self._building_inputs: set[int] = set()
        self._loaded_docs: set[str] = set()
        self._kinds: dict[int, str] = {}
        self._passing_out: set[int] = set()
        self._passing_in: set[int] = set()
        self._subtype_index: dict[int, list[tuple[Any, str]]] | None = None
        self.extra_types: list[GraphQLObjectType] = []  # implementations of interfaces, reachable or not
        self._pending_interfaces: list[tuple[GraphQLInterfaceType, Any, str, list[tuple[GraphQLObjectType, Any, str]]]]
        self._pending_interfaces = []
        self._implementations: list[tuple[GraphQLObjectType, dict[str, GraphQLField], list[GraphQLInterfaceType]]] = []
        self._raw_fields: dict[str, dict[str, GraphQLField]] = {}
        self._keep: list[Any] = []  # synthesized schema nodes: kept alive so their id() stays unique
        self.binding = RestBinding(operations={})
        self.query_fields: dict[str, GraphQLField] = {}
        self.mutation_fields: dict[str, GraphQLField] = {}
        self._reserve_components("", root)

    # -- warnings, refs, components ------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def _reserve_components(self, doc: str, document: Any) -> None:
        """Claim type names for named schemas up front, so inline types never take a component's name."""
        for section in _schema_sections(document):
            for raw, node in section.items():
                if isinstance(node, dict) and id(node) not in self.component_names:
                    self.component_names[id(node)] = self.types.claim(type_name(str(raw)))
                    self.component_raw[id(node)] = str(raw)

    def follow(self, node: Any, doc: str) -> tuple[Any, str, bool]:
        """Follow a chain of ``$ref`` (cycle-safe); returns the target, its document and a nullable sibling flag."""
        nullable = False
        seen: set[tuple[str, str]] = set()
        while isinstance(node, dict) and "$ref" in node:
            nullable = nullable or node.get("nullable") is True or node.get("x-nullable") is True
            ref = node["$ref"]
            new_doc, pointer, target = self.refs.resolve(ref, doc)
            if (new_doc, pointer) in seen:
                raise RefError(f"$ref {ref!r} is part of a cycle of references with no schema in between")
            seen.add((new_doc, pointer))
            if new_doc != doc and new_doc not in self._loaded_docs:
                self._loaded_docs.add(new_doc)
                self._reserve_components(new_doc, self.refs.documents[new_doc])
            raw_name = self._ref_name(new_doc, pointer)
            if raw_name and isinstance(target, dict) and id(target) not in self.component_names:
                self.component_names[id(target)] = self.types.claim(type_name(raw_name))
                self.component_raw[id(target)] = raw_name
            node, doc = target, new_doc
        return node, doc, nullable

    @staticmethod
    def _ref_name(doc: str, pointer: str) -> str | None:
        """The name a ``$ref`` target is known by: its component/definition key, or a file's top-level key or stem."""
        match = _COMPONENT_RE.search(pointer)
        if match:
            return match.group(1) or match.group(2)
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
        if doc and len(tokens) == 1:
            return tokens[0]
        if doc and not tokens:
            return Path(doc).name.split(".")[0]
        return None

    # -- classification and object properties -------------------------------------------------------------

    def _members(self, node: dict[str, Any], doc: str, seen: frozenset[int] = frozenset()) -> list[tuple[Any, str]]:
        """The oneOf/anyOf members of a schema, refs followed, nested unions flattened, null members dropped."""
        out: list[tuple[Any, str]] = []
        seen = seen | {id(node)}
        for member in node.get("oneOf") or node.get("anyOf") or []:
            try:
                target, target_doc, _ = self.follow(member, doc)
            except RefError as exc:  # stands as a free-form member, which makes the whole union JSON
                self.warn(f"oneOf/anyOf member: {exc}")
                target, target_doc = self._synthetic({}), doc
            if _is_null_schema(target):
                continue
            if id(target) in seen:
                continue  # a union that lists itself adds nothing
            if isinstance(target, dict) and ("oneOf" in target or "anyOf" in target) and "properties" not in target:
                out.extend(m for m in self._members(target, target_doc, seen) if all(m[0] is not o for o, _ in out))
            elif all(target is not seen for seen, _ in out):
                out.append((target, target_doc))
        return out

    def kind(self, node: Any, doc: str, stack: tuple[int, ...] = ()) -> str:
        """One of ``object``, ``array``, ``enum``, ``scalar:<Name>``, ``union``, ``json`` or ``null``."""
        if stack:
            return self._kind(node, doc, stack)
        key = id(node)
        if key not in self._kinds:  # memoised for top-level calls only: inside a cycle the answer depends on the path
            self._kinds[key] = self._kind(node, doc, ())
        return self._kinds[key]

    def _kind(self, node: Any, doc: str, stack: tuple[int, ...]) -> str:
        try:
            node, doc, _ = self.follow(node, doc)
        except RefError:
            return "json"
        if not isinstance(node, dict) or id(node) in stack:
            return "json" if not isinstance(node, dict) else "object"
        stack = (*stack, id(node))
        if _is_null_schema(node):
            return "null"
        if "allOf" in node:
            parts = [self.kind(m, doc, stack) for m in node["allOf"] if not _constraint_only(m)]
            if node.get("properties") or (parts and all(p == "object" for p in parts)):
                return "object" if all(p == "object" for p in parts) else "json"
            return parts[0] if len(parts) == 1 else "json"
        if "oneOf" in node or "anyOf" in node:
            members = self._members(node, doc)
            kinds = [self.kind(m, d, stack) for m, d in members]
            if len(kinds) == 1:
                return kinds[0]
            if kinds and all(k in ("object", "union") for k in kinds):
                return "union"
            scalars = set(kinds)
            if scalars == {"scalar:Int", "scalar:Float"}:
                return "scalar:Float"
            if len(scalars) == 1 and kinds[0].startswith("scalar:"):
                return kinds[0]
            return "json"
        if "const" in node:
            return self._scalar_of_value(node["const"])
        types, _ = _type_list(node)
        enum = node.get("enum")
        if isinstance(enum, list):
            values = [v for v in enum if v is not None]
            if values and all(isinstance(v, str) for v in values):
                return "enum"
            scalars = {self._scalar_of_value(v) for v in values}
            if len(scalars) == 1:
                return scalars.pop()
            return "scalar:Float" if scalars == {"scalar:Int", "scalar:Float"} else "json"
        if not types:
            if isinstance(node.get("properties"), dict) and node["properties"]:
                return "object"
            return "array" if "items" in node else "json"
        if len(types) > 1:
            return "scalar:Float" if set(types) == {"integer", "number"} else "json"
        return self._kind_of_type(types[0], node)

    def _kind_of_type(self, json_type: str, node: dict[str, Any]) -> str:
        if json_type == "object":
            return "object" if isinstance(node.get("properties"), dict) and node["properties"] else "json"
        if json_type == "array":
            return "array"
        if json_type == "integer":
            return "scalar:BigInt" if node.get("format") == "int64" else "scalar:Int"
        return {"string": "scalar:String", "number": "scalar:Float", "boolean": "scalar:Boolean"}.get(
            json_type, "scalar:String" if json_type == "file" else "json"
        )

    @staticmethod
    def _scalar_of_value(value: Any) -> str:
        if isinstance(value, bool):
            return "scalar:Boolean"
        if isinstance(value, int):
            return "scalar:Int"
        if isinstance(value, float):
            return "scalar:Float"
        return "scalar:String" if isinstance(value, str) else "json"

    def props(self, node: dict[str, Any], doc: str, stack: tuple[int, ...] = ()) -> list[_Prop]:
        """All properties of an object schema, allOf members merged in order (later definitions win)."""
        merged: dict[str, _Prop] = {}
        required: set[str] = set()
        stack = (*stack, id(node))
        for member in node.get("allOf") or []:
            try:
                target, target_doc, _ = self.follow(member, doc)
            except RefError:
                continue  # the allOf as a whole is typed as JSON (kind() says so); nothing to merge
            if isinstance(target, dict) and id(target) not in stack:
                for prop in self.props(target, target_doc, stack):
                    merged[prop.json_name] = prop
                    if prop.required:
                        required.add(prop.json_name)
                if isinstance(target.get("required"), list):  # a member may require what another defines
                    required.update(str(r) for r in target["required"])
        if isinstance(node.get("required"), list):
            required.update(str(r) for r in node["required"])
        properties = node.get("properties")
        if isinstance(properties, dict):
            for raw, sub in properties.items():
                merged[str(raw)] = _Prop(str(raw), sub, doc, False)
        return [_Prop(p.json_name, p.node, p.doc, p.json_name in required) for p in merged.values()]

    def _flag(self, prop: _Prop, flag: str) -> bool:
        try:
            target, _, _ = self.follow(prop.node, prop.doc)
        except RefError:
            return False
        own = isinstance(prop.node, dict) and prop.node.get(flag) is True
        return own or (isinstance(target, dict) and target.get(flag) is True)

    # -- leaves ----------------------------------------------------------------------------------------------

    def scalar(self, kind: str) -> GraphQLScalarType:
        return {
            "scalar:String": GraphQLString,
            "scalar:Int": GraphQLInt,
            "scalar:Float": GraphQLFloat,
            "scalar:Boolean": GraphQLBoolean,
            "scalar:BigInt": BIG_INT,
        }[kind]

    def enum(self, node: dict[str, Any], hint: str) -> GraphQLEnumType:
        cached = self._leaf.get(id(node))
        if cached is not None:
            return cached
        name = self.component_names.get(id(node)) or self.types.claim(pascal_name(hint))
        values: dict[str, GraphQLEnumValue] = {}
        back: dict[str, str] = {}
        raws = list(dict.fromkeys(str(raw) for raw in node["enum"] if raw is not None))
        for raw, value_name in zip(raws, _assign(raws, enum_value_name), strict=True):
            values[value_name] = GraphQLEnumValue(value_name)
            if value_name != raw:
                back[value_name] = str(raw)
        if back:
            self.binding.enum_values[name] = back
        enum_type = GraphQLEnumType(name, values, description=node.get("description"))
        self._leaf[id(node)] = enum_type
        return enum_type

    def json_fallback(self, where: str, reason: str) -> GraphQLScalarType:
        self.warn(f"{where}: {reason}; typed as JSON")
        return JSON_SCALAR

    # -- output types ----------------------------------------------------------------------------------------

    def output(self, node: Any, doc: str, hint: str, where: str) -> tuple[GraphQLNullableOutputType, bool]:
        """The GraphQL output type of a schema (never NonNull: the caller wraps it) and whether it is nullable."""
        return self._translate(node, doc, hint, where, self._out, self._passing_out, self._output)

    def _translate(
        self,
        node: Any,
        doc: str,
        hint: str,
        where: str,
        cache: Mapping[int, tuple[Any, bool]],
        passing: set[int],
        translate: Callable[[dict[str, Any], str, str, str, bool], tuple[Any, bool]],
    ) -> tuple[Any, bool]:
        """What :meth:`output` and :meth:`input` share: follow ``$ref``, reuse the cached type, refuse a schema that
        contains itself with nothing to stop the recursion, else ``translate`` it."""
        try:
            node, doc, ref_nullable = self.follow(node, doc)
        except RefError as exc:
            return self.json_fallback(where, str(exc)), True
        if not isinstance(node, dict):
            return self.json_fallback(where, "schema is not an object"), True
        cached = cache.get(id(node))
        if cached is not None:
            return cached[0], cached[1] or ref_nullable
        # Objects and unions stop recursion through the cache; arrays and wrappers that contain themselves don't.
        if id(node) in passing:
            return self.json_fallback(where, "schema contains itself with no object in between"), True
        passing.add(id(node))
        try:
            return translate(node, doc, hint, where, ref_nullable)
        finally:
            passing.discard(id(node))

    def _output(self, node: dict[str, Any], doc: str, hint: str, where: str, ref_nullable: bool) -> tuple[Any, bool]:
        hint = self.component_raw.get(id(node), hint)
        nullable = _nullable(node) or ref_nullable
        wrapped = self._wrapped(node, doc)
        if wrapped is not None:
            inner, inner_nullable = self.output(wrapped[0], wrapped[1], hint, where)
            return inner, nullable or inner_nullable
        kind = self.kind(node, doc)
        result: GraphQLNullableOutputType
        if kind == "object" and id(node) in self.component_names and self._subtypes(node):
            return self._interface(node, doc, where), nullable
        if kind == "object":
            return self._object(node, doc, hint, where), nullable
        if kind == "union":
            return self._union(node, doc, hint, where), nullable
        if kind == "array":
            items = node.get("items")
            if items is None:
                return GraphQLList(self.json_fallback(where, "array without items")), nullable
            item_type, item_nullable = self.output(items, doc, hint + "Item", where + "[]")
            result = GraphQLList(item_type if item_nullable else GraphQLNonNull(item_type))
        elif kind == "enum":
            result = self.enum(node, hint)
        elif kind.startswith("scalar:"):
            result = self.scalar(kind)
        elif kind == "null":
            return self.json_fallback(where, "schema only allows null"), True
        else:
            return self.json_fallback(where, self._why_json(node)), nullable
        self._out[id(node)] = (result, nullable)
        return result, nullable

    @staticmethod
    def _why_json(node: dict[str, Any]) -> str:
        if "x-loom-binary" in node:
            return f"{node['x-loom-binary']} content is not JSON"
        if "additionalProperties" in node and not node.get("properties"):
            return "map (additionalProperties) has no GraphQL equivalent"
        if "oneOf" in node or "anyOf" in node:
            return "oneOf/anyOf mixes primitive or incompatible types"
        if "allOf" in node:
            return "allOf mixes objects with other types"
        types, _ = _type_list(node)
        if len(types) > 1:
            return f"type allows several kinds ({', '.join(types)})"
        if types == ["object"] or not types:
            return "free-form object (no properties)"
        return f"unsupported type {types[0]!r}"

    def _wrapped(self, node: dict[str, Any], doc: str) -> tuple[Any, str] | None:
        """The one schema that an ``allOf``/``oneOf``/``anyOf`` wrapper (no own properties) stands for, if any."""
        if node.get("properties"):
            return None
        if "allOf" in node:
            parts = [m for m in node["allOf"] if not _constraint_only(m)]
            # A member that only adds ``required`` changes the type: merge instead of reusing the one named schema.
            adds_required = any(isinstance(m, dict) and m.get("required") for m in [node, *node["allOf"]])
            return (parts[0], doc) if len(parts) == 1 and not adds_required else None
        if "oneOf" in node or "anyOf" in node:
            try:
                members = self._members(node, doc)
            except RefError:
                return None
            return members[0] if len(members) == 1 else None
        return None

    def _object(self, node: dict[str, Any], doc: str, hint: str, where: str) -> GraphQLNullableOutputType:
        props = [p for p in self.props(node, doc) if not self._flag(p, "writeOnly")]
        name = self.component_names.get(id(node))
        if name is None or (name.endswith("Input") and len(name) > 5):
            name = self.types.claim(pascal_name(hint) + ("Object" if name else ""))
        if not props:
            result: GraphQLNullableOutputType = self.json_fallback(where, "object has no readable properties")
            self._out[id(node)] = (result, True)
            return result
        fields: dict[str, GraphQLField] = {}
        interfaces: list[GraphQLInterfaceType] = []
        object_type = GraphQLObjectType(
            name, lambda: fields, interfaces=lambda: interfaces, description=node.get("description")
        )
        self._out[id(node)] = (object_type, _type_list(node)[1])
        self._fill_fields(name, props, fields)
        interfaces.extend(self._implemented(node, doc, name))
        if interfaces:
            self._implementations.append((object_type, fields, interfaces))
        return object_type

    def _fill_fields(self, name: str, props: list[_Prop], fields: dict[str, GraphQLField]) -> None:
        for prop, gql in zip(props, _assign([p.json_name for p in props], field_name), strict=True):
            base_type, prop_nullable = self.output(
                prop.node, prop.doc, f"{name} {prop.json_name}", f"{name}.{prop.json_name}"
            )
            prop_type: GraphQLOutputType = base_type
            if prop.required and not prop_nullable:
                prop_type = GraphQLNonNull(base_type)
            description = prop.node.get("description") if isinstance(prop.node, dict) else None
            deprecated = "Deprecated in the OpenAPI description." if self._flag(prop, "deprecated") else None
            fields[gql] = GraphQLField(prop_type, description=description, deprecation_reason=deprecated)
            if gql != prop.json_name:
                self.binding.json_names[(name, gql)] = prop.json_name

    # Polymorphism by inheritance (Swagger's style): a base schema with a ``discriminator`` that other schemas
    # include through ``allOf`` becomes an interface, and those schemas implement it.

    def _subtypes(self, node: dict[str, Any]) -> list[tuple[Any, str]]:
        if self._subtype_index is None:
            index: dict[int, list[tuple[Any, str]]] = {}
            for doc_key, document in list(self.refs.documents.items()):
                for section in _schema_sections(document):
                    for candidate in section.values():
                        if not isinstance(candidate, dict) or not isinstance(candidate.get("allOf"), list):
                            continue
                        for member in candidate["allOf"]:
                            try:
                                target, _, _ = self.follow(member, doc_key)
                            except RefError:
                                continue
                            if isinstance(target, dict) and target is not candidate:
                                index.setdefault(id(target), []).append((candidate, doc_key))
            self._subtype_index = index
        return self._subtype_index.get(id(node), []) if node.get("discriminator") else []

    def _interface(self, node: dict[str, Any], doc: str, where: str) -> GraphQLNullableOutputType:
        props = [p for p in self.props(node, doc) if not self._flag(p, "writeOnly")]
        name = self.component_names[id(node)]
        fields: dict[str, GraphQLField] = {}
        interface = GraphQLInterfaceType(name, lambda: fields, description=node.get("description"))
        self._raw_fields[name] = fields
        self._out[id(node)] = (interface, _type_list(node)[1])
        self._fill_fields(name, props, fields)
        built: list[tuple[GraphQLObjectType, Any, str]] = []
        for sub, sub_doc in self._subtypes(node):
            sub_type, _ = self.output(sub, sub_doc, self.component_raw.get(id(sub), name), where)
            if isinstance(sub_type, GraphQLObjectType):
                built.append((sub_type, sub, sub_doc))
        # A subtype may still be under construction here: finish_interfaces() reads its interfaces later.
        self._pending_interfaces.append((interface, node, doc, built))
        return interface

    def _implemented(self, node: dict[str, Any], doc: str, name: str) -> list[GraphQLInterfaceType]:
        found: list[GraphQLInterfaceType] = []
        for member in node.get("allOf") or []:
            try:
                target, target_doc, _ = self.follow(member, doc)
            except RefError:
                continue
            if not isinstance(target, dict) or not self._subtypes(target) or id(target) not in self.component_names:
                continue
            interface, _ = self.output(target, target_doc, "", name)
            if isinstance(interface, GraphQLInterfaceType):
                found.append(interface)
        return found

    def finish_interfaces(self) -> None:
        """Check each implementation against its interface's fields, then record discriminators.

        Runs after translation: until then types are under construction, and reading ``.fields`` or
        ``.interfaces`` of a graphql-core type would freeze a partial value.
        """
        for object_type, fields, interfaces in self._implementations:
            for interface in list(interfaces):
                expected = self._raw_fields[interface.name]
                clashes = [
                    f
                    for f, definition in expected.items()
                    if f not in fields or str(fields[f].type) not in (str(definition.type), f"{definition.type}!")
                ]
                if clashes:
                    interfaces.remove(interface)
                    joined = ", ".join(clashes)
                    self.warn(f"{object_type.name} redefines {joined} of {interface.name}; it does not implement it")
        for interface, node, doc, candidates in self._pending_interfaces:
            built = [c for c in candidates if interface in c[0].interfaces]
            self.extra_types.extend(c[0] for c in built)
            self.binding.discriminators[interface.name] = self._discriminator(node, doc, built)

    def _union(self, node: dict[str, Any], doc: str, hint: str, where: str) -> GraphQLNullableOutputType:
        members = self._members(node, doc)
        built: list[tuple[GraphQLObjectType, Any, str]] = []
        for index, (member, member_doc) in enumerate(members, start=1):
            member_type, _ = self.output(member, member_doc, f"{hint} {index}", f"{where}|{index}")
            if isinstance(member_type, GraphQLObjectType):
                if all(member_type is not t for t, _, _ in built):
                    built.append((member_type, member, member_doc))
            elif isinstance(member_type, GraphQLUnionType):
                built.extend((t, None, member_doc) for t in member_type.types if all(t is not b for b, _, _ in built))
        if id(node) in self._out:  # a member referred back to this union and built it already
            return self._out[id(node)][0]
        if not built:
            return self.json_fallback(where, "oneOf/anyOf has no object member that could be typed")
        if len(built) == 1:
            self._out[id(node)] = (built[0][0], True)
            return built[0][0]
        name = self.component_names.get(id(node)) or self.types.claim(pascal_name(hint))
        types = [t for t, _, _ in built]
        union = GraphQLUnionType(name, types, description=node.get("description"))
        self._out[id(node)] = (union, _type_list(node)[1])
        self.binding.discriminators[name] = self._discriminator(node, doc, built)
        return union

    def _discriminator(
        self, node: dict[str, Any], doc: str, built: list[tuple[GraphQLObjectType, Any, str]]
    ) -> Discriminator:
        raw = node.get("discriminator")
        prop_name = raw if isinstance(raw, str) else raw.get("propertyName") if isinstance(raw, dict) else None
        mapping: dict[str, str] = {}
        required: dict[str, frozenset[str]] = {}
        by_node = {id(member): t.name for t, member, _ in built if member is not None}
        for object_type, member, member_doc in built:
            if member is None:
                continue
            props = self.props(member, member_doc)
            required[object_type.name] = frozenset(p.json_name for p in props if p.required)
            if prop_name is None:
                continue
            raw_name = self.component_raw.get(id(member))
            if raw_name is not None:
                mapping.setdefault(raw_name, object_type.name)
            for prop in props:  # a discriminator property pinned to one value names its type
                if prop.json_name != prop_name:
                    continue
                try:
                    target, _, _ = self.follow(prop.node, prop.doc)
                except RefError:
                    continue
                if isinstance(target, dict) and "const" in target:
                    mapping[str(target["const"])] = object_type.name
                elif isinstance(target, dict) and isinstance(target.get("enum"), list) and len(target["enum"]) == 1:
                    mapping[str(target["enum"][0])] = object_type.name
        explicit = raw.get("mapping") if isinstance(raw, dict) else None
        if isinstance(explicit, dict):
            for value, ref in explicit.items():
                ref_text = str(ref) if "/" in str(ref) or "#" in str(ref) else self._component_ref(str(ref))
                try:
                    target, _, _ = self.follow({"$ref": ref_text}, doc)
                except RefError as exc:
                    self.warn(f"discriminator mapping {value!r}: {exc}")
                    continue
                if id(target) in by_node:
                    mapping[str(value)] = by_node[id(target)]
                else:
                    self.warn(f"discriminator mapping {value!r} -> {ref}: not one of the oneOf/anyOf members")
        return Discriminator(property_name=prop_name, mapping=mapping, required=required)

    def _component_ref(self, name: str) -> str:
        return f"#/definitions/{name}" if self.swagger else f"#/components/schemas/{name}"

    # -- input types -----------------------------------------------------------------------------------------

    def input(self, node: Any, doc: str, hint: str, where: str) -> tuple[GraphQLNullableInputType, bool]:
        """The GraphQL input type of a schema (never NonNull: the caller wraps it) and whether it is nullable."""
        return self._translate(node, doc, hint, where, self._in, self._passing_in, self._input)

    def _input(self, node: dict[str, Any], doc: str, hint: str, where: str, ref_nullable: bool) -> tuple[Any, bool]:
        hint = self.component_raw.get(id(node), hint)
        nullable = _nullable(node) or ref_nullable
        wrapped = self._wrapped(node, doc)
        if wrapped is not None:
            inner, inner_nullable = self.input(wrapped[0], wrapped[1], hint, where)
            return inner, nullable or inner_nullable
        kind = self.kind(node, doc)
        result: GraphQLNullableInputType
        if kind == "object":
            return self._input_object(node, doc, hint, where), nullable
        if kind == "union":
            return self.json_fallback(where, "oneOf/anyOf of objects cannot be a GraphQL input"), True
        if kind == "array":
            items = node.get("items")
            if items is None:
                return GraphQLList(self.json_fallback(where, "array without items")), nullable
            item_type, item_nullable = self.input(items, doc, hint + "Item", where + "[]")
            result = GraphQLList(item_type if item_nullable else GraphQLNonNull(item_type))
        elif kind == "enum":
            result = self.enum(node, hint)
        elif kind.startswith("scalar:"):
            result = self.scalar(kind)
        else:
            return self.json_fallback(where, self._why_json(node)), True
        self._in[id(node)] = (result, nullable)
        return result, nullable

    def _input_object(self, node: dict[str, Any], doc: str, hint: str, where: str) -> GraphQLNullableInputType:
        props = [p for p in self.props(node, doc) if not self._flag(p, "readOnly")]
        base = self.component_names.get(id(node)) or pascal_name(hint)
        name = self.types.claim(base if base.endswith("Input") else base + "Input")
        if not props:
            result: GraphQLNullableInputType = self.json_fallback(where, "object has no writable properties")
            self._in[id(node)] = (result, True)
            return result
        fields: dict[str, GraphQLInputField] = {}
        input_type = GraphQLInputObjectType(name, lambda: fields, description=node.get("description"))
        self._in[id(node)] = (input_type, _type_list(node)[1])
        self._building_inputs.add(id(node))
        for prop, gql in zip(props, _assign([p.json_name for p in props], field_name), strict=True):
            base_type, prop_nullable = self.input(prop.node, prop.doc, f"{base} {prop.json_name}", f"{name}.{gql}")
            prop_type: GraphQLInputType = base_type
            try:
                target = self.follow(prop.node, prop.doc)[0]
            except RefError:
                target = None
            # A required self-reference could never be satisfied and GraphQL refuses it: keep it nullable.
            if prop.required and not prop_nullable and id(target) not in self._building_inputs:
                prop_type = GraphQLNonNull(base_type)
            description = prop.node.get("description") if isinstance(prop.node, dict) else None
            fields[gql] = GraphQLInputField(prop_type, description=description)
            if gql != prop.json_name:
                self.binding.json_names[(name, gql)] = prop.json_name
        self._building_inputs.discard(id(node))
        return input_type

    # -- operations ------------------------------------------------------------------------------------------

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any], list[Any]]]:
        """(path, method, operation, path-level parameters) in document order."""
        paths = self.root.get("paths")
        if paths is None:
            self.warn("the document has no paths")
            return
        if not isinstance(paths, dict):
            raise SchemaError("not an OpenAPI document: `paths` must be a mapping", service=self.spec.name)
        for path, item in paths.items():
            try:
                item, _, _ = self.follow(item, "")
            except RefError as exc:
                self.warn(f"path {path}: {exc}; skipped")
                continue
            if not isinstance(item, dict):
                continue
            common: list[Any] = item["parameters"] if isinstance(item.get("parameters"), list) else []
            for method, operation in item.items():
                if method in _METHODS and isinstance(operation, dict):
                    yield str(path), str(method), operation, common

    def base_path(self) -> str:
        if self.swagger:
            raw = self.root.get("basePath")
            prefix = raw if isinstance(raw, str) else ""
        else:
            servers = self.root.get("servers")
            prefix = ""
            if isinstance(servers, list) and servers and isinstance(servers[0], dict):
                url = str(servers[0].get("url", ""))
                variables = servers[0].get("variables")
                if isinstance(variables, dict):
                    for var, spec in variables.items():
                        if isinstance(spec, dict):
                            url = url.replace("{" + str(var) + "}", str(spec.get("default", "")))
                prefix = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*", "", url)
        return prefix.rstrip("/")

    def translate(self) -> None:
        ops = list(self.operations())
        names = _Names()
        field_names: list[str | None] = [None] * len(ops)
        for index, (_, _, operation, _) in enumerate(ops):  # operationIds first: they never move
            if isinstance(operation.get("operationId"), str) and operation["operationId"]:
                field_names[index] = names.claim(camel_name(operation["operationId"]))
        for index, (path, method, _, _) in enumerate(ops):
            if field_names[index] is None:
                field_names[index] = names.claim(self._path_name(method, path))
        prefix = self.base_path()
        for (path, method, operation, common), gql_name in zip(ops, field_names, strict=True):
            assert gql_name is not None
            self._operation(prefix + path, method, operation, common, gql_name)

    @staticmethod
    def _path_name(method: str, path: str) -> str:
        parts = [method]
        for segment in path.strip("/").split("/"):
            if not segment:
                continue
            if segment.startswith("{") and segment.endswith("}"):
                parts.append("By " + segment[1:-1])
            else:
                parts.append(segment)
        if len(parts) == 1:
            parts.append("root")
        words = [w for part in parts for w in _words(part)]
        return _digit_safe(words[0].lower() + "".join(_upper_first(w) for w in words[1:]))

    def _parameters(self, operation: dict[str, Any], common: list[Any], path: str, where: str) -> list[dict[str, Any]]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*common, *(operation.get("parameters") or [])]:
            try:
                param, _, _ = self.follow(raw, "")
            except RefError as exc:
                self.warn(f"{where}: parameter {exc}; skipped")
                continue
            if isinstance(param, dict) and isinstance(param.get("name"), str) and isinstance(param.get("in"), str):
                merged[(param["name"], param["in"])] = param
        for name in re.findall(r"\{([^{}]+)\}", path):  # a templated segment nobody declared still needs a value
            if (name, "path") not in merged:
                self.warn(f"{where}: path parameter {name!r} is not declared; it is a required String argument")
                synthetic = {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "type": "string",
                    "schema": {"type": "string"},
                }
                self._keep.append(synthetic)
                merged[(name, "path")] = synthetic
        return list(merged.values())

    def _operation(self, path: str, method: str, operation: dict[str, Any], common: list[Any], gql_name: str) -> None:
        where = f"{method.upper()} {path}"
        op_hint = pascal_name(gql_name)
        args: dict[str, GraphQLArgument] = {}
        arg_names = _Names()
        rest_params: list[RestParameter] = []
        body_argument: str | None = None
        content_type = "application/json"
        form_params: list[dict[str, Any]] = []
        for param in self._parameters(operation, common, path, where):
            location = param["in"]
            name = param["name"]
            if location == "body":
                body_argument, content_type = self._body_argument(
                    param.get("schema"), "", param.get("required") is True, op_hint, where, args, arg_names
                )
                content_type = self._swagger_consumes(operation, json=True)
                continue
            if location == "formData":
                form_params.append(param)
                continue
            if location not in ("path", "query", "header", "cookie"):
                self.warn(f"{where}: parameter {name!r} in {location!r} is not supported; skipped")
                continue
            if location == "header" and name.lower() in _IGNORED_HEADERS:
                continue
            schema, doc = self._param_schema(param)
            arg = arg_names.claim(field_name(name))
            base_type, _ = self.input(schema, doc, f"{op_hint} {name}", f"{where} parameter {name}")
            required = location == "path" or param.get("required") is True
            arg_type: GraphQLInputType = GraphQLNonNull(base_type) if required else base_type
            default = self._default(schema, doc, arg_type)
            args[arg] = GraphQLArgument(arg_type, default_value=default, description=param.get("description"))
            explode = self._explode(param, location, where)
            rest_params.append(RestParameter(name, location, arg, required=required, explode=explode))
        if form_params:
            properties = {p["name"]: self._param_schema(p)[0] for p in form_params}
            required_names = [p["name"] for p in form_params if p.get("required") is True]
            synthetic = {"type": "object", "properties": properties, "required": required_names}
            self._keep.append(synthetic)
            body_argument, _ = self._body_argument(synthetic, "", bool(required_names), op_hint, where, args, arg_names)
            multipart = any(p.get("type") == "file" for p in form_params) or "multipart/form-data" in (
                operation.get("consumes") or self.root.get("consumes") or []
            )
            content_type = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
        if not self.swagger and "requestBody" in operation:
            body_argument, content_type = self._request_body(operation["requestBody"], op_hint, where, args, arg_names)
        result_type = self._result_type(operation, method, op_hint, where)
        description = operation.get("summary") or operation.get("description")
        deprecated = "Deprecated in the OpenAPI description." if operation.get("deprecated") is True else None
        field = GraphQLField(result_type, args, description=description, deprecation_reason=deprecated)
        root = "Query" if method in ("get", "head") else "Mutation"
        (self.query_fields if root == "Query" else self.mutation_fields)[gql_name] = field
        operation_id = operation.get("operationId") if isinstance(operation.get("operationId"), str) else None
        self.binding.operations[(root, gql_name)] = RestOperation(
            method=method.upper(),
            path=path,
            parameters=tuple(rest_params),
            body_argument=body_argument,
            content_type=content_type,
            operation_id=operation_id,
        )

    def _explode(self, param: dict[str, Any], location: str, where: str) -> bool:
        if self.swagger:
            fmt = param.get("collectionFormat", "csv")
            if fmt in ("ssv", "tsv", "pipes"):
                self.warn(f"{where}: collectionFormat {fmt!r} of {param['name']!r} is sent comma-separated")
            return bool(fmt == "multi")
        style = param.get("style", "form" if location in ("query", "cookie") else "simple")
        if style in ("spaceDelimited", "pipeDelimited"):
            self.warn(f"{where}: style {style!r} of {param['name']!r} is sent comma-separated")
        elif style == "deepObject":
            self.warn(f"{where}: style 'deepObject' of {param['name']!r} is sent as form (one parameter per property)")
        return bool(param.get("explode", style == "form"))

    def _param_schema(self, param: dict[str, Any]) -> tuple[Any, str]:
        if self.swagger:
            return param, ""
        if "schema" in param:
            return param["schema"], ""
        content = param.get("content")
        if isinstance(content, dict) and content:
            media = next(iter(content.values()))
            if isinstance(media, dict) and "schema" in media:
                return media["schema"], ""
        return self._synthetic({"type": "string"}), ""

    def _default(self, schema: Any, doc: str, arg_type: GraphQLInputType) -> Any:
        """The schema's default when it is a valid literal for the (leaf) argument type, else no default."""
        try:
            target, _, _ = self.follow(schema, doc)
        except RefError:
            return Undefined
        if not isinstance(target, dict) or "default" not in target:
            return Undefined
        value = target["default"]
        named = get_named_type(arg_type)
        if is_list_type(arg_type.of_type if is_non_null_type(arg_type) else arg_type):
            return Undefined
        if isinstance(named, GraphQLEnumType):
            back = {v: k for k, v in self.binding.enum_values.get(named.name, {}).items()}
            name = back.get(str(value), str(value))
            return name if name in named.values else Undefined
        ok = {
            "String": isinstance(value, str),
            "Int": isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31,
            "BigInt": isinstance(value, int) and not isinstance(value, bool),
            "Float": isinstance(value, int | float) and not isinstance(value, bool),
            "Boolean": isinstance(value, bool),
        }.get(named.name, False)
        return value if ok else Undefined

    def _swagger_consumes(self, operation: dict[str, Any], json: bool) -> str:
        consumes = operation.get("consumes") or self.root.get("consumes") or []
        if not isinstance(consumes, list) or not consumes:
            return "application/json"
        for media in consumes:
            if isinstance(media, str) and _is_json_media(media) and media != "*/*":
                return media
        return str(consumes[0])

    def _body_argument(
        self,
        schema: Any,
        doc: str,
        required: bool,
        op_hint: str,
        where: str,
        args: dict[str, GraphQLArgument],
        arg_names: _Names,
    ) -> tuple[str, str]:
        arg = arg_names.claim("input")
        if schema is None:
            arg_type: GraphQLNullableInputType = self.json_fallback(f"{where} request body", "no schema")
        else:
            arg_type, _ = self.input(schema, doc, f"{op_hint} Input", f"{where} request body")
        args[arg] = GraphQLArgument(GraphQLNonNull(arg_type) if required else arg_type)
        return arg, "application/json"

    def _request_body(
        self, raw: Any, op_hint: str, where: str, args: dict[str, GraphQLArgument], arg_names: _Names
    ) -> tuple[str | None, str]:
        try:
            body, doc, _ = self.follow(raw, "")
        except RefError as exc:
            self.warn(f"{where} request body: {exc}; skipped")
            return None, "application/json"
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, dict) or not content:
            self.warn(f"{where}: request body has no content; skipped")
            return None, "application/json"
        media = self._pick_media(content)
        media_object = content[media] if isinstance(content[media], dict) else {}
        schema = media_object.get("schema")
        if schema is None and not _is_json_media(media):
            schema = self._synthetic({"type": "string"})
        arg, _ = self._body_argument(schema, doc, body.get("required") is True, op_hint, where, args, arg_names)
        return arg, media

    @staticmethod
    def _pick_media(content: dict[str, Any]) -> str:
        ranked = sorted(
            content,
            key=lambda m: (
                0
                if _is_json_media(m) and m != "*/*"
                else 1
                if m.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
                else 2
                if m.startswith("text/")
                else 3
            ),
        )
        return str(ranked[0])

    def _result_type(
        self, operation: dict[str, Any], method: str, op_hint: str, where: str
    ) -> GraphQLNullableOutputType:
        if method == "head":
            return GraphQLBoolean
        responses = operation.get("responses")
        if not isinstance(responses, dict) or not responses:
            return GraphQLBoolean
        codes = {str(code).upper(): value for code, value in responses.items()}
        success = sorted(c for c in codes if re.fullmatch(r"2(?:\d\d|XX)", c))
        candidates = success or (["DEFAULT"] if "DEFAULT" in codes else [])
        chosen: tuple[str, Any, str] | None = None
        for code in candidates:
            try:
                response, doc, _ = self.follow(codes[code], "")
            except RefError as exc:
                self.warn(f"{where} response {code}: {exc}")
                continue
            schema_and_doc = self._response_schema(response, doc, operation)
            if schema_and_doc is not None:
                if chosen is None:
                    chosen = (code, *schema_and_doc)
                elif not self._same_schema(schema_and_doc, (chosen[1], chosen[2])):
                    self.warn(f"{where}: responses {chosen[0]} and {code} differ; the field is typed by {chosen[0]}")
        if chosen is None:
            return GraphQLBoolean
        code, schema, doc = chosen
        if code == "DEFAULT":
            self.warn(f"{where}: no 2xx response; the field is typed by the default response")
        result, _ = self.output(schema, doc, f"{op_hint} Response", f"{where} response {code.lower()}")
        return result

    def _same_schema(self, a: tuple[Any, str], b: tuple[Any, str]) -> bool:
        try:
            return bool(self.follow(*a)[0] is self.follow(*b)[0])
        except RefError:
            return False

    def _response_schema(self, response: Any, doc: str, operation: dict[str, Any]) -> tuple[Any, str] | None:
        if not isinstance(response, dict):
            return None
        if self.swagger:
            if "schema" not in response:
                return None
            produces = operation.get("produces") or self.root.get("produces") or ["application/json"]
            textual = isinstance(produces, list) and all(isinstance(p, str) and p.startswith("text/") for p in produces)
            if textual:
                return self._string_schema(), ""
            return response["schema"], doc
        content = response.get("content")
        if not isinstance(content, dict) or not content:
            return None
        media = self._pick_media(content)
        media_object = content[media] if isinstance(content[media], dict) else {}
        if _is_json_media(media):
            if "schema" not in media_object:
                return self._synthetic({}), ""
            return media_object["schema"], doc
        if media.startswith("text/"):
            return self._string_schema(), ""
        return self._synthetic({"x-loom-binary": media}), ""

    def _string_schema(self) -> dict[str, Any]:
        return self._synthetic({"type": "string"})

    def _synthetic(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema made up here; kept alive because caches are keyed by ``id()``, which Python reuses."""
        self._keep.append(schema)
        return schema

    # -- entities ----------------------------------------------------------------------------------------------

    def entities(self, subgraph: Subgraph) -> None:
        by_operation: dict[str, tuple[str, str]] = {}
        for (root, name), op in self.binding.operations.items():
            if op.operation_id:
                by_operation.setdefault(op.operation_id, (root, name))
            by_operation.setdefault(name, (root, name))
        for entity, config in self.spec.entities.items():
            self._entity(subgraph, entity, config.key, config.operation, config.argument, config.batched, by_operation)

    def _entity(
        self,
        subgraph: Subgraph,
        entity: str,
        key: str,
        operation: str,
        argument: str | None,
        batched: bool | None,
        by_operation: dict[str, tuple[str, str]],
    ) -> None:
        def fail(reason: str) -> SchemaError:
            return SchemaError(f"entity {entity!r} (operation {operation!r}): {reason}", service=self.spec.name)

        if operation not in by_operation:
            raise fail("no operation with this operationId; check the spelling against the OpenAPI document")
        root, field = by_operation[operation]
        if root != "Query":
            raise fail(f"the operation is a {self.binding.operations[(root, field)].method}; only GET can fetch")
        gql_field = self.query_fields[field]
        named = get_named_type(gql_field.type)
        if named.name != entity:
            raise fail(f"it returns {gql_field.type}, not {entity}")
        if not isinstance(named, GraphQLObjectType):
            raise fail(f"{entity} is not an object type")
        missing = [k for k in re.findall(r"[_A-Za-z][_0-9A-Za-z]*", key.split("{")[0]) if k not in named.fields]
        if missing:
            raise fail(f"key field {missing[0]!r} is not a field of {entity} (fields: {', '.join(named.fields)})")
        op = self.binding.operations[(root, field)]
        params = [p for p in op.parameters if p.location in ("path", "query")]
        key_fields = key.split()
        if "{" in key:
            raise fail(f"key {key!r} has nested fields; a REST operation takes flat key fields as parameters")
        if len(key_fields) > 1:
            self._compound_entity(subgraph, entity, key, key_fields, field, params, argument, batched, fail)
            return
        arg = self._entity_argument(argument, key, params, fail)
        arg_type = gql_field.args[arg].type
        arg_is_list = is_list_type(arg_type.of_type if is_non_null_type(arg_type) else arg_type)
        result_is_list = is_list_type(gql_field.type)
        batched = arg_is_list if batched is None else batched
        if batched and not (arg_is_list and result_is_list):
            raise fail(f"batched needs a list argument and a list result; {field}({arg}: {arg_type}): {gql_field.type}")
        if not batched and (arg_is_list or result_is_list):
            raise fail(f"a single fetch needs a scalar argument and one result; got {arg_type} -> {gql_field.type}")
        subgraph.resolvers[entity] = EntityResolver(entity, key, field, arg, batched)
        subgraph.keys[entity] = (*subgraph.keys.get(entity, ()), EntityKey(key))

    def _compound_entity(
        self,
        subgraph: Subgraph,
        entity: str,
        key: str,
        key_fields: list[str],
        field: str,
        params: list[RestParameter],
        argument: str | None,
        batched: bool | None,
        fail: Callable[[str], SchemaError],
    ) -> None:
        """A compound key: each key field goes to the path or query parameter named like it, one request per entity
        (a REST operation has no standard way to take a list of compound keys)."""
        if batched or argument is not None:
            raise fail(
                f"compound key {key!r}: REST entities take one path/query parameter per key field, one entity per "
                "request; remove `batched` and `argument`"
            )
        gql_field = self.query_fields[field]
        if is_list_type(gql_field.type.of_type if is_non_null_type(gql_field.type) else gql_field.type):
            raise fail(f"compound key {key!r}: the operation must return one {entity}, not {gql_field.type}")
        by_name = {p.name: p for p in params} | {p.argument: p for p in params}
        missing = [k for k in key_fields if k not in by_name]
        if missing:
            names = ", ".join(p.name for p in params) or "none"
            raise fail(
                f"compound key {key!r}: no path or query parameter named {', '.join(missing)} (parameters: {names}); "
                "each key field needs a parameter of the same name"
            )
        arguments = tuple(by_name[k].argument for k in key_fields)
        required = [p.name for p in params if p.required and p.argument not in arguments]
        if required:
            raise fail(f"the operation also requires {', '.join(required)}, which the key {key!r} does not give")
        subgraph.resolvers[entity] = EntityResolver(entity, key, field, "", False, arguments)
        subgraph.keys[entity] = (*subgraph.keys.get(entity, ()), EntityKey(key))

    @staticmethod
    def _entity_argument(
        argument: str | None, key: str, params: list[RestParameter], fail: Callable[[str], SchemaError]
    ) -> str:
        if argument is not None:
            for p in params:
                if argument in (p.argument, p.name):
                    return p.argument
            raise fail(f"argument {argument!r} is not a path or query parameter of the operation")
        wanted = {key.lower(), key.lower() + "s", key.lower() + "es"}
        named = [p for p in params if p.name.lower() in wanted or p.argument.lower() in wanted]
        if len(named) == 1:
            return named[0].argument
        if len(params) == 1:
            return params[0].argument
        names = ", ".join(p.name for p in params) or "none"
        raise fail(f"cannot tell which parameter receives the key {key!r} (parameters: {names}); set `argument`")


def _detect_version(document: Any, service: str) -> bool:
    """True for Swagger 2.0, False for OpenAPI 3.x; SchemaError for anything else."""
    if not isinstance(document, dict):
        kind = type(document).__name__ if document is not None else "an empty document"
        raise SchemaError(f"not an OpenAPI document: expected a mapping at the top level, got {kind}", service=service)
    if "swagger" in document:
        if str(document["swagger"]).startswith("2"):
            return True
        raise SchemaError(f"unsupported Swagger version {document['swagger']!r}; use 2.0 or OpenAPI 3", service=service)
    if "openapi" in document:
        version = str(document["openapi"])
        if re.match(r"^3\.[01](\.|$)", version):
            return False
        raise SchemaError(f"unsupported OpenAPI version {version!r}; use 2.0, 3.0 or 3.1", service=service)
    raise SchemaError("not an OpenAPI document: it has neither an `openapi` nor a `swagger` field", service=service)


def subgraph_from_openapi(spec: SourceSpec) -> Subgraph:
    """Translate ``spec.schema`` (OpenAPI 2.0/3.0/3.1, JSON or YAML) into a REST-bound subgraph.

    Raises :class:`~stitcher.errors.SchemaError` when the text is not an OpenAPI document or when ``spec.entities``
    does not fit the operations; everything else degrades to ``JSON`` plus a warning.
    """
    try:
        document = load_text(spec.schema)
    except ValueError as exc:
        raise SchemaError(f"cannot parse the OpenAPI document: {exc}", service=spec.name) from exc
    swagger = _detect_version(document, spec.name)
    translator = _Translator(spec, cast(dict[str, Any], document), swagger)
    translator.translate()
    translator.finish_interfaces()
    query_fields = translator.query_fields
    if not query_fields:
        translator.warn("no GET operation: Query has only the placeholder field `_empty`")
        query_fields = {"_empty": GraphQLField(GraphQLBoolean, description="Placeholder: always null.")}
    query = GraphQLObjectType("Query", query_fields)
    mutation = GraphQLObjectType("Mutation", translator.mutation_fields) if translator.mutation_fields else None
    schema = GraphQLSchema(query=query, mutation=mutation, types=translator.extra_types)
    errors = validate_schema(schema)
    if errors:  # a translation bug, not the user's fault: say so plainly
        details = "; ".join(e.message for e in errors[:5])
        raise SchemaError(f"the OpenAPI translation produced an invalid GraphQL schema ({details})", service=spec.name)
    subgraph = Subgraph(
        name=spec.name,
        kind=SourceKind.OPENAPI,
        schema=schema,
        url=spec.url,
        rest=translator.binding,
        warnings=translator.warnings,
    )
    translator.entities(subgraph)
    return subgraph
