"""Gateways check in by polling: each read of a cluster's snapshot records who asked, the gateway's version (its
``User-Agent`` is ``loom-gateway/<version>``), the snapshot it holds from then on (the ETag) and when it asked.

The fleet status shows them beside the sync worker's view of the cluster's Envoy or Gloo, so an operator sees which
gateways serve each cluster, what they run, whether they hold the config the portal serves now and whether they
stopped asking. A poll that changes nothing is written at most every ``REFRESH`` (a gateway's watch is answered
at least every 10 s, and at once when the snapshot changes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from portal.db import session_scope, writer
from portal.models import Cluster, GatewayCheckin

__all__ = ["EMBEDDED", "REFRESH", "GatewaySeen", "checkins", "gateway_version", "record_checkin"]

REFRESH = timedelta(seconds=15)
EMBEDDED = "embedded"  # the gateway ``loom serve`` runs in-process (LOOM_GATEWAY_CLUSTER)
_USER_AGENT = re.compile(r"loom-gateway/([0-9A-Za-z.+-]{1,32})(?:\s|$)")
_NAME_LIMIT = 64


@dataclass(frozen=True, slots=True)
class GatewaySeen:
    gateway: str
    version: str
    snapshot_etag: str
    last_seen_at: datetime


def gateway_version(user_agent: str | None) -> str:
    """The version a Loom gateway states in its User-Agent; ``unknown`` for any other client (the header is the
    caller's word, so it is only shown, never trusted)."""
    match = _USER_AGENT.match(user_agent or "")
    return match.group(1) if match else "unknown"


def record_checkin(
    engine: Engine, *, cluster: str, gateway: str, version: str, snapshot_etag: str, now: datetime
) -> None:
    """Remember that ``gateway`` now holds ``snapshot_etag`` of ``cluster``'s snapshot (a no-op for an unknown
    cluster, and within ``REFRESH`` of an identical check-in)."""
    gateway = gateway[:_NAME_LIMIT]
    with session_scope(engine) as session:
        found = _find(session, cluster, gateway)
        if found is None:
            return
        _, row = found
        if (
            row is not None
            and (row.version, row.snapshot_etag) == (version, snapshot_etag)
            and now - row.last_seen_at < REFRESH
        ):
            return  # nothing new to say, and said recently
    try:
        with session_scope(writer(engine)) as session:
            found = _find(session, cluster, gateway)
            if found is None:
                return
            cluster_id, row = found
            if row is None:
                row = GatewayCheckin(cluster_id=cluster_id, gateway=gateway)
            row.version, row.snapshot_etag, row.last_seen_at = version, snapshot_etag, now
            session.add(row)
    except IntegrityError:
        return  # the same gateway's concurrent poll made the row first: it says the same


def checkins(session: Session, cluster_id: int) -> tuple[GatewaySeen, ...]:
    """A cluster's gateways, by name."""
    rows = session.exec(
        select(GatewayCheckin).where(col(GatewayCheckin.cluster_id) == cluster_id).order_by(col(GatewayCheckin.gateway))
    ).all()
    return tuple(GatewaySeen(r.gateway, r.version, r.snapshot_etag, r.last_seen_at) for r in rows)


def _find(session: Session, cluster: str, gateway: str) -> tuple[int, GatewayCheckin | None] | None:
    cluster_id = session.exec(select(Cluster.id).where(col(Cluster.name) == cluster)).first()
    if cluster_id is None:
        return None
    row = session.exec(
        select(GatewayCheckin).where(
            col(GatewayCheckin.cluster_id) == cluster_id, col(GatewayCheckin.gateway) == gateway
        )
    ).first()
    return cluster_id, row
