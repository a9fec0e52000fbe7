"""Users, local passwords, the bootstrap admin and personal access tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.accounts import (
    MAX_PASSWORD_BYTES,
    authenticate_password,
    change_password,
    create_token,
    create_user,
    deactivate_user,
    ensure_bootstrap_admin,
    hash_password,
    list_tokens,
    remove_membership,
    revoke_token,
    set_membership,
    verify_password,
    verify_token,
)
from portal.authentication import actor_for_user
from portal.authorization import Actor
from portal.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from portal.models import AuditEvent, Membership, PersonalAccessToken, Role, User, utcnow
from portal.settings import AuthSettings, Settings
from tests.factories import make_team, make_user

SYSTEM = Actor.system("test")


def _events(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as fresh:  # a new session sees only what was committed
        return list(fresh.exec(select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id))))


def test_password_hashes_are_argon2_and_salted() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse battery!")
    assert not verify_password("not a hash", "correct horse battery")


def test_create_user_with_team_role_and_log_in(session: Session, engine: Engine) -> None:
    team = make_team(session, "warehouse")
    user = create_user(
        session, SYSTEM, name="bob", role="team-member", team="warehouse", email="bob@example.test", password="a" * 16
    )
    session.commit()
    membership = session.exec(select(Membership).where(col(Membership.user_id) == user.id)).one()
    assert (membership.role, membership.team_id) == (Role.TEAM_MEMBER, team.id)
    assert user.password_hash is not None and "a" * 16 not in user.password_hash

    assert authenticate_password(session, "bob", "a" * 16).id == user.id
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        authenticate_password(session, "bob", "b" * 16)
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        authenticate_password(session, "nobody", "a" * 16)

    (event,) = _events(engine, "user.create")
    assert (event.actor, event.target_name, event.outcome) == ("test", "bob", "allowed")
    assert event.summary["team"] == "warehouse"


def test_create_user_refuses_bad_input(session: Session) -> None:
    make_team(session, "t")
    session.commit()
    cases: list[tuple[dict[str, str], type[Exception], str]] = [
        ({"role": "team-admin"}, Invalid, "pass --team"),
        ({"role": "platform-admin", "team": "t"}, Invalid, "drop --team"),
        ({"role": "team-member", "team": "missing"}, NotFound, "no team named 'missing'"),
        ({"role": "owner"}, Invalid, "unknown role 'owner'"),
        ({"role": "viewer", "name": "Bad Name"}, Invalid, "invalid user name"),
        ({"role": "viewer", "password": "short"}, Invalid, "at least 12 characters"),
    ]
    for kwargs, error, message in cases:
        arguments = {"name": "carol", **kwargs}
        with pytest.raises(error, match=message):
            create_user(session, SYSTEM, **arguments)
        session.rollback()
        assert session.exec(select(User).where(col(User.name) == arguments["name"])).first() is None, kwargs


def test_duplicate_user_name_is_a_conflict(session: Session) -> None:
    create_user(session, SYSTEM, name="dave", role="viewer")
    session.commit()
    with pytest.raises(Conflict, match="already exists"):
        create_user(session, SYSTEM, name="dave", role="viewer")


def test_only_platform_admins_create_users_and_denials_are_audited(session: Session, engine: Engine) -> None:
    team = make_team(session)
    admin = actor_for_user(session, make_user(session, role=Role.TEAM_ADMIN, team=team))
    session.commit()
    with pytest.raises(Forbidden, match=r"lacks permission 'user\.create'"):
        create_user(session, admin, name="mallory", role="platform-admin")
    assert session.exec(select(User).where(col(User.name) == "mallory")).first() is None
    (event,) = _events(engine, "user.create")
    assert (event.actor, event.target_name, event.outcome) == (admin.name, "mallory", "denied")


def test_bootstrap_admin_prints_a_one_time_password_once(session: Session, settings: Settings) -> None:
    out = io.StringIO()
    password = ensure_bootstrap_admin(session, settings, out)
    assert password is not None and password in out.getvalue()
    admin = authenticate_password(session, "admin", password)
    assert actor_for_user(session, admin).platform_admin

    again = io.StringIO()
    assert ensure_bootstrap_admin(session, settings, again) is None
    assert again.getvalue() == ""


def test_bootstrap_admin_from_the_environment(session: Session, settings: Settings) -> None:
    configured = settings.model_copy(
        update={"auth": AuthSettings(bootstrap_admin="root", bootstrap_password="from-the-env-123")}
    )
    out = io.StringIO()
    assert ensure_bootstrap_admin(session, configured, out) is None
    assert "from-the-env-123" not in out.getvalue()
    assert authenticate_password(session, "root", "from-the-env-123").name == "root"


def test_token_is_shown_once_stored_hashed_and_records_use(session: Session, engine: Engine) -> None:
    user = make_user(session, role="viewer")
    issued = create_token(session, SYSTEM, user, name="laptop")
    session.commit()
    assert issued.token.startswith(issued.row.prefix + "_")
    stored = session.exec(select(PersonalAccessToken).where(col(PersonalAccessToken.id) == issued.row.id)).one()
    assert issued.token not in (stored.token_hash, stored.prefix) and stored.last_used_at is None

    now = utcnow()
    found, row = verify_token(session, issued.token, now=now)
    session.commit()
    assert found.id == user.id and row.last_used_at == now
    verify_token(session, issued.token, now=now + timedelta(seconds=30))  # within the minute: not written again
    assert row.last_used_at == now
    verify_token(session, issued.token, now=now + timedelta(minutes=2))
    session.commit()
    assert row.last_used_at == now + timedelta(minutes=2)
    (event,) = _events(engine, "token.create")
    assert issued.token not in str(event.summary)


def test_revoked_and_expired_tokens_are_refused(session: Session) -> None:
    user = make_user(session)
    now = utcnow()
    expiring = create_token(session, SYSTEM, user, name="short", expires_in_days=1, now=now)
    revoked = create_token(session, SYSTEM, user, name="old")
    session.commit()

    assert verify_token(session, expiring.token, now=now + timedelta(hours=23))[0].id == user.id
    with pytest.raises(Unauthenticated, match="expired at"):
        verify_token(session, expiring.token, now=now + timedelta(days=1, seconds=1))

    revoke_token(session, SYSTEM, revoked.row.prefix)
    session.commit()
    with pytest.raises(Unauthenticated, match="was revoked"):
        verify_token(session, revoked.token)


def test_malformed_unknown_and_tampered_tokens_are_refused(session: Session) -> None:
    issued = create_token(session, SYSTEM, make_user(session))
    session.commit()
    with pytest.raises(Unauthenticated, match="malformed"):
        verify_token(session, "not-a-token")
    tampered = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    with pytest.raises(Unauthenticated, match="unknown personal access token"):
        verify_token(session, tampered)
    with pytest.raises(Unauthenticated, match="unknown personal access token"):
        verify_token(session, "lpat_000000000000_" + "x" * 43)


def test_users_manage_their_own_tokens_only(session: Session, engine: Engine) -> None:
    alice, bob = make_user(session), make_user(session)
    as_alice = actor_for_user(session, alice)
    own = create_token(session, as_alice, alice, name="mine")
    session.commit()
    with pytest.raises(Forbidden):
        create_token(session, as_alice, bob)
    bobs = create_token(session, SYSTEM, bob)
    session.commit()
    with pytest.raises(Forbidden):
        revoke_token(session, as_alice, str(bobs.row.id))
    assert verify_token(session, bobs.token)[0].id == bob.id

    revoke_token(session, as_alice, str(own.row.id))
    session.commit()
    assert [t.revoked_at is not None for t in list_tokens(session, alice)] == [True]
    outcomes = [(e.action, e.outcome) for e in _events(engine, "token.revoke")]
    assert outcomes == [("token.revoke", "denied"), ("token.revoke", "allowed")]


def test_token_input_errors(session: Session) -> None:
    user = make_user(session)
    with pytest.raises(Invalid, match="positive number of days"):
        create_token(session, SYSTEM, user, expires_in_days=0)
    session.rollback()
    # past ten years is refused as bad input (a date past 9999 raised OverflowError: an internal error)
    with pytest.raises(Invalid, match=r"up to 3650 .* leave it out"):
        create_token(session, SYSTEM, user, expires_in_days=100_000_000)
    session.rollback()
    with pytest.raises(NotFound, match="no personal access token"):
        revoke_token(session, SYSTEM, "lpat_ffffffffffff")


def test_change_password_own_with_the_current_one_or_a_platform_admin_reset(session: Session, engine: Engine) -> None:
    """One database for the whole story: a user changes their own password (the current one is checked), a stranger
    is refused, a platform admin resets it; every attempt is audited and no password reaches the log."""
    root = actor_for_user(session, make_user(session, role=Role.PLATFORM_ADMIN))
    ann = create_user(session, SYSTEM, name="ann", role="viewer", password="ann-password-01")
    eve = make_user(session)
    no_password = make_user(session)
    session.commit()
    as_ann, as_eve = actor_for_user(session, ann), actor_for_user(session, eve)
    old_hash = ann.password_hash

    with pytest.raises(Forbidden, match="the current password is wrong"):
        change_password(session, as_ann, ann, "ann-password-02", current_password="guess-guess-1")
    with pytest.raises(Forbidden, match="the current password is wrong"):
        change_password(session, as_ann, ann, "ann-password-02")
    with pytest.raises(Forbidden, match=r"lacks permission 'user\.password' on user 'ann'"):
        change_password(session, as_eve, ann, "eve-owns-ann-1")
    with pytest.raises(Forbidden, match="has no local password to change; ask a platform admin"):
        change_password(session, actor_for_user(session, no_password), no_password, "first-password-1")
    session.refresh(ann)
    assert ann.password_hash == old_hash

    with pytest.raises(Invalid, match="too short"):
        change_password(session, as_ann, ann, "short", current_password="ann-password-01")
    session.rollback()
    change_password(session, as_ann, ann, "ann-password-02", current_password="ann-password-01")
    session.commit()
    assert authenticate_password(session, "ann", "ann-password-02").id == ann.id
    with pytest.raises(Unauthenticated):
        authenticate_password(session, "ann", "ann-password-01")

    change_password(session, root, ann, "reset-by-root-1")  # a reset needs no current password
    change_password(session, root, no_password, "first-password-1")
    session.commit()
    assert authenticate_password(session, "ann", "reset-by-root-1").id == ann.id
    assert authenticate_password(session, no_password.name, "first-password-1").id == no_password.id

    events = _events(engine, "user.password")
    assert [(e.actor, e.target_name, e.outcome.value) for e in events] == [
        ("ann", "ann", "denied"),
        ("ann", "ann", "denied"),
        (eve.name, "ann", "denied"),
        (no_password.name, no_password.name, "denied"),
        ("ann", "ann", "allowed"),
        (root.name, "ann", "allowed"),
        (root.name, no_password.name, "allowed"),
    ]
    assert [e.summary["reset"] for e in events[-3:]] == [False, True, True]
    logged = repr([e.summary for e in events])
    for secret in ("ann-password-0", "guess-guess-1", "reset-by-root-1", "first-password-1", "$argon2"):
        assert secret not in logged


def test_memberships_are_managed_by_the_teams_admin(session: Session, engine: Engine) -> None:
    alpha, beta = make_team(session, "alpha"), make_team(session, "beta")
    alice = actor_for_user(session, make_user(session, role=Role.TEAM_ADMIN, team=alpha))
    bob = actor_for_user(session, make_user(session, role=Role.TEAM_ADMIN, team=beta))
    newbie = make_user(session, "newbie")
    session.commit()

    set_membership(session, alice, "newbie", "alpha", "team-member")
    set_membership(session, alice, "newbie", "alpha", Role.VIEWER)  # exactly one role: the new one replaces it
    session.commit()
    rows = session.exec(select(Membership).where(col(Membership.user_id) == newbie.id)).all()
    assert [(r.team_id, r.role) for r in rows] == [(alpha.id, Role.VIEWER)]

    with pytest.raises(Forbidden, match=r"lacks permission 'membership\.apply' on membership 'newbie@alpha'"):
        set_membership(session, bob, "newbie", "alpha", "team-admin")
    with pytest.raises(Invalid, match="'platform-admin' is not a team role"):
        set_membership(session, alice, "newbie", "alpha", "platform-admin")
    with pytest.raises(NotFound, match="no team named 'gamma'"):
        set_membership(session, alice, "newbie", "gamma", "viewer")
    session.rollback()
    remove_membership(session, alice, "newbie", "alpha")
    session.commit()
    with pytest.raises(NotFound, match="is not a member of team 'alpha'"):
        remove_membership(session, alice, "newbie", "alpha")
    session.rollback()
    assert session.exec(select(Membership).where(col(Membership.user_id) == newbie.id)).all() == []
    outcomes = [(e.action, e.actor, e.outcome.value) for e in _events(engine, "membership.apply")]
    assert outcomes == [
        ("membership.apply", alice.name, "allowed"),
        ("membership.apply", alice.name, "allowed"),
        ("membership.apply", bob.name, "denied"),
    ]


def test_deactivating_a_user_ends_their_logins_and_tokens_and_keeps_an_admin(session: Session, engine: Engine) -> None:
    root_user = make_user(session, "root", role=Role.PLATFORM_ADMIN)
    root = actor_for_user(session, root_user)
    kim = create_user(session, SYSTEM, name="kim", role="viewer", password="kim-password-123")
    token = create_token(session, SYSTEM, kim)
    session.commit()

    with pytest.raises(Forbidden, match=r"may not user\.deactivate on user 'root'"):
        deactivate_user(session, actor_for_user(session, kim), root_user)
    with pytest.raises(Conflict, match="cannot deactivate yourself"):
        deactivate_user(session, root, root_user)
    session.rollback()
    with pytest.raises(Conflict, match="'root' is the last active platform admin"):
        deactivate_user(session, SYSTEM, root_user)
    session.rollback()

    deactivate_user(session, root, kim)
    session.commit()
    with pytest.raises(Unauthenticated, match="was revoked"):
        verify_token(session, token.token)
    with pytest.raises(Unauthenticated, match="deactivated"):
        authenticate_password(session, "kim", "kim-password-123")
    assert session.exec(select(User).where(col(User.name) == "kim")).one().is_active is False
    events = [(e.actor, e.target_name, e.outcome.value) for e in _events(engine, "user.deactivate")]
    assert events == [("kim", "root", "denied"), ("root", "kim", "allowed")]


@pytest.mark.parametrize("name", ["anonymous", "system", "oidc", "cli", "bootstrap", "loom-up", "loom-anything"])
def test_names_of_loom_own_actors_are_not_user_names(session: Session, name: str) -> None:
    """The audit log names actors by name, and a user sees the events under their own name: a user called
    'anonymous' or 'oidc' would read every anonymous denial (accounts, addresses) or every OIDC sign-up's email."""
    with pytest.raises(Invalid, match="reserved"):
        create_user(session, Actor.system("test"), name=name, role="viewer")
    assert session.exec(select(User).where(col(User.name) == name)).first() is None


def test_passwords_over_1024_bytes_are_neither_set_nor_hashed(session: Session) -> None:
    """argon2 reads a whole password: an attacker's megabyte cost the portal its CPU and memory."""
    with pytest.raises(Invalid, match="too long: use at most 1024 bytes"):
        create_user(session, SYSTEM, name="long", role="viewer", password="é" * 513)
    session.rollback()
    user = create_user(session, SYSTEM, name="longest", role="viewer", password="p" * MAX_PASSWORD_BYTES)
    assert user.password_hash is not None and verify_password(user.password_hash, "p" * MAX_PASSWORD_BYTES)
    assert not verify_password(user.password_hash, "p" * MAX_PASSWORD_BYTES + "p")
    with pytest.raises(Invalid, match="too long"):
        change_password(session, SYSTEM, user, "x" * 2000)
