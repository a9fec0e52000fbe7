"""A gateway's check-in (portal.gateway_checkins): what it states, and how often a poll is written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from portal.db import session_scope
from portal.gateway_checkins import REFRESH, gateway_version, record_checkin
from portal.models import GatewayCheckin
from tests.factories import make_cluster

T0 = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("user_agent", "version"),
    [
        ("loom-gateway/0.1.0", "0.1.0"),
        ("loom-gateway/1.2.3+dev.4 python-httpx/0.28", "1.2.3+dev.4"),
        ("python-httpx/0.28.1", "unknown"),
        ("loom-gateway/<script>", "unknown"),
        ("loom-gateway/" + "9" * 200, "unknown"),  # the caller's word: bounded, never stored as sent
        (None, "unknown"),
    ],
)
def test_the_version_is_read_from_a_loom_gateways_user_agent_only(user_agent: str | None, version: str) -> None:
    assert gateway_version(user_agent) == version


def _rows(engine: Engine) -> list[tuple[str, str, str, datetime]]:
    with Session(engine) as session:
        rows = session.exec(select(GatewayCheckin).order_by(GatewayCheckin.gateway)).all()
        return [(r.gateway, r.version, r.snapshot_etag, r.last_seen_at) for r in rows]


@pytest.mark.postgres
def test_an_unchanged_poll_is_written_at_most_every_refresh(engine: Engine) -> None:
    with session_scope(engine) as session:
        make_cluster(session, "eu")
    record_checkin(engine, cluster="eu", gateway="gw", version="0.1.0", snapshot_etag='"a"', now=T0)
    record_checkin(engine, cluster="eu", gateway="gw", version="0.1.0", snapshot_etag='"a"', now=T0 + REFRESH / 2)
    assert _rows(engine) == [("gw", "0.1.0", '"a"', T0)]  # nothing new to say: not written
    record_checkin(engine, cluster="eu", gateway="gw", version="0.1.0", snapshot_etag='"b"', now=T0 + REFRESH / 2)
    assert _rows(engine) == [("gw", "0.1.0", '"b"', T0 + REFRESH / 2)]  # a new snapshot: written at once
    later = T0 + REFRESH * 2
    record_checkin(engine, cluster="eu", gateway="gw", version="0.1.0", snapshot_etag='"b"', now=later)
    assert _rows(engine) == [("gw", "0.1.0", '"b"', later)]  # still alive: refreshed
    record_checkin(engine, cluster="eu", gateway="other", version="0.2.0", snapshot_etag='"b"', now=later)
    record_checkin(engine, cluster="mars", gateway="gw", version="0.1.0", snapshot_etag='"b"', now=later)
    assert [r[:2] for r in _rows(engine)] == [("gw", "0.1.0"), ("other", "0.2.0")]  # no row for an unknown cluster
    record_checkin(engine, cluster="eu", gateway="x" * 300, version="0.1.0", snapshot_etag='"b"', now=later)
    assert max(len(r[0]) for r in _rows(engine)) == 64
