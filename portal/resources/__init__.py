"""Declarative resources: ``apply``, ``get`` and ``delete`` for Cluster, Team, Service, Product and Plan.

The admin API, ``loom apply`` and the web UI all go through these functions, so the same validation,
authorization and audit run whichever way a change comes in.

* :mod:`~portal.resources.handler`: the one interface every kind implements (read, check, write, users); one module
  per kind (:mod:`~portal.resources.cluster`, ``team``, ``plan``, ``service``, ``product``), listed in
  :mod:`~portal.resources.kinds`.
* :mod:`~portal.resources.applier`: the apply's orchestration (authorize, check all, then write all), with the
  rules that span documents: :mod:`~portal.resources.access` (who may apply what), :mod:`~portal.resources.egress`
  (deployment addresses obey the cluster's egress policy), :mod:`~portal.resources.routing` (a routing must be
  servable) and :mod:`~portal.resources.composition` (a published product keeps composing and keeps its API,
  unless its owner forces a change).
* :mod:`~portal.resources.introspection`: schemas fetched from deployments, an async step before ``apply``.
* :mod:`~portal.resources.reading` (``get``), :mod:`~portal.resources.deletion` (``delete``),
  :mod:`~portal.resources.rendering` (YAML/JSON text), :mod:`~portal.resources.commands` (the CLI).
"""

from __future__ import annotations

from portal.resources.applier import apply, apply_json, parse_json
from portal.resources.change import Change, ChangeAction
from portal.resources.commands import apply_command, delete_command, get_command
from portal.resources.deletion import delete
from portal.resources.introspection import SchemaFetch, fetch_schemas, needs_fetch, schema_fetches
from portal.resources.kinds import ACTIONS, canonical_kind
from portal.resources.reading import get
from portal.resources.rendering import render

__all__ = [
    "ACTIONS",
    "Change",
    "ChangeAction",
    "SchemaFetch",
    "apply",
    "apply_command",
    "apply_json",
    "canonical_kind",
    "delete",
    "delete_command",
    "fetch_schemas",
    "get",
    "get_command",
    "needs_fetch",
    "parse_json",
    "render",
    "schema_fetches",
]
