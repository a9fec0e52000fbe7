"""What a supergraph SDL carries for Loom's own gateway beyond the join information: the product's sources and how
they are stitched, so that ``loom gateway --supergraph`` serves exactly what was composed.

The join directives say which subgraph resolves which field, which is all a Federation gateway needs. A Loom
product also has plain GraphQL services with merge configuration, OpenAPI services (their REST binding: methods,
paths, parameters), transforms (product names -> upstream names) and links; none of that fits the join spec. So
each ``join__Graph`` member carries its source as ``@loom__source(protocol:, schema:, entities:, transforms:)`` and
the schema carries ``@loom__stitching(prefer:, links:)`` (JSON in strings), under ``@link`` to Loom's own spec, which
other gateways ignore. :func:`recomposed` composes them again, with the URLs of the ``join__graph`` directives (a
supergraph may be edited to point elsewhere), and refuses a supergraph whose schema is not that composition.

An OpenAPI document that refers to other files (``$ref: ./pets.yaml``) cannot be carried: its source says so and
loading refuses it (bundle the document into one file first).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from graphql import ConstDirectiveNode, DocumentNode, EnumValueNode, SchemaDefinitionNode, SchemaExtensionNode
from graphql.language.print_string import print_string

from stitcher.errors import CompositionError, SchemaError, StitcherError
from stitcher.ir import SourceKind, Supergraph
from stitcher.sources import EntityConfig, Link, SourceSpec, Stitching, Transforms

__all__ = ["LOOM_SPEC", "carried_definitions", "graph_directive", "recomposed", "schema_directive", "uncarried"]

LOOM_SPEC = "https://specs.loom.dev/loom/v0.1"
_DEFINITIONS = (
    "directive @loom__source(protocol: String!, schema: String, entities: String, transforms: String, "
    "unavailable: String) on ENUM_VALUE",
    "directive @loom__stitching(prefer: String, links: String) on SCHEMA",
)
# A $ref to another document: anything but a fragment of this one ("#/...").
_EXTERNAL_REF = re.compile(r"""["']?\$ref["']?\s*:\s*["']?(?!#)[^\s"'#]""")


def carried_definitions(sg: Supergraph) -> list[str]:
    """The directive definitions the supergraph needs when it carries sources (none otherwise)."""
    return list(_DEFINITIONS) if sg.sources else []


def schema_directive(sg: Supergraph) -> str:
    """``@link`` to Loom's spec and ``@loom__stitching`` for the schema block ("" when nothing is carried)."""
    if not sg.sources:
        return ""
    out = f'\n  @link(url: "{LOOM_SPEC}")'
    stitching = sg.stitching or Stitching()
    if stitching.prefer or stitching.links:
        links = [dataclasses.asdict(link) for link in stitching.links]
        out += (
            f"\n  @loom__stitching(prefer: {print_string(json.dumps(dict(stitching.prefer)))}, "
            f"links: {print_string(json.dumps(links))})"
        )
    return out


def uncarried(sg: Supergraph) -> list[str]:
    """Why some sources cannot ride in the supergraph (a gateway would refuse to serve it), one line each."""
    return [reason for spec in sg.sources if (reason := _uncarried(spec)) is not None]


def _uncarried(spec: SourceSpec) -> str | None:
    if spec.protocol is SourceKind.OPENAPI and spec.base_path is not None and _EXTERNAL_REF.search(spec.schema):
        return (
            f'service "{spec.name}": its OpenAPI document refers to other files ($ref), which a supergraph cannot '
            "carry; bundle them into one document"
        )
    return None


def graph_directive(sg: Supergraph, graph: str) -> str:
    """``@loom__source(...)`` for one ``join__Graph`` member ("" for a graph that is no source, e.g. a link's)."""
    spec = next((s for s in sg.sources if s.name == graph), None)
    if spec is None:
        return ""
    reason = _uncarried(spec)
    if reason is not None:
        return f' @loom__source(protocol: "openapi", unavailable: {print_string(reason)})'
    entities = {
        name: {k: v for k, v in dataclasses.asdict(e).items() if v is not None} for name, e in spec.entities.items()
    }
    transforms = {k: v for k, v in _plain(dataclasses.asdict(spec.transforms)).items() if v}
    return (
        f" @loom__source(protocol: {print_string(spec.protocol.value)}, schema: {print_string(spec.schema)}, "
        f"entities: {print_string(json.dumps(entities))}, transforms: {print_string(json.dumps(transforms))})"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _transforms(data: dict[str, Any]) -> Transforms:
    return Transforms(
        prefix=data.get("prefix"),
        rename_types=dict(data.get("rename_types") or {}),
        rename_fields=dict(data.get("rename_fields") or {}),
        hide=tuple(data.get("hide") or ()),
        type_patterns=dict(data.get("type_patterns") or {}),
        root_field_patterns=dict(data.get("root_field_patterns") or {}),
    )


def _arguments(directive: ConstDirectiveNode) -> dict[str, str]:
    out: dict[str, str] = {}
    for argument in directive.arguments or ():
        value = getattr(argument.value, "value", None)
        if isinstance(value, str) and not isinstance(argument.value, EnumValueNode):
            out[argument.name.value] = value
    return out


def recomposed(
    document: DocumentNode, graphs: list[tuple[str, str | None, list[ConstDirectiveNode]]]
) -> Supergraph | None:
    """The product composed again from the sources the supergraph carries; None when it carries none.

    ``graphs``: each ``join__Graph`` member's name, URL and applied directives."""
    carried = [(name, url, d) for name, url, found in graphs for d in found if d.name.value == "loom__source"]
    if not carried:
        return None
    specs: list[SourceSpec] = []
    for name, url, directive in carried:
        values = _arguments(directive)
        if "unavailable" in values:
            raise SchemaError(f"this supergraph cannot be served: {values['unavailable']}")
        try:
            entities = json.loads(values.get("entities") or "{}")
            transforms = json.loads(values.get("transforms") or "{}")
            specs.append(
                SourceSpec(
                    name=name,
                    protocol=SourceKind(values["protocol"]),
                    schema=values["schema"],
                    url=url,
                    entities={t: EntityConfig(**e) for t, e in entities.items()},
                    transforms=_transforms(transforms),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise SchemaError(
                f'supergraph SDL: @loom__source of graph "{name}" is not one Loom printed: {exc}'
            ) from exc
    stitching = Stitching()
    for node in document.definitions:
        if isinstance(node, SchemaDefinitionNode | SchemaExtensionNode):
            for directive in node.directives or ():
                if directive.name.value == "loom__stitching":
                    values = _arguments(directive)
                    try:
                        links = tuple(Link(**link) for link in json.loads(values.get("links") or "[]"))
                        stitching = Stitching(prefer=json.loads(values.get("prefer") or "{}"), links=links)
                    except (ValueError, TypeError) as exc:
                        raise SchemaError(f"supergraph SDL: @loom__stitching is not one Loom printed: {exc}") from exc
    from stitcher.composition import compose  # composition prints supergraphs: imported when one is loaded

    try:
        return compose(specs, stitching)
    except CompositionError as exc:
        raise SchemaError("the sources this supergraph carries do not compose: " + "; ".join(exc.conflicts)) from exc
    except StitcherError as exc:
        raise SchemaError(f"a source this supergraph carries is invalid: {exc}") from exc
