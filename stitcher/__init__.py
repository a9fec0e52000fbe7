"""Loom's data plane: composes GraphQL, Federation and OpenAPI services into one product and executes it.

``stitcher`` never imports ``portal``.
"""

from stitcher.ir import (
    Discriminator,
    EntityKey,
    EntityResolver,
    FieldDirectives,
    FieldJoin,
    Renames,
    RestBinding,
    RestOperation,
    RestParameter,
    SourceKind,
    Subgraph,
    Supergraph,
    TypeJoin,
)

__all__ = [
    "Discriminator",
    "EntityKey",
    "EntityResolver",
    "FieldDirectives",
    "FieldJoin",
    "Renames",
    "RestBinding",
    "RestOperation",
    "RestParameter",
    "SourceKind",
    "Subgraph",
    "Supergraph",
    "TypeJoin",
]
