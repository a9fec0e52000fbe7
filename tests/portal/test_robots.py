"""portal.robots: ``loom gateways create|list`` against a real database (SQLite and PostgreSQL).

What a robot's token may read is tested end to end in tests/portal/test_snapshot.py; here: creation, refusals
that change nothing, the audit trail, and that a robot's actor holds no role.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.accounts import verify_token
from portal.authentication import actor_for_user
from portal.authorization import Actor, Target, is_allowed
from portal.cli import main
from portal.models import AuditEvent, GatewayGrant, User
from tests.factories import make_cluster


@pytest.fixture
def loom_env(monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine, tmp_path: Path) -> Engine:
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    return engine


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


def test_create_prints_a_token_for_a_robot_of_those_clusters_only(
    loom_env: Engine, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cluster(session, "us-east", residency="us")
    make_cluster(session, "eu-central", residency="eu")
    session.commit()
    code, lines, _ = run(capsys, "gateways", "create", "gw-east", "--cluster", "us-east")
    assert code == 0 and "gw-east" in lines[0]
    user, _row = verify_token(session, lines[-1])
    actor = actor_for_user(session, user)
    assert actor.kind == "robot" and actor.gateway_clusters == {"us-east"}
    assert is_allowed(actor, "gateway.snapshot", Target("cluster", "us-east"))
    assert not is_allowed(actor, "gateway.snapshot", Target("cluster", "eu-central"))
    assert not is_allowed(actor, "gateway.snapshot", Target("gateway", "snapshot"))  # not the whole fleet
    assert not is_allowed(actor, "application.create", Target("application", "x", owner_user_id=user.id))
    events = session.exec(select(AuditEvent).where(col(AuditEvent.target_name) == "gw-east")).all()
    assert [e.action for e in events] == ["gateway.create"]
    assert lines[-1] not in str([e.summary for e in session.exec(select(AuditEvent)).all()])
    session.commit()  # end the read transaction: SQLite would hold the CLI's schema check behind it
    code, lines, err = run(capsys, "gateways", "list")
    assert code == 0 and lines == ["gw-east\tus-east"], err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gw", "--cluster", "mars"], "no cluster named 'mars'"),
        (["Bad_Name", "--cluster", "us-east"], "invalid gateway robot name"),
        (["loom-gw", "--cluster", "us-east"], "reserved"),
        (["taken", "--cluster", "us-east"], "already exists"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(
    loom_env: Engine, session: Session, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    make_cluster(session, "us-east", residency="us")
    session.add(User(name="taken"))
    session.commit()
    code, _lines, err = run(capsys, "gateways", "create", *argv)
    assert code == 1 and message in err
    session.expire_all()
    assert session.exec(select(User).where(col(User.robot).is_(True))).all() == []
    assert session.exec(select(GatewayGrant)).all() == []


def test_only_a_platform_admin_creates_robots(session: Session) -> None:
    from portal.errors import Forbidden
    from portal.robots import create_gateway_robot

    make_cluster(session, "us-east", residency="us")
    user = User(name="mallory")
    session.add(user)
    session.flush()
    with pytest.raises(Forbidden):
        create_gateway_robot(session, Actor(user_id=user.id, name="mallory"), "gw", ["us-east"])
    denied = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "gateway.create")).one()
    assert denied.outcome == "denied"
