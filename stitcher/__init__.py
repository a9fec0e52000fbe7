"""Loom's data plane: composes GraphQL, Federation and OpenAPI services into one product and executes it.

``stitcher`` never imports ``portal``. The public names below are loaded on first use (PEP 562), so importing one
small module (``stitcher.settings``, ``stitcher.sources``) does not load the composer, the OpenAPI translator and
pydantic models with it. The gateway app, the executor and its transport (aiohttp) are not re-exported: import
them from ``stitcher.app``, ``stitcher.execution`` and ``stitcher.transport``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stitcher._jsonref import load_text as load_text, pointer_tokens as pointer_tokens
    from stitcher.composition import (
        apply_transforms as apply_transforms,
        build_subgraph as build_subgraph,
        compose as compose,
        compose_subgraphs as compose_subgraphs,
    )
    from stitcher.credentials import (
        generate_api_key as generate_api_key,
        hash_api_key as hash_api_key,
        parse_api_key as parse_api_key,
    )
    from stitcher.errors import (
        CompositionError as CompositionError,
        SchemaError as SchemaError,
        StitcherError as StitcherError,
    )
    from stitcher.federation import (
        subgraph_from_federation as subgraph_from_federation,
    )
    from stitcher.graphql_source import (
        subgraph_from_graphql as subgraph_from_graphql,
    )
    from stitcher.ir import (
        Discriminator as Discriminator,
        EntityKey as EntityKey,
        EntityResolver as EntityResolver,
        FieldDirectives as FieldDirectives,
        FieldJoin as FieldJoin,
        Renames as Renames,
        RestBinding as RestBinding,
        RestOperation as RestOperation,
        RestParameter as RestParameter,
        SourceKind as SourceKind,
        Subgraph as Subgraph,
        Supergraph as Supergraph,
        TypeJoin as TypeJoin,
    )
    from stitcher.limits import (
        DocumentLimits as DocumentLimits,
        LimitExceeded as LimitExceeded,
        check_body_size as check_body_size,
        check_document as check_document,
    )
    from stitcher.openapi import (
        subgraph_from_openapi as subgraph_from_openapi,
    )
    from stitcher.planning import (
        PlanningError as PlanningError,
        QueryPlan as QueryPlan,
        build_plan as build_plan,
    )
    from stitcher.rest import (
        RestRequest as RestRequest,
        RestResponseError as RestResponseError,
        RestStatusError as RestStatusError,
        build_request as build_request,
        check_status as check_status,
        shape_result as shape_result,
    )
    from stitcher.snapshot import (
        ApplicationConfig as ApplicationConfig,
        CredentialConfig as CredentialConfig,
        OAuthConfig as OAuthConfig,
        PlanConfig as PlanConfig,
        ProductConfig as ProductConfig,
        RateLimitConfig as RateLimitConfig,
        RestRoute as RestRoute,
        Snapshot as Snapshot,
        SourceConfig as SourceConfig,
        SubscriptionConfig as SubscriptionConfig,
    )
    from stitcher.sources import (
        EntityConfig as EntityConfig,
        SourceSpec as SourceSpec,
        Transforms as Transforms,
    )
    from stitcher.supergraph import (
        load_supergraph as load_supergraph,
        print_product_sdl as print_product_sdl,
        print_supergraph_sdl as print_supergraph_sdl,
    )

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "load_text": "stitcher._jsonref",
    "pointer_tokens": "stitcher._jsonref",
    "apply_transforms": "stitcher.composition",
    "build_subgraph": "stitcher.composition",
    "compose": "stitcher.composition",
    "compose_subgraphs": "stitcher.composition",
    "generate_api_key": "stitcher.credentials",
    "hash_api_key": "stitcher.credentials",
    "parse_api_key": "stitcher.credentials",
    "CompositionError": "stitcher.errors",
    "SchemaError": "stitcher.errors",
    "StitcherError": "stitcher.errors",
    "subgraph_from_federation": "stitcher.federation",
    "subgraph_from_graphql": "stitcher.graphql_source",
    "Discriminator": "stitcher.ir",
    "EntityKey": "stitcher.ir",
    "EntityResolver": "stitcher.ir",
    "FieldDirectives": "stitcher.ir",
    "FieldJoin": "stitcher.ir",
    "Renames": "stitcher.ir",
    "RestBinding": "stitcher.ir",
    "RestOperation": "stitcher.ir",
    "RestParameter": "stitcher.ir",
    "SourceKind": "stitcher.ir",
    "Subgraph": "stitcher.ir",
    "Supergraph": "stitcher.ir",
    "TypeJoin": "stitcher.ir",
    "DocumentLimits": "stitcher.limits",
    "LimitExceeded": "stitcher.limits",
    "check_body_size": "stitcher.limits",
    "check_document": "stitcher.limits",
    "subgraph_from_openapi": "stitcher.openapi",
    "PlanningError": "stitcher.planning",
    "QueryPlan": "stitcher.planning",
    "build_plan": "stitcher.planning",
    "RestRequest": "stitcher.rest",
    "RestResponseError": "stitcher.rest",
    "RestStatusError": "stitcher.rest",
    "build_request": "stitcher.rest",
    "check_status": "stitcher.rest",
    "shape_result": "stitcher.rest",
    "ApplicationConfig": "stitcher.snapshot",
    "CredentialConfig": "stitcher.snapshot",
    "OAuthConfig": "stitcher.snapshot",
    "PlanConfig": "stitcher.snapshot",
    "ProductConfig": "stitcher.snapshot",
    "RateLimitConfig": "stitcher.snapshot",
    "RestRoute": "stitcher.snapshot",
    "Snapshot": "stitcher.snapshot",
    "SourceConfig": "stitcher.snapshot",
    "SubscriptionConfig": "stitcher.snapshot",
    "EntityConfig": "stitcher.sources",
    "SourceSpec": "stitcher.sources",
    "Transforms": "stitcher.sources",
    "load_supergraph": "stitcher.supergraph",
    "print_product_sdl": "stitcher.supergraph",
    "print_supergraph_sdl": "stitcher.supergraph",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
