"""What an OpenAPI source's operations look like to a client of the REST pass-through, as OpenAPI 3.1.

:func:`describe_operations` reads the source's document again and gives, for each operation (keyed by method and
full path, as :class:`~stitcher.ir.RestOperation` has them), its parameters, request body and responses: Swagger
2.0 is converted (body and form parameters to a request body, ``schema`` to ``content``, ``collectionFormat`` to
``style``), OpenAPI 3.0 schemas become JSON Schema 2020-12 (``nullable``, boolean ``exclusiveMinimum``). Named
schemas are kept as components named ``<prefix><Name>``; every other ``$ref`` is inlined (a reference back into
what is being inlined stands as ``{}``), so the result needs nothing from the source's files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stitcher._jsonref import RefError, RefResolver, load_text, pointer_tokens
from stitcher.errors import SchemaError
from stitcher.openapi.context import detect_version
from stitcher.openapi.operations import METHODS, base_path
from stitcher.sources import SourceSpec

__all__ = ["Described", "describe_operations"]

_COMPONENT_RE = re.compile(r"^(?:/components/schemas|/definitions|/\$defs)/([^/]+)$")
_COLLECTION_STYLES = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
}
_PARAMETER_KEYS = ("name", "in", "description", "required", "deprecated", "style", "explode", "allowReserved")
_SWAGGER_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)


@dataclass(slots=True)
class Described:
    """Operations by ``(METHOD, path)`` and the named schemas they refer to (``#/components/schemas/<name>``)."""

    operations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)


def describe_operations(spec: SourceSpec, prefix: str = "") -> Described:
    """The OpenAPI 3.1 description of ``spec``'s operations; component names get ``prefix`` (one product holds
    several services). Raises :class:`~stitcher.errors.SchemaError` for a document that is not OpenAPI."""
    try:
        document = load_text(spec.schema)
    except ValueError as exc:
        raise SchemaError(f"cannot parse the OpenAPI document: {exc}", service=spec.name) from exc
    swagger = detect_version(document, spec.name)
    return _Describer(document, swagger, RefResolver(document, spec.base_path), prefix).describe()


