"""Loom's data plane: composes GraphQL, Federation and OpenAPI services into one product and executes it.

``stitcher`` never imports ``portal``. The gateway app (``stitcher.app.create_gateway_app``) is not imported here,
so ``import stitcher`` stays light for the portal and ``loom compose``; for the same reason (aiohttp) the executor
and its transport are imported from ``stitcher.execution`` and ``stitcher.transport``.
"""

from stitcher.composition import apply_transforms, build_subgraph, compose, compose_subgraphs
from stitcher.credentials import generate_api_key, hash_api_key, parse_api_key
from stitcher.errors import CompositionError, SchemaError, StitcherError
from stitcher.federation import subgraph_from_federation
from stitcher.graphql_source import subgraph_from_graphql
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
from stitcher.limits import DocumentLimits, LimitExceeded, check_body_size, check_document
from stitcher.openapi import subgraph_from_openapi
from stitcher.planning import PlanningError, QueryPlan, build_plan
from stitcher.rest import RestRequest, RestResponseError, RestStatusError, build_request, check_status, shape_result
from stitcher.snapshot import (
    ApplicationConfig,
    CredentialConfig,
    OAuthConfig,
    PlanConfig,
    ProductConfig,
    RateLimitConfig,
    RestRoute,
    Snapshot,
    SourceConfig,
    SubscriptionConfig,
)
from stitcher.sources import EntityConfig, SourceSpec, Transforms
from stitcher.supergraph import load_supergraph, print_product_sdl, print_supergraph_sdl

__all__ = [
    "ApplicationConfig",
    "CompositionError",
    "CredentialConfig",
    "Discriminator",
    "DocumentLimits",
    "EntityConfig",
    "EntityKey",
    "EntityResolver",
    "FieldDirectives",
    "FieldJoin",
    "LimitExceeded",
    "OAuthConfig",
    "PlanConfig",
    "PlanningError",
    "ProductConfig",
    "QueryPlan",
    "RateLimitConfig",
    "Renames",
    "RestBinding",
    "RestOperation",
    "RestParameter",
    "RestRequest",
    "RestResponseError",
    "RestRoute",
    "RestStatusError",
    "SchemaError",
    "Snapshot",
    "SourceConfig",
    "SourceKind",
    "SourceSpec",
    "StitcherError",
    "Subgraph",
    "SubscriptionConfig",
    "Supergraph",
    "Transforms",
    "TypeJoin",
    "apply_transforms",
    "build_plan",
    "build_request",
    "build_subgraph",
    "check_body_size",
    "check_document",
    "check_status",
    "compose",
    "compose_subgraphs",
    "generate_api_key",
    "hash_api_key",
    "load_supergraph",
    "parse_api_key",
    "print_product_sdl",
    "print_supergraph_sdl",
    "shape_result",
    "subgraph_from_federation",
    "subgraph_from_graphql",
    "subgraph_from_openapi",
]
