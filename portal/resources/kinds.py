"""Every kind's handler, in apply order (what a document may reference comes first), and kind names as typed."""

from __future__ import annotations

from collections.abc import Mapping

from portal import manifests as m
from portal.errors import Invalid
from portal.resources.cluster import ClusterHandler
from portal.resources.handler import ResourceHandler
from portal.resources.plan import PlanHandler
from portal.resources.product import ProductHandler
from portal.resources.service import ServiceHandler
from portal.resources.team import TeamHandler

__all__ = ["ACTIONS", "HANDLERS", "canonical_kind"]

HANDLERS: Mapping[str, ResourceHandler] = {
    handler.kind: handler
    for handler in (ClusterHandler(), TeamHandler(), PlanHandler(), ServiceHandler(), ProductHandler())
}
assert tuple(HANDLERS) == m.KIND_ORDER, "handlers must be listed in apply order"
ACTIONS: Mapping[str, str] = {kind: handler.action for kind, handler in HANDLERS.items()}
_KIND_NAMES = {k.lower(): k for k in m.KINDS} | {k.lower() + "s": k for k in m.KINDS}


def canonical_kind(kind: str) -> str:
    """``cluster``, ``clusters`` or ``Cluster`` -> ``Cluster``; anything else is :class:`Invalid`."""
    found = _KIND_NAMES.get(kind.lower())
    if found is None:
        raise Invalid(f"unknown kind {kind!r}; expected one of {', '.join(m.KINDS)}")
    return found