class _Describer:
    def __init__(self, root: dict[str, Any], swagger: bool, refs: RefResolver, prefix: str) -> None:
        self.root = root
        self.swagger = swagger
        self.refs = refs
        self.prefix = prefix
        self.out = Described()
        self._named: dict[tuple[str, str], str] = {}  # (document, pointer) -> component name

    def describe(self) -> Described:
        paths = self.root.get("paths")
        if not isinstance(paths, dict):
            return self.out
        prefix = base_path(self.root, self.swagger)
        for path, raw_item in paths.items():
            item, item_doc = self._follow(raw_item, "")
            if not isinstance(item, dict):
                continue
            common: list[Any] = item["parameters"] if isinstance(item.get("parameters"), list) else []
            for method, operation in item.items():
                if method in METHODS and isinstance(operation, dict):
                    described = self._operation(operation, common, item_doc)
                    self.out.operations[(method.upper(), prefix + str(path))] = described
        return self.out

    # -- references ------------------------------------------------------------------------------------------

    def _follow(self, node: Any, doc: str) -> tuple[Any, str]:
        """Follow a chain of ``$ref`` to a non-reference; ``(None, doc)`` for one that cannot be followed."""
        seen: set[tuple[str, str]] = set()
        while isinstance(node, dict) and "$ref" in node:
            try:
                doc, pointer, node = self.refs.resolve(node["$ref"], doc)
            except RefError:
                return None, doc
            if (doc, pointer) in seen:
                return None, doc
            seen.add((doc, pointer))
        return node, doc

    def _schema(self, node: Any, doc: str, inlining: frozenset[tuple[str, str]] = frozenset()) -> Any:
        if isinstance(node, list):
            return [self._schema(item, doc, inlining) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            try:
                target_doc, fragment, target = self.refs.resolve(node["$ref"], doc)
            except RefError:
                return {"description": f"unresolvable reference {node['$ref']!r}"}
            pointer = "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in pointer_tokens(fragment))
            match = _COMPONENT_RE.match(pointer)
            if match and isinstance(target, dict):
                return {"$ref": f"#/components/schemas/{self._component(target, target_doc, pointer, match.group(1))}"}
            if (target_doc, pointer) in inlining:
                return {}
            return self._schema(target, target_doc, inlining | {(target_doc, pointer)})
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
                out[key] = {name: self._schema(sub, doc, inlining) for name, sub in value.items()}
            elif key in ("example", "examples", "default", "enum", "const", "required", "x-nullable", "nullable"):
                out[key] = value
            elif key == "discriminator" and isinstance(value, dict) and isinstance(value.get("mapping"), dict):
                out[key] = {**value, "mapping": {v: self._mapped(str(ref), doc) for v, ref in value["mapping"].items()}}
            else:
                out[key] = self._schema(value, doc, inlining)
        return _modern(out)

    def _mapped(self, ref: str, doc: str) -> str:
        """A discriminator mapping's target (a reference or a schema name) as a reference to the component."""
        if "/" not in ref and "#" not in ref:
            ref = f"#/definitions/{ref}" if self.swagger else f"#/components/schemas/{ref}"
        converted = self._schema({"$ref": ref}, doc)
        return str(converted["$ref"]) if isinstance(converted, dict) and "$ref" in converted else ref

    def _component(self, target: dict[str, Any], doc: str, pointer: str, raw: str) -> str:
        key = (doc, pointer)
        name = self._named.get(key)
        if name is None:
            base = self.prefix + re.sub(r"[^A-Za-z0-9._-]", "_", raw.replace("~1", "/").replace("~0", "~"))
            name, n = base, 1
            while name in self.out.schemas:
                n += 1
                name = f"{base}{n}"
            self._named[key] = name
            self.out.schemas[name] = {}  # claimed before converting: the schema may refer to itself
            self.out.schemas[name] = self._schema(target, doc, frozenset({key}))
        return name

    # -- operations --------------------------------------------------------------------------------------------

    def _operation(self, operation: dict[str, Any], common: list[Any], doc: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: operation[k] for k in ("summary", "description", "operationId", "deprecated", "tags") if k in operation
        }
        merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        for raw in [*common, *(operation.get("parameters") or [])]:
            param, param_doc = self._follow(raw, doc)
            if isinstance(param, dict) and isinstance(param.get("name"), str) and isinstance(param.get("in"), str):
                merged[(param["name"], param["in"])] = (param, param_doc)
        parameters = [
            self._parameter(p, d) for p, d in merged.values() if p["in"] in ("path", "query", "header", "cookie")
        ]
        if parameters:
            out["parameters"] = parameters
        body = self._swagger_body(operation, list(merged.values())) if self.swagger else None
        if not self.swagger and "requestBody" in operation:
            body = self._request_body(operation["requestBody"], doc)
        if body is not None:
            out["requestBody"] = body
        responses = operation.get("responses")
        out["responses"] = (
            {str(code): self._response(r, doc, operation) for code, r in responses.items()}
            if isinstance(responses, dict) and responses
            else {"default": {"description": "The service's answer"}}
        )
        return out

    def _parameter(self, param: dict[str, Any], doc: str) -> dict[str, Any]:
        out = {k: param[k] for k in _PARAMETER_KEYS if k in param}
        if param["in"] == "path":
            out["required"] = True
        if self.swagger:
            schema = {k: param[k] for k in _SWAGGER_SCHEMA_KEYS if k in param}
            out["schema"] = self._schema(schema, doc)
            fmt = param.get("collectionFormat")
            if param.get("type") == "array" and isinstance(fmt, str) and fmt in _COLLECTION_STYLES:
                style, explode = _COLLECTION_STYLES[fmt]
                if param["in"] == "query":
                    out["style"], out["explode"] = style, explode
        elif "schema" in param:
            out["schema"] = self._schema(param["schema"], doc)
        elif isinstance(param.get("content"), dict):
            out["content"] = self._content(param["content"], doc)
        else:
            out["schema"] = {"type": "string"}
        return out

    def _content(self, content: dict[str, Any], doc: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for media, media_object in content.items():
            if isinstance(media_object, dict):
                kept = {k: v for k, v in media_object.items() if k in ("example", "examples", "encoding")}
                if "schema" in media_object:
                    kept["schema"] = self._schema(media_object["schema"], doc)
                out[str(media)] = kept
        return out

    def _request_body(self, raw: Any, doc: str) -> dict[str, Any] | None:
        body, body_doc = self._follow(raw, doc)
        if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
            return None
        out: dict[str, Any] = {"content": self._content(body["content"], body_doc)}
        for key in ("description", "required"):
            if key in body:
                out[key] = body[key]
        return out

    def _swagger_body(
        self, operation: dict[str, Any], params: list[tuple[dict[str, Any], str]]
    ) -> dict[str, Any] | None:
        consumes = operation.get("consumes") or self.root.get("consumes") or ["application/json"]
        media_types = [m for m in consumes if isinstance(m, str)] or ["application/json"]
        for param, doc in params:
            if param["in"] == "body":
                schema = self._schema(param.get("schema", {}), doc)
                body: dict[str, Any] = {"content": {m: {"schema": schema} for m in media_types}}
                if param.get("required") is True:
                    body["required"] = True
                if "description" in param:
                    body["description"] = param["description"]
                return body
        form = [(p, d) for p, d in params if p["in"] == "formData"]
        if not form:
            return None
        properties = {}
        for param, doc in form:
            schema = {k: param[k] for k in _SWAGGER_SCHEMA_KEYS if k in param}
            properties[param["name"]] = self._schema(schema, doc)
        form_schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [p["name"] for p, _ in form if p.get("required") is True]
        if required:
            form_schema["required"] = required
        multipart = any(p.get("type") == "file" for p, _ in form) or "multipart/form-data" in media_types
        media = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
        return {"content": {media: {"schema": form_schema}}, "required": bool(required)}

    def _response(self, raw: Any, doc: str, operation: dict[str, Any]) -> dict[str, Any]:
        response, response_doc = self._follow(raw, doc)
        if not isinstance(response, dict):
            return {"description": "The service's answer"}
        out: dict[str, Any] = {"description": str(response.get("description", ""))}
        if self.swagger:
            if "schema" in response:
                produces = operation.get("produces") or self.root.get("produces") or ["application/json"]
                schema = self._schema(response["schema"], response_doc)
                out["content"] = {m: {"schema": schema} for m in produces if isinstance(m, str)}
        elif isinstance(response.get("content"), dict):
            out["content"] = self._content(response["content"], response_doc)
        return out


def _modern(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 and Swagger schema keywords as JSON Schema 2020-12 (what OpenAPI 3.1 uses)."""
    nullable = schema.pop("nullable", None) is True or schema.pop("x-nullable", None) is True
    if nullable and isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = schema.get(bound)
        if isinstance(flag, bool):
            del schema[bound]
            if flag and limit in schema:
                schema[bound] = schema.pop(limit)
    if schema.get("type") == "file":
        schema["type"], schema["format"] = "string", "binary"
    discriminator = schema.get("discriminator")
    if isinstance(discriminator, str):
        schema["discriminator"] = {"propertyName": discriminator}
    return schema
