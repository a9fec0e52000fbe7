"""A product's REST surface: its ``rest:`` GraphQL operations as REST routes, its OpenAPI services passed through,
and the OpenAPI 3.1 document that describes both.

Under ``/products/<name>/rest``:

* ``METHOD /users/{id}`` for each configured :class:`~stitcher.snapshot.RestRoute`. Path parameters become the
  operation's variables of the same name; so do query parameters (a repeated one is a list) and, for methods with a
  body, the members of a JSON object body. Values from the path and query are coerced to the variable's type
  (``Int``, ``Float``, ``Boolean``; others stay strings). The answer is the operation's ``data``; when there are
  errors it is ``{"data": ..., "errors": [...]}``.
* ``/<service>/...`` for each OpenAPI source: the request goes unchanged to that service's upstream URL. The
  document describes each such operation as the service's own description does (parameters, request body,
  responses and the schemas they use, as components named ``<service>.<Name>``: see
  :mod:`stitcher.openapi.description`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    type_from_ast,
)

from stitcher.errors import StitcherError
from stitcher.ir import SourceKind, Supergraph
from stitcher.snapshot import RestRoute

if TYPE_CHECKING:
    from stitcher.openapi.description import Described

__all__ = ["CompiledRoute", "RestInputError", "RestSurface", "RestSurfaceError"]

log = logging.getLogger(__name__)
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEMPLATE_RE = re.compile(r"\{([^{}/]+)\}")
_SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Int": {"type": "integer"},
    "Float": {"type": "number"},
    "Boolean": {"type": "boolean"},
    "String": {"type": "string"},
    "ID": {"type": "string"},
}


class RestSurfaceError(StitcherError):
    """A ``rest:`` route of the product cannot be served; the message names the route and what to fix."""


class RestInputError(StitcherError):
    """A REST request's parameters do not fit the operation's variables (the gateway answers 400)."""


def _unwrap(t: GraphQLInputType) -> tuple[GraphQLInputType, bool]:
    if isinstance(t, GraphQLNonNull):
        return t.of_type, True
    return t, False


def _json_schema(t: GraphQLInputType, depth: int = 0) -> dict[str, Any]:
    inner, _ = _unwrap(t)
    if isinstance(inner, GraphQLList):
        return {"type": "array", "items": _json_schema(inner.of_type, depth)}
    if isinstance(inner, GraphQLEnumType):
        return {"type": "string", "enum": list(inner.values)}
    if isinstance(inner, GraphQLScalarType):
        return dict(_SCALAR_SCHEMAS.get(inner.name, {}))  # custom scalars: any JSON value
    if isinstance(inner, GraphQLInputObjectType) and depth < 8:  # input types may be recursive
        fields = inner.fields
        required = [name for name, f in fields.items() if isinstance(f.type, GraphQLNonNull)]
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: _json_schema(f.type, depth + 1) for name, f in fields.items()},
        }
        if required:
            schema["required"] = required
        return schema
    return {}


def _coerce(raw: str, t: GraphQLInputType, name: str) -> Any:
    inner, _ = _unwrap(t)
    if isinstance(inner, GraphQLScalarType):
        try:
            if inner.name == "Int":
                return int(raw)
            if inner.name == "Float":
                return float(raw)
        except ValueError as exc:
            raise RestInputError(f"parameter {name!r} must be a number of type {inner.name}, got {raw!r}") from exc
        if inner.name == "Boolean":
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            raise RestInputError(f"parameter {name!r} must be true or false, got {raw!r}")
    return raw


# RFC 3986 pchar and '/', minus '%': every other character of a decoded path is sent percent-encoded.
_PATH_SAFE = "/!$&'()*+,;=:@"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    method: str
    path: str
    pattern: re.Pattern[str]
    document: str
    operation_name: str | None
    variables: Mapping[str, GraphQLInputType]
    path_params: tuple[str, ...]
    operation_id: str

    def build_variables(
        self, path_values: Mapping[str, str], query: Sequence[tuple[str, str]], body: Any
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if isinstance(body, dict):
            values.update(body)
        elif body is not None:
            raise RestInputError("the request body must be a JSON object whose members are the operation's variables")
        for key, raw in query:
            t = self.variables.get(key)
            if t is None:
                continue  # unknown query parameters are ignored, as most REST APIs do
            inner = _unwrap(t)[0]
            if isinstance(inner, GraphQLList):
                values.setdefault(key, []).append(_coerce(raw, inner.of_type, key))
            else:
                values[key] = _coerce(raw, t, key)
        for key, raw in path_values.items():
            values[key] = _coerce(raw, self.variables[key], key)
        return values


def _compile_route(route: RestRoute, schema: GraphQLSchema, index: int) -> CompiledRoute:
    where = f"rest route {route.method} {route.path}"
    method = route.method.upper()
    if not route.path.startswith("/"):
        raise RestSurfaceError(f"{where}: the path must start with '/'")
    try:
        document = parse(route.operation)
    except GraphQLError as exc:
        raise RestSurfaceError(f"{where}: the operation does not parse: {exc.message}") from exc
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if route.operation_name:
        operations = [o for o in operations if o.name and o.name.value == route.operation_name]
    if len(operations) != 1:
        raise RestSurfaceError(f"{where}: name exactly one operation (set operation_name when there are several)")
    operation = operations[0]
    if operation.operation is OperationType.SUBSCRIPTION:
        raise RestSurfaceError(f"{where}: subscriptions cannot be served as REST")
    if operation.operation is OperationType.MUTATION and method in ("GET", "HEAD"):
        raise RestSurfaceError(f"{where}: a mutation needs a method other than GET")
    variables: dict[str, GraphQLInputType] = {}
    for definition in operation.variable_definitions or ():
        t = type_from_ast(schema, definition.type)
        if t is None:
            raise RestSurfaceError(f"{where}: variable ${definition.variable.name.value} has an unknown type")
        variables[definition.variable.name.value] = t  # type: ignore[assignment]
    path_params = tuple(_PARAM_RE.findall(route.path))
    for name in path_params:
        if name not in variables:
            raise RestSurfaceError(f"{where}: path parameter {{{name}}} is not a variable of the operation")
    regex = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if _PARAM_RE.fullmatch(part) else re.escape(part)
        for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", route.path.rstrip("/") or "/")
    )
    operation_id = (operation.name.value if operation.name else None) or (
        method.lower() + "_" + (re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_") or "root") + f"_{index}"
    )
    return CompiledRoute(
        method=method,
        path=route.path,
        pattern=re.compile(regex + "/?"),
        document=route.operation,
        operation_name=route.operation_name,
        variables=variables,
        path_params=path_params,
        operation_id=operation_id,
    )


def _passthrough(service: str, path_names: tuple[str, ...], described: dict[str, Any] | None) -> dict[str, Any]:
    """A pass-through operation: as its service describes it (parameters, body, responses), else bare."""
    if described is not None:
        operation = {"summary": f"Passed through to service {service}", **described, "tags": [service]}
        if "operationId" in operation:  # unique in the product's document: services may share operation names
            operation["operationId"] = f"{service}.{operation['operationId']}"
        return operation
    bare: dict[str, Any] = {
        "summary": f"Passed through to service {service}",
        "tags": [service],
        "responses": {"default": {"description": f"The answer of service {service}"}},
    }
    if path_names:
        bare["parameters"] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in path_names
        ]
    return bare


def _raw_rest(raw_path: str, path: str) -> str | None:
    """The end of ``raw_path`` that is the encoded form of the rest of ``path`` (after ``/<service>/``), when there
    is one with only valid escapes; else None (then the decoded path is encoded again)."""
    rest = path.lstrip("/").partition("/")[2]
    raw_path = raw_path.partition("?")[0]  # some servers (httpx's ASGI transport) leave the query on it
    if not rest or _BAD_ESCAPE.search(raw_path) is not None:
        return None
    end = len(raw_path)
    while (slash := raw_path.rfind("/", 0, end)) >= 0:
        candidate = raw_path[slash + 1 :]
        if unquote(candidate) == rest:
            return quote(candidate, safe=_PATH_SAFE + "%")
        end = slash
    return None


class RestSurface:
    """The compiled REST surface of one product."""

    def __init__(self, product: str, version: str, routes: Sequence[RestRoute], supergraph: Supergraph) -> None:
        self.product = product
        self.version = version
        self.routes = [_compile_route(route, supergraph.schema, i) for i, route in enumerate(routes)]
        # OpenAPI services: name -> (upstream base URL, its operations as (method, path) for the document).
        self.services: dict[str, tuple[str, list[tuple[str, str, tuple[str, ...]]]]] = {}
        for name, subgraph in supergraph.subgraphs.items():
            if subgraph.kind is SourceKind.OPENAPI and subgraph.url:
                operations = []
                if subgraph.rest is not None:
                    for op in subgraph.rest.operations.values():
                        path_names = tuple(dict.fromkeys(_TEMPLATE_RE.findall(op.path)))
                        operations.append((op.method.upper(), op.path, path_names))
                self.services[name] = (subgraph.url.rstrip("/"), operations)
        self._sources = {
            spec.name: spec
            for spec in supergraph.sources
            if spec.protocol is SourceKind.OPENAPI and spec.name in self.services
        }
        self._openapi: dict[str, Any] | None = None

    def match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        """The route for ``method`` and ``path`` (relative to ``/rest``), with its path parameters."""
        for route in self.routes:
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                found = route.pattern.fullmatch(path)
                if found is not None:
                    return route, found.groupdict()
        return None

    def methods_for(self, path: str) -> list[str]:
        """The methods that do have a route at ``path`` (for a 405's ``Allow`` when ``match`` found none)."""
        methods = {route.method for route in self.routes if route.pattern.fullmatch(path) is not None}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)

    def passthrough(self, path: str, raw_path: str | None = None) -> str | None:
        """The upstream URL for ``/<service>/rest-of-path`` when ``<service>`` is an OpenAPI source.

        ``path`` is the decoded request path: it is percent-encoded again, so an encoded ``?``, ``#`` or control
        character stays part of the upstream path instead of starting a query the gateway never saw. ``raw_path``,
        the whole path as the client sent it (``scope["raw_path"]``), keeps what the client encoded: ``a%2Cb`` is
        one path item for the upstream, where the decoded ``a,b`` would be two."""
        service, _, rest = path.lstrip("/").partition("/")
        target = self.services.get(service)
        if target is None:
            return None
        kept = _raw_rest(raw_path, path) if raw_path is not None else None
        return f"{target[0]}/{kept if kept is not None else quote(rest, safe=_PATH_SAFE)}"

    def openapi(self, server_url: str) -> dict[str, Any]:
        """An OpenAPI 3.1 document of this surface (computed once)."""
        if self._openapi is None:
            self._openapi = self._build_openapi()
        return {**self._openapi, "servers": [{"url": server_url}]}

    def _described(self, service: str) -> Described:
        """The service's own description of its operations (empty when its source is not at hand or unreadable)."""
        from stitcher.openapi.description import Described, describe_operations  # only when openapi.json is asked

        spec = self._sources.get(service)
        if spec is None:
            return Described()
        try:
            return describe_operations(spec, prefix=f"{service}.")
        except StitcherError as exc:
            log.warning("REST surface of %s: service %s is described bare: %s", self.product, service, exc)
            return Described()

    def _build_openapi(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        errors = {
            "description": "A GraphQL-style error: {errors: [{message, extensions: {code}}]}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        }
        for route in self.routes:
            parameters: list[dict[str, Any]] = [
                {"name": name, "in": "path", "required": True, "schema": _json_schema(route.variables[name])}
                for name in route.path_params
            ]
            rest_vars = {k: v for k, v in route.variables.items() if k not in route.path_params}
            operation: dict[str, Any] = {
                "operationId": route.operation_id,
                "summary": f"GraphQL operation of product {self.product}",
                "responses": {
                    "200": {
                        "description": "The operation's data (with errors, {data, errors})",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "400": errors,
                    "401": errors,
                    "403": errors,
                    "429": errors,
                },
            }
            if route.method in _METHODS_WITH_BODY and rest_vars:
                required = [k for k, v in rest_vars.items() if isinstance(v, GraphQLNonNull)]
                body_schema: dict[str, Any] = {
                    "type": "object",
                    "properties": {k: _json_schema(v) for k, v in rest_vars.items()},
                }
                if required:
                    body_schema["required"] = required
                operation["requestBody"] = {
                    "required": bool(required),
                    "content": {"application/json": {"schema": body_schema}},
                }
            else:
                parameters += [
                    {"name": k, "in": "query", "required": isinstance(v, GraphQLNonNull), "schema": _json_schema(v)}
                    for k, v in rest_vars.items()
                ]
            if parameters:
                operation["parameters"] = parameters
            paths.setdefault(route.path, {})[route.method.lower()] = operation
        schemas: dict[str, Any] = {}
        for service, (_, operations) in sorted(self.services.items()):
            described = self._described(service)
            schemas.update(described.schemas)
            for method, path, path_names in operations:
                item = paths.setdefault(f"/{service}/{path.lstrip('/')}", {})
                item[method.lower()] = _passthrough(service, path_names, described.operations.get((method, path)))
        return {
            "openapi": "3.1.0",
            "info": {"title": f"{self.product} REST API", "version": self.version},
            "paths": paths,
            "components": {
                "schemas": {
                    **schemas,
                    "Errors": {
                        "type": "object",
                        "properties": {
                            "errors": {
                                "type": "array",
                                "items": {"type": "object", "properties": {"message": {"type": "string"}}},
                            }
                        },
                    },
                },
                "securitySchemes": {
                    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                },
            },
            "security": [{"apiKey": []}, {"bearer": []}],
        }
