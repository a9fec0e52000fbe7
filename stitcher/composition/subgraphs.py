"""Sources -> subgraphs: each protocol's reader, then the source's transforms."""

from __future__ import annotations

import re

from stitcher.composition.directives import count_directive_uses
from stitcher.composition.transforms import apply_transforms
from stitcher.errors import SchemaError
from stitcher.federation import (
    subgraph_from_federation,
)
from stitcher.graphql_source import subgraph_from_graphql
from stitcher.ir import (
    SourceKind,
    Subgraph,
)
from stitcher.sources import SourceSpec, Transforms


def build_subgraph(spec: SourceSpec, translated: Subgraph | None = None) -> Subgraph:
    """One source as a subgraph in product names (transforms applied; ``renames`` maps back to upstream names).

    ``translated``: for an OpenAPI source, its document translated before without entities, url or transforms
    (``build_subgraph`` of the spec without them, as a publishing check makes it): taken instead of translating
    the document again, and left as it was."""
    if translated is not None and spec.protocol is not SourceKind.OPENAPI:
        raise ValueError(f"service {spec.name}: only an OpenAPI source is taken translated")
    if spec.protocol is SourceKind.FEDERATION:
        subgraph = subgraph_from_federation(spec)
        if not _FEDERATION_2_LINK.search(spec.schema):
            subgraph.federation_v1 = True
    elif spec.protocol is SourceKind.GRAPHQL:
        subgraph = subgraph_from_graphql(spec)
    elif spec.protocol is SourceKind.OPENAPI:
        from stitcher.openapi import subgraph_from_openapi  # written separately; imported only when needed

        subgraph = subgraph_from_openapi(spec, translated)
    else:  # pragma: no cover - SourceKind is closed
        raise SchemaError(f"unknown protocol {spec.protocol!r}", service=spec.name)
    if subgraph.url is None:
        subgraph.url = spec.url
    if subgraph.schema is not None and spec.protocol is not SourceKind.OPENAPI and spec.transforms != Transforms():
        subgraph.directive_uses = count_directive_uses(subgraph.schema)  # transforms build a schema without them
    return apply_transforms(subgraph, spec.transforms)


# What makes a subgraph a Federation 2 one: ``@link`` to the federation spec (``.../federation/v2.x``), usually
# ``extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [...])``. Apollo refuses the
# Federation 2 directives below in a Federation 1 subgraph; we take a subgraph using them as Federation 2 (its
# author thinks in Federation 2: what is not @shareable is not shared). Read from the text: the subgraph reader does
# not keep schema extensions, and parsing a large SDL twice would cost more than this search.
_FEDERATION_2_LINK = re.compile(r"@link\s*\([^)]*/federation/v2|@(?:shareable|override|interfaceObject)\b")
