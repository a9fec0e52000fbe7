"""Operations: each path and method a root field (GET and HEAD on ``Query``, the rest on ``Mutation``) with its
parameters as arguments, its request body as ``input``, its success response as the field's type, and the
:class:`~stitcher.ir.RestOperation` that :mod:`stitcher.rest` sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLNullableInputType,
    GraphQLNullableOutputType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    is_list_type,
    is_non_null_type,
)
from graphql.pyutils import Undefined

from stitcher._jsonref import RefError
from stitcher.errors import SchemaError
from stitcher.ir import Discriminator, ParameterStyle, RestOperation, RestParameter
from stitcher.openapi.classification import is_json_media
from stitcher.openapi.context import Context, Node
from stitcher.openapi.inputs import InputTypes
from stitcher.openapi.names import Names, camel_name, field_name, pascal_name, path_name
from stitcher.openapi.outputs import OutputTypes

__all__ = ["METHODS", "Operations", "base_path", "pick_media"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_SWAGGER_SEPARATORS = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}
_STYLE_SEPARATORS = {"spaceDelimited": " ", "pipeDelimited": "|"}
_SPECIAL_STYLES: dict[str, ParameterStyle] = {"label": "label", "matrix": "matrix", "deepObject": "deepObject"}
_LOCATION_STYLES = {  # the styles each location takes (OpenAPI 3's style values), its default first
    "path": ("simple", "label", "matrix"),
    "query": ("form", "spaceDelimited", "pipeDelimited", "deepObject"),
    "header": ("simple",),
    "cookie": ("form",),
}


class Operations:
    """Translates the document's paths into root fields, filling ``query_fields``, ``mutation_fields`` and the
    binding's operations."""

    def __init__(self, context: Context, outputs: OutputTypes, inputs: InputTypes) -> None:
        self.context = context
        self.outputs = outputs
        self.inputs = inputs
        self.query_fields: dict[str, GraphQLField] = {}
        self.mutation_fields: dict[str, GraphQLField] = {}

    def operations(self) -> Iterator[tuple[str, str, Node, list[Node]]]:
        """(path, method, operation, path-level parameters) in document order."""
        context = self.context
        paths = context.root_node().get("paths")
        if paths is None:
            context.warn("the document has no paths")
            return
        if not isinstance(paths.value, dict):
            raise SchemaError("not an OpenAPI document: `paths` must be a mapping", service=context.spec.name)
        for path in paths.value:
            try:
                item, _ = context.follow(paths.child(path))
            except RefError as exc:
                context.warn(f"path {path}: {exc}; skipped")
                continue
            if not isinstance(item.value, dict):
                continue
            params = item.value.get("parameters")
            common = [item.child("parameters", i) for i in range(len(params))] if isinstance(params, list) else []
            for method, operation in item.value.items():
                if method in METHODS and isinstance(operation, dict):
                    yield str(path), str(method), item.child(method), common

    def base_path(self) -> str:
        return base_path(self.context.root, self.context.swagger)

    def translate(self) -> None:
        ops = list(self.operations())
        names = Names()
        field_names: list[str | None] = [None] * len(ops)
        for index, (_, _, operation, _) in enumerate(ops):  # operationIds first: they never move
            operation_id = operation.value.get("operationId")
            if isinstance(operation_id, str) and operation_id:
                field_names[index] = names.claim(camel_name(operation_id))
        for index, (path, method, _, _) in enumerate(ops):
            if field_names[index] is None:
                field_names[index] = names.claim(path_name(method, path))
        prefix = self.base_path()
        for (path, method, operation, common), gql_name in zip(ops, field_names, strict=True):
            assert gql_name is not None
            self._operation(prefix + path, method, operation, common, gql_name)

    def _parameters(self, operation: Node, common: list[Node], path: str, where: str) -> list[Node]:
        merged: dict[tuple[str, str], Node] = {}
        own = operation.value.get("parameters")
        listed = [operation.child("parameters", i) for i in range(len(own))] if isinstance(own, list) else []
        for raw in [*common, *listed]:
            try:
                param, _ = self.context.follow(raw)
            except RefError as exc:
                self.context.warn(f"{where}: parameter {exc}; skipped")
                continue
            value = param.value
            if isinstance(value, dict) and isinstance(value.get("name"), str) and isinstance(value.get("in"), str):
                merged[(value["name"], value["in"])] = param
        for name in re.findall(r"\{([^{}]+)\}", path):  # a templated segment nobody declared still needs a value
            if (name, "path") not in merged:
                self.context.warn(f"{where}: path parameter {name!r} is not declared; it is a required String argument")
                synthetic = {"name": name, "in": "path", "required": True, "type": "string"}
                merged[(name, "path")] = self.context.synthetic({**synthetic, "schema": {"type": "string"}})
        return list(merged.values())

    def _operation(self, path: str, method: str, operation: Node, common: list[Node], gql_name: str) -> None:
        context = self.context
        op = operation.value
        where = f"{method.upper()} {path}"
        op_hint = pascal_name(gql_name)
        args: dict[str, GraphQLArgument] = {}
        arg_names = Names()
        rest_params: list[RestParameter] = []
        body_argument: str | None = None
        content_type = "application/json"
        form_params: list[Node] = []
        for param_node in self._parameters(operation, common, path, where):
            param = param_node.value
            location = param["in"]
            name = param["name"]
            if location == "body":
                body_argument, content_type = self._body_argument(
                    param_node.get("schema"), param.get("required") is True, op_hint, where, args, arg_names
                )
                content_type = self._swagger_consumes(op)
                continue
            if location == "formData":
                form_params.append(param_node)
                continue
            if location not in ("path", "query", "header", "cookie"):
                context.warn(f"{where}: parameter {name!r} in {location!r} is not supported; skipped")
                continue
            if location == "header" and name.lower() in _IGNORED_HEADERS:
                continue
            schema = self._param_schema(param_node)
            arg = arg_names.claim(field_name(name))
            base_type, _ = self.inputs.type_of(schema, f"{op_hint} {name}", f"{where} parameter {name}")
            required = location == "path" or param.get("required") is True
            arg_type: GraphQLInputType = GraphQLNonNull(base_type) if required else base_type
            default = self._default(schema, arg_type)
            args[arg] = GraphQLArgument(arg_type, default_value=default, description=param.get("description"))
            rest_params.append(
                RestParameter(name, location, arg, required, *self._serialization(param, location, where))
            )
        if form_params:
            properties = {p.value["name"]: self._param_schema(p).value for p in form_params}
            required_names = [p.value["name"] for p in form_params if p.value.get("required") is True]
            synthetic = context.synthetic(
                {"type": "object", "properties": properties, "required": required_names}, operation.ref_doc
            )
            body_argument, _ = self._body_argument(synthetic, bool(required_names), op_hint, where, args, arg_names)
            multipart = any(p.value.get("type") == "file" for p in form_params) or "multipart/form-data" in (
                op.get("consumes") or context.root.get("consumes") or []
            )
            content_type = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
        request_body = operation.get("requestBody")
        if not context.swagger and request_body is not None:
            body_argument, content_type = self._request_body(request_body, op_hint, where, args, arg_names)
        result_type = self._result_type(operation, method, op_hint, where)
        description = op.get("summary") or op.get("description")
        deprecated = "Deprecated in the OpenAPI description." if op.get("deprecated") is True else None
        field = GraphQLField(result_type, args, description=description, deprecation_reason=deprecated)
        root = "Query" if method in ("get", "head") else "Mutation"
        (self.query_fields if root == "Query" else self.mutation_fields)[gql_name] = field
        operation_id = op.get("operationId") if isinstance(op.get("operationId"), str) else None
        context.binding.operations[(root, gql_name)] = RestOperation(
            method=method.upper(),
            path=path,
            parameters=tuple(rest_params),
            body_argument=body_argument,
            content_type=content_type,
            operation_id=operation_id,
        )

    def _serialization(
        self, param: dict[str, Any], location: str, where: str
    ) -> tuple[bool, str, ParameterStyle, bool]:
        """How a parameter's value is written (:class:`~stitcher.ir.RestParameter`): whether arrays and objects are
        exploded, what separates unexploded items, the style that those two cannot say, and ``allowReserved``. A
        style that its location does not take is warned about and the location's default is used."""
        if self.context.swagger:
            fmt = param.get("collectionFormat", "csv")
            return fmt == "multi", _SWAGGER_SEPARATORS.get(str(fmt), ","), "", False
        default = "form" if location in ("query", "cookie") else "simple"
        style = str(param.get("style", default))
        if style not in _LOCATION_STYLES[location]:
            taken = ", ".join(_LOCATION_STYLES[location])
            self.context.warn(
                f"{where}: style {style!r} of {param['name']!r} is not one of a {location} parameter's ({taken}); "
                f"it is sent as {default!r}"
            )
            style = default
        explode = bool(param.get("explode", style == "form"))
        allow_reserved = location == "query" and param.get("allowReserved") is True
        return explode, _STYLE_SEPARATORS.get(style, ","), _SPECIAL_STYLES.get(style, ""), allow_reserved

    def _param_schema(self, param: Node) -> Node:
        if self.context.swagger:
            return param
        schema = param.get("schema")
        if schema is not None:
            return schema
        content = param.get("content")
        if content is not None and isinstance(content.value, dict) and content.value:
            media = content.child(next(iter(content.value)))
            media_schema = media.get("schema") if isinstance(media.value, dict) else None
            if media_schema is not None:
                return media_schema
        return self.context.synthetic({"type": "string"})

    def _default(self, schema: Node, arg_type: GraphQLInputType) -> Any:
        """The schema's default when it is a valid literal for the (leaf) argument type, else no default."""
        try:
            target, _ = self.context.follow(schema)
        except RefError:
            return Undefined
        if not isinstance(target.value, dict) or "default" not in target.value:
            return Undefined
        value = target.value["default"]
        named = get_named_type(arg_type)
        if is_list_type(arg_type.of_type if is_non_null_type(arg_type) else arg_type):
            return Undefined
        if isinstance(named, GraphQLEnumType):
            back = {v: k for k, v in self.context.binding.enum_values.get(named.name, {}).items()}
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

    def _swagger_consumes(self, operation: dict[str, Any]) -> str:
        consumes = operation.get("consumes") or self.context.root.get("consumes") or []
        if not isinstance(consumes, list) or not consumes:
            return "application/json"
        for media in consumes:
            if isinstance(media, str) and is_json_media(media) and media != "*/*":
                return media
        return str(consumes[0])

    def _body_argument(
        self,
        schema: Node | None,
        required: bool,
        op_hint: str,
        where: str,
        args: dict[str, GraphQLArgument],
        arg_names: Names,
    ) -> tuple[str, str]:
        arg = arg_names.claim("input")
        arg_type: GraphQLNullableInputType
        if schema is None:
            arg_type = self.inputs.leaves.json_fallback(f"{where} request body", "no schema")
        else:
            arg_type, _ = self.inputs.type_of(schema, f"{op_hint} Input", f"{where} request body")
        args[arg] = GraphQLArgument(GraphQLNonNull(arg_type) if required else arg_type)
        return arg, "application/json"

    def _request_body(
        self, raw: Node, op_hint: str, where: str, args: dict[str, GraphQLArgument], arg_names: Names
    ) -> tuple[str | None, str]:
        try:
            body, _ = self.context.follow(raw)
        except RefError as exc:
            self.context.warn(f"{where} request body: {exc}; skipped")
            return None, "application/json"
        content = body.get("content") if isinstance(body.value, dict) else None
        if content is None or not isinstance(content.value, dict) or not content.value:
            self.context.warn(f"{where}: request body has no content; skipped")
            return None, "application/json"
        media = pick_media(content.value)
        media_node = content.child(media)
        schema = media_node.get("schema") if isinstance(media_node.value, dict) else None
        if schema is None and not is_json_media(media):
            schema = self.context.synthetic({"type": "string"})
        required = body.value.get("required") is True
        arg, _ = self._body_argument(schema, required, op_hint, where, args, arg_names)
        return arg, media

    def _result_type(self, operation: Node, method: str, op_hint: str, where: str) -> GraphQLNullableOutputType:
        """The type of the lowest 2xx response with content (``default`` when there is no 2xx). When 2xx responses
        have different object schemas (200 a Pet, 202 a Job), a union of them, whose concrete type is chosen by the
        status code of the answer; a success without content (204) is ``null``."""
        if method == "head":
            return GraphQLBoolean
        responses = operation.get("responses")
        if responses is None or not isinstance(responses.value, dict) or not responses.value:
            return GraphQLBoolean
        codes = {str(code).upper(): code for code in responses.value}
        success = sorted(c for c in codes if re.fullmatch(r"2(?:\d\d|XX)", c))
        candidates = success or (["DEFAULT"] if "DEFAULT" in codes else [])
        chosen: list[tuple[str, Node]] = []  # one per distinct schema, lowest code first
        for code in candidates:
            try:
                response, _ = self.context.follow(responses.child(codes[code]))
            except RefError as exc:
                self.context.warn(f"{where} response {code}: {exc}")
                continue
            schema = self._response_schema(response, operation.value)
            if schema is not None and not any(self._same_schema(schema, other) for _, other in chosen):
                chosen.append((code, schema))
        if not chosen:
            return GraphQLBoolean
        code, schema = chosen[0]
        if code == "DEFAULT":
            self.context.warn(f"{where}: no 2xx response; the field is typed by the default response")
        result, _ = self.outputs.type_of(schema, f"{op_hint} Response", f"{where} response {code.lower()}")
        if len(chosen) == 1:
            return result
        return self._by_status(chosen, result, op_hint, where)

    def _by_status(
        self, chosen: list[tuple[str, Node]], first: GraphQLNullableOutputType, op_hint: str, where: str
    ) -> GraphQLNullableOutputType:
        """A union of the object types of several 2xx responses, resolved by status code (the discriminator's
        mapping is keyed by code: ``"201"``, ``"2XX"``)."""
        members: list[tuple[str, GraphQLNullableOutputType]] = [(chosen[0][0], first)]
        for code, schema in chosen[1:]:
            member, _ = self.outputs.type_of(schema, f"{op_hint} Response {code}", f"{where} response {code.lower()}")
            members.append((code, member))
        if not all(isinstance(t, GraphQLObjectType) for _, t in members):
            kinds = ", ".join(f"{code}: {t}" for code, t in members)
            return self.outputs.leaves.json_fallback(
                where, f"2xx responses have different bodies that are not all objects ({kinds})"
            )
        types: list[GraphQLObjectType] = []
        for _, t in members:
            if isinstance(t, GraphQLObjectType) and all(t is not known for known in types):
                types.append(t)
        if len(types) == 1:
            return types[0]
        name = self.context.types.claim(pascal_name(f"{op_hint} Responses"))
        mapping = {code: str(t) for code, t in members}
        self.context.binding.discriminators[name] = Discriminator(property_name=None, mapping=mapping)
        return GraphQLUnionType(name, types, description=f"The answer of {where}, by its status code.")

    def _same_schema(self, a: Node, b: Node) -> bool:
        try:
            return self.context.follow(a)[0].at == self.context.follow(b)[0].at
        except RefError:
            return False

    def _response_schema(self, response: Node, operation: dict[str, Any]) -> Node | None:
        context = self.context
        if not isinstance(response.value, dict):
            return None
        if context.swagger:
            schema = response.get("schema")
            if schema is None:
                return None
            produces = operation.get("produces") or context.root.get("produces") or ["application/json"]
            textual = isinstance(produces, list) and all(isinstance(p, str) and p.startswith("text/") for p in produces)
            if textual:
                return context.synthetic({"type": "string"})
            return schema
        content = response.get("content")
        if content is None or not isinstance(content.value, dict) or not content.value:
            return None
        media = pick_media(content.value)
        media_node = content.child(media)
        if is_json_media(media):
            schema = media_node.get("schema") if isinstance(media_node.value, dict) else None
            return schema if schema is not None else context.synthetic({})
        if media.startswith("text/"):
            return context.synthetic({"type": "string"})
        return context.synthetic({"x-loom-binary": media})


def pick_media(content: dict[str, Any]) -> str:
    """The media type a body is read or sent as: JSON first, then forms, then text, then anything."""
    ranked = sorted(
        content,
        key=lambda m: (
            0
            if is_json_media(m) and m != "*/*"
            else 1
            if m.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
            else 2
            if m.startswith("text/")
            else 3
        ),
    )
    return str(ranked[0])


def base_path(root: dict[str, Any], swagger: bool) -> str:
    """The path every operation's path is under: Swagger's ``basePath``, else the path of the first ``servers`` URL
    (its variables at their defaults), without a trailing slash."""
    if swagger:
        raw = root.get("basePath")
        prefix = raw if isinstance(raw, str) else ""
    else:
        servers = root.get("servers")
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
