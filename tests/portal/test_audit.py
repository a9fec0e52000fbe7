"""The audit log: allowed events live and die with their change, denials survive the rollback, no secrets."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.audit import REDACTED, audit_scope, authorize_and_audit, record, scrub
from portal.authorization import Actor, Role, Target
from portal.errors import Forbidden
from portal.models import AuditEvent, AuditOutcome, Team
from tests.factories import make_team

MEMBER = Actor(2, "mike", team_roles={"alpha": Role.TEAM_MEMBER})


def _events(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as fresh:
        return list(fresh.exec(select(AuditEvent).order_by(col(AuditEvent.id))))


def test_scrub_redacts_secret_keys_at_any_depth() -> None:
    summary = {
        "name": "key-1",
        "client_secret": "s3cret",
        "password": "hunter2",
        "tokenHash": "abc",
        "nested": {"api-key": "lk_x", "apiKey": "lk_y", "ok": [1, {"key_hash": "h", "private_key": "pem"}]},
        "schema": "x" * 5000,
        "Authorization": "Bearer lpat_x",
    }
    clean = scrub(summary)
    text = repr(clean)
    for secret in ("s3cret", "hunter2", "lk_x", "lk_y", "pem", "lpat_x"):
        assert secret not in text
    assert clean["name"] == "key-1"
    assert clean["nested"]["ok"][0] == 1
    assert clean["client_secret"] == REDACTED
    assert clean["nested"]["ok"][1]["key_hash"] == REDACTED
    assert clean["schema"].endswith("(5000 characters)")


def test_allowed_event_commits_with_its_change(engine: Engine, session: Session) -> None:
    with audit_scope(request_id="req-1", via="api"):
        authorize_and_audit(session, MEMBER, "product.apply", Target("product", "shop", team="alpha"), {"v": "1.0"})
    make_team(session, "gamma")
    session.commit()
    [event] = _events(engine)
    assert (event.actor, event.action) == ("mike", "product.apply")
    assert (event.target_kind, event.target_name) == ("product", "shop")
    assert event.outcome is AuditOutcome.ALLOWED
    assert (event.request_id, event.via) == ("req-1", "api")
    assert event.summary == {"v": "1.0"}
    assert event.created_at.tzinfo is not None


def test_allowed_event_rolls_back_with_a_failed_change(engine: Engine, session: Session) -> None:
    record(session, MEMBER, "product.apply", "product", "shop", {"v": "1.0"})
    session.rollback()
    assert _events(engine) == []


def test_denial_survives_the_rollback_of_the_refused_change(engine: Engine, session: Session) -> None:
    make_team(session, "half-written")  # part of the change that is about to be refused
    with pytest.raises(Forbidden), audit_scope(request_id="req-2"):
        authorize_and_audit(
            session, MEMBER, "service.delete", Target("service", "inv", team="alpha"), {"client_secret": "zzz"}
        )
    session.rollback()  # what every caller does with an exception
    [event] = _events(engine)
    assert event.outcome is AuditOutcome.DENIED
    assert event.action == "service.delete"
    assert event.request_id == "req-2"
    assert event.summary["client_secret"] == REDACTED
    assert "lacks permission 'service.delete'" in event.summary["reason"]
    with Session(engine) as fresh:
        assert fresh.exec(select(Team).where(col(Team.name) == "half-written")).first() is None


def test_a_denial_with_huge_unchecked_fields_is_recorded_bounded(session: Session) -> None:
    """Issue 6 (High 3): a refused call's kind and name are recorded before they are checked. An 8 MB name grew
    the log by megabytes on SQLite and broke PostgreSQL's column (INTERNAL, and the denial left no trace)."""
    from portal.audit import record_denied

    name = "n" * 8_000_000
    summary = {"labels": {f"k{i}": "v" * 10_000 for i in range(1000)}, "items": list(range(100_000))}
    record_denied(session, Actor.anonymous(), "x" * 500, "k" * 500, name, summary, reason="r" * 100_000)
    [event] = session.exec(select(AuditEvent)).all()
    assert event.outcome == AuditOutcome.DENIED and event.actor == "anonymous"
    assert len(event.target_name) <= 253 and event.target_name.endswith("...(8000000)")
    assert len(event.target_kind) <= 63 and len(event.action) <= 100
    assert len(event.summary["labels"]) == 101 and event.summary["labels"]["..."] == "900 more entries"
    assert len(event.summary["items"]) == 101
    assert len(str(event.summary)) < 400_000
