"""``loom users create`` and ``loom tokens create|revoke`` against a real database (SQLite and PostgreSQL).

The commands run through ``portal.cli.main`` in-process with ``LOOM_*`` variables set, as a shell would set them;
one test runs the installed ``loom`` script in a subprocess on a fresh, unmigrated SQLite data directory.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.accounts import authenticate_password, verify_token
from portal.authentication import actor_for_user
from portal.cli import main
from portal.db import create_engine_for
from portal.errors import Unauthenticated
from portal.models import AuditEvent, PersonalAccessToken, Role, User
from tests.factories import make_team


@pytest.fixture
def loom_env(monkeypatch: pytest.MonkeyPatch, database_url: str, engine: Engine, tmp_path: Path) -> Engine:
    """The CLI's environment on this test's (migrated) database."""
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    return engine


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


def test_users_create_prints_a_working_token_last(
    loom_env: Engine, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    make_team(session, "shop")
    session.commit()
    code, lines, _err = run(capsys, "users", "create", "alice", "--role", "team-admin", "--team", "shop")
    assert code == 0
    assert "alice" in lines[0]
    user, _row = verify_token(session, lines[-1])
    assert user.name == "alice"
    assert actor_for_user(session, user).team_roles == {"shop": Role.TEAM_ADMIN}
    events = session.exec(select(AuditEvent).where(col(AuditEvent.actor) == "cli")).all()
    assert {e.action for e in events} == {"user.create", "token.create"}
    assert {e.via for e in events} == {"cli"}
    assert lines[-1] not in str([e.summary for e in events])


def test_tokens_create_and_revoke(loom_env: Engine, session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = run(capsys, "users", "create", "bob", "--role", "viewer")
    assert code == 0
    first = lines[-1]
    code, lines, _ = run(capsys, "tokens", "create", "bob", "--name", "laptop", "--expires-in-days", "7")
    assert code == 0 and "expires" in lines[0]
    second = lines[-1]
    assert second != first and verify_token(session, second)[0].name == "bob"
    session.commit()

    row = session.exec(select(PersonalAccessToken).where(col(PersonalAccessToken.name) == "laptop")).one()
    code, lines, _ = run(capsys, "tokens", "revoke", str(row.id))
    assert code == 0 and lines == [f"revoked personal access token {row.id} ({row.prefix})"]
    session.rollback()
    with pytest.raises(Unauthenticated, match="revoked"):
        verify_token(session, second)
    assert verify_token(session, first)[0].name == "bob"  # the other token still works
    events = session.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("token."))).all()
    assert [(e.action, e.actor, e.target_name, e.via) for e in events] == [
        ("token.create", "cli", "cli", "cli"),
        ("token.create", "cli", "laptop", "cli"),
        ("token.revoke", "cli", row.prefix, "cli"),
    ]
    assert not any(token in str([e.summary for e in events]) for token in (first, second))


def test_users_password_and_deactivate(
    loom_env: Engine, session: Session, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines, _ = run(capsys, "users", "create", "cleo", "--role", "viewer")
    token = lines[-1]
    monkeypatch.setattr(sys, "stdin", io.StringIO("cleo-password-123\n"))
    code, lines, _ = run(capsys, "users", "password", "cleo")
    assert (code, lines) == (0, ["set the password of cleo"])
    assert authenticate_password(session, "cleo", "cleo-password-123").name == "cleo"
    session.rollback()
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "users", "password", "cleo")
    assert code == 1 and err.startswith("loom: error: the password is too short")

    code, lines, _ = run(capsys, "users", "deactivate", "cleo")
    assert (code, lines) == (0, ["deactivated cleo; their personal access tokens are revoked"])
    with pytest.raises(Unauthenticated, match="revoked"):
        verify_token(session, token)
    events = session.exec(select(AuditEvent).where(col(AuditEvent.target_name) == "cleo")).all()
    assert [(e.action, e.via) for e in events if e.action != "token.create"] == [
        ("user.create", "cli"),
        ("user.password", "cli"),
        ("user.deactivate", "cli"),
    ]
    assert "cleo-password" not in str([e.summary for e in events])


def test_bad_input_exits_non_zero_with_one_line_and_changes_nothing(
    loom_env: Engine, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["users", "create", "carol", "--role", "team-member", "--team", "nowhere"], "no team named 'nowhere'"),
        (["users", "create", "carol", "--role", "team-member"], "pass --team"),
        (["tokens", "create", "nobody"], "no user named 'nobody'"),
        (["tokens", "revoke", "lpat_ffffffffffff"], "no personal access token"),
    ]
    for argv, message in cases:
        code, lines, err = run(capsys, *argv)
        assert code == 1 and lines == [], argv
        assert err.startswith("loom: error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert session.exec(select(User)).all() == []


def test_the_loom_script_migrates_a_fresh_embedded_database(tmp_path: Path) -> None:
    loom = Path(sys.executable).parent / "loom"
    env = {**os.environ, "LOOM_DATA_DIR": str(tmp_path / "fresh")}
    env.pop("LOOM_DATABASE_URL", None)
    result = subprocess.run(
        [str(loom), "users", "create", "dora", "--role", "platform-admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    engine = create_engine_for(f"sqlite:///{tmp_path / 'fresh' / 'loom.db'}")
    try:
        with Session(engine) as session:
            assert actor_for_user(session, verify_token(session, token)[0]).platform_admin
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_unmigrated_server_database_is_refused(
    monkeypatch: pytest.MonkeyPatch, postgres_schema_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", postgres_schema_url)
    code, lines, err = run(capsys, "users", "create", "eve", "--role", "viewer")
    assert code == 1 and lines == [] and "run `loom migrate` first" in err
