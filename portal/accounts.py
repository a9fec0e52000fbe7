"""Portal users, local passwords, the bootstrap admin and personal access tokens (PATs).

Passwords are hashed with argon2id (argon2-cffi's defaults). PATs look like ``lpat_<12 hex>_<secret>``: the
``lpat_<12 hex>`` part is stored in clear as the row's ``prefix`` (to find the row and to let people recognise a
token), the whole token only as a SHA-256 hash. A PAT carries 256 random bits, so guessing is hopeless and one fast
hash suffices; a slow password hash would only add latency to every API call.

Every change here is authorized and audited through :func:`portal.audit.authorize_and_audit` (denied attempts too);
tokens and passwords never reach the audit log.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, select

from portal import login_sessions
from portal.audit import audit_scope, authorize_and_audit, record, record_denied
from portal.authorization import Actor, Target
from portal.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from portal.models import Membership, PersonalAccessToken, Role, Team, User, utcnow
from portal.settings import Settings

__all__ = [
    "MAX_EXPIRY_DAYS",
    "MAX_PASSWORD_BYTES",
    "TOKEN_PREFIX",
    "IssuedToken",
    "authenticate_password",
    "change_password",
    "create_token",
    "create_user",
    "deactivate_user",
    "ensure_bootstrap_admin",
    "expiry",
    "find_user",
    "hash_password",
    "is_reserved_user_name",
    "is_too_long",
    "list_tokens",
    "remove_membership",
    "revoke_token",
    "set_membership",
    "tokens_command",
    "users_command",
    "verify_password",
    "verify_token",
]

TOKEN_PREFIX = "lpat"  # noqa: S105 - the tokens' recognisable prefix, not a secret
_TOKEN_RE = re.compile(r"^lpat_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_USER_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$")
_MIN_PASSWORD = 12
MAX_PASSWORD_BYTES = 1024
"""Longer passwords (and client secrets) are refused before any hashing: argon2 reads all of them, at a cost an
attacker would choose."""
# The names Loom's own actors write into the audit log (portal.authorization.Actor.anonymous / .system): a user
# may see the events recorded under their own name, so no user may carry one of these.
_RESERVED_USER_NAMES = frozenset({"anonymous", "system", "bootstrap", "cli", "oidc"})
_RESERVED_USER_PREFIX = "loom-"  # loom-apply, loom-get, loom-delete, loom-up, and those to come
_LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def is_reserved_user_name(name: str) -> bool:
    """Whether ``name`` is what one of Loom's own actors is called in the audit log (no user may take it)."""
    return name in _RESERVED_USER_NAMES or name.startswith(_RESERVED_USER_PREFIX)


# --- passwords ---------------------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (it embeds its own salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch, an unreadable hash, or a password
    over :data:`MAX_PASSWORD_BYTES` (not hashed: no stored one is that long)."""
    if is_too_long(password):
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def is_too_long(password: str) -> bool:
    """Whether ``password`` is over :data:`MAX_PASSWORD_BYTES` in UTF-8 (decided without encoding a huge one)."""
    return len(password) > MAX_PASSWORD_BYTES or len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES


def _check_password_strength(password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise Invalid(f"the password is too short: use at least {_MIN_PASSWORD} characters")
    if is_too_long(password):
        raise Invalid(f"the password is too long: use at most {MAX_PASSWORD_BYTES} bytes (UTF-8)")


# --- users -------------------------------------------------------------------------------------------------------


def find_user(session: Session, name: str) -> User:
    user = session.exec(select(User).where(col(User.name) == name)).first()
    if user is None:
        raise NotFound(f"no user named {name!r}; create it with `loom users create {name} --role ROLE`")
    return user


def _find_team(session: Session, name: str) -> Team:
    team = session.exec(select(Team).where(col(Team.name) == name)).first()
    if team is None:
        raise NotFound(f"no team named {name!r}; apply a Team resource named {name!r} first")
    return team


def create_user(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: Role | str,
    team: str | None = None,
    email: str | None = None,
    password: str | None = None,
    display_name: str = "",
) -> User:
    """Create a user with one role: platform-wide (platform-admin, or viewer without a team) or in ``team``.

    Flushes but does not commit: the caller's transaction holds the user and its audit event together.
    """
    try:
        role = Role(role)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role)
        raise Invalid(f"unknown role {role!r}: use one of {roles}") from exc
    summary = {"role": role.value, "team": team, "email": email}
    authorize_and_audit(session, actor, "user.create", Target("user", name), summary)
    if not _USER_NAME_RE.match(name):
        raise Invalid(
            f"invalid user name {name!r}: use 1-100 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    if is_reserved_user_name(name):
        raise Invalid(
            f"user name {name!r} is reserved for Loom's own actors in the audit log ('anonymous', 'system', "
            f"'bootstrap', 'cli', 'oidc', '{_RESERVED_USER_PREFIX}...'); pick another name"
        )
    if role in (Role.TEAM_ADMIN, Role.TEAM_MEMBER) and team is None:
        raise Invalid(f"role {role.value} belongs to a team: pass --team TEAM")
    if role is Role.PLATFORM_ADMIN and team is not None:
        raise Invalid("role platform-admin is platform-wide: drop --team")
    if session.exec(select(User).where(col(User.name) == name)).first() is not None:
        raise Conflict(f"a user named {name!r} already exists; pick another name")
    team_row = _find_team(session, team) if team is not None else None
    user = User(name=name, email=email, display_name=display_name)
    if password is not None:
        _check_password_strength(password)
        user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    assert user.id is not None
    session.add(Membership(user_id=user.id, team_id=team_row.id if team_row else None, role=role))
    session.flush()
    return user


# --- team membership ---------------------------------------------------------------------------------------------

_TEAM_ROLES = (Role.TEAM_ADMIN, Role.TEAM_MEMBER, Role.VIEWER)


def _team_role(role: Role | str) -> Role:
    parsed = next((r for r in _TEAM_ROLES if r.value == str(role)), None)
    if parsed is None:
        allowed = ", ".join(r.value for r in _TEAM_ROLES)
        raise Invalid(f"{str(role)!r} is not a team role: use one of {allowed}", path="role")
    return parsed


def _memberships(session: Session, user: User, team: Team) -> list[Membership]:
    return list(
        session.exec(select(Membership).where(col(Membership.user_id) == user.id, col(Membership.team_id) == team.id))
    )


def set_membership(session: Session, actor: Actor, user: str, team: str, role: Role | str) -> User:
    """Give ``user`` exactly ``role`` in ``team``, replacing any role they had there (a team admin of the team, or a
    platform admin). Flushes, does not commit."""
    wanted = _team_role(role)
    user_row = find_user(session, user)
    team_row = _find_team(session, team)
    target = Target("membership", f"{user}@{team}", team=team)
    authorize_and_audit(session, actor, "membership.apply", target, {"user": user, "team": team, "role": wanted.value})
    for old in _memberships(session, user_row, team_row):
        session.delete(old)
    session.flush()
    assert user_row.id is not None and team_row.id is not None
    session.add(Membership(user_id=user_row.id, team_id=team_row.id, role=wanted))
    session.flush()
    return user_row


def remove_membership(session: Session, actor: Actor, user: str, team: str) -> User:
    """Remove every role ``user`` has in ``team``. Flushes, does not commit."""
    user_row = find_user(session, user)
    team_row = _find_team(session, team)
    target = Target("membership", f"{user}@{team}", team=team)
    authorize_and_audit(session, actor, "membership.delete", target, {"user": user, "team": team})
    rows = _memberships(session, user_row, team_row)
    if not rows:
        raise NotFound(f"user {user!r} is not a member of team {team!r}")
    for row in rows:
        session.delete(row)
    session.flush()
    return user_row


def deactivate_user(session: Session, actor: Actor, user: User, *, now: datetime | None = None) -> User:
    """Deactivate ``user`` (platform admins): no more password, OIDC or session logins, every login session ends and
    every personal access token is revoked. Nothing is deleted: applications, memberships and the audit log keep
    their meaning (their applications' credentials stay valid until revoked). Refuses to deactivate oneself or the
    last active platform admin, so the portal always keeps an administrator. Flushes, does not commit."""
    assert user.id is not None
    tokens = [t for t in list_tokens(session, user) if t.revoked_at is None]
    sessions = login_sessions.live_count(session, user.id, now=now)
    summary = {"user": user.name, "tokens_revoked": len(tokens), "sessions_ended": sessions}
    authorize_and_audit(session, actor, "user.deactivate", Target("user", user.name, owner_user_id=user.id), summary)
    if actor.user_id == user.id:
        raise Conflict("you cannot deactivate yourself: ask another platform admin")
    if not user.is_active:
        return user
    admins = session.exec(
        select(User.id)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.role) == Role.PLATFORM_ADMIN, col(User.is_active).is_(True), col(User.id) != user.id)
    ).all()
    is_admin = session.exec(
        select(Membership).where(col(Membership.user_id) == user.id, col(Membership.role) == Role.PLATFORM_ADMIN)
    ).first()
    if is_admin is not None and not admins:
        raise Conflict(f"{user.name!r} is the last active platform admin: make another one first")
    at = now or utcnow()
    for token in tokens:
        token.revoked_at = at
        session.add(token)
    login_sessions.end_all(session, user.id, now=at)
    user.is_active = False
    session.add(user)
    session.flush()
    return user


def authenticate_password(session: Session, name: str, password: str, *, now: datetime | None = None) -> User:
    """The active local user ``name`` whose password is ``password``; ``Unauthenticated`` otherwise.

    The message is the same for an unknown name and a wrong password, so it does not reveal which names exist.
    """
    user = session.exec(select(User).where(col(User.name) == name)).first()
    if user is None or user.password_hash is None:
        verify_password(_DUMMY_HASH, password)  # same cost as a real check
        raise Unauthenticated("wrong user name or password")
    if not verify_password(user.password_hash, password):
        raise Unauthenticated("wrong user name or password")
    if not user.is_active:
        raise Unauthenticated(f"user {name!r} is deactivated; ask a platform admin")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    session.add(user)
    session.flush()
    return user


def change_password(
    session: Session, actor: Actor, user: User, new_password: str, *, current_password: str | None = None
) -> User:
    """Set ``user``'s local password: their own (``current_password`` must match), or anyone's for a platform admin
    (a reset, no current password). Audited, denials too; no password reaches the log. Flushes, does not commit.

    Every login session of the user ends, except, on one's own change, the session the request came with
    (:data:`portal.login_sessions.current`): whoever else was signed in with the old password is signed out.

    A user without a local password (an OIDC or token-only account) cannot set one themselves: a platform admin
    sets the first one, so a stolen token cannot turn into a lasting password login.
    """
    assert user.id is not None
    own = actor.user_id == user.id
    keep = login_sessions.current.get() if own else None
    summary = {
        "user": user.name,
        "reset": not own,
        "sessions_ended": login_sessions.live_count(session, user.id, keep=keep),
    }
    target = Target("user", user.name, owner_user_id=user.id)
    authorize_and_audit(session, actor, "user.password", target, summary)
    if own:
        refusal = None
        if user.password_hash is None:
            refusal = f"user {user.name!r} has no local password to change; ask a platform admin to set one"
        elif current_password is None or not verify_password(user.password_hash, current_password):
            refusal = "the current password is wrong: pass the password you log in with now as currentPassword"
        if refusal is not None:
            record_denied(session, actor, "user.password", "user", user.name, summary, reason=refusal)
            raise Forbidden(refusal)
    _check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    session.add(user)
    login_sessions.end_all(session, user.id, keep=keep)
    session.flush()
    return user


def ensure_bootstrap_admin(session: Session, settings: Settings, out: TextIO) -> str | None:
    """On first start (no platform admin yet) create ``settings.auth.bootstrap_admin``. Commits.

    Its password comes from ``LOOM_AUTH_BOOTSTRAP_PASSWORD``; when that is unset a random one is generated, printed
    once to ``out`` and returned. Later starts find the admin and return None without printing anything.
    """
    exists = session.exec(select(Membership).where(col(Membership.role) == Role.PLATFORM_ADMIN)).first()
    if exists is not None:
        return None
    configured = settings.auth.bootstrap_password
    generated = None if configured is not None else secrets.token_urlsafe(18)
    password = configured.get_secret_value() if configured is not None else generated
    assert password is not None
    name = settings.auth.bootstrap_admin
    user = session.exec(select(User).where(col(User.name) == name)).first()
    system = Actor.system("bootstrap")
    if user is None:
        user = create_user(session, system, name=name, role=Role.PLATFORM_ADMIN, password=password)
    else:  # a user by that name exists but is no admin (e.g. all admins were removed): promote it
        assert user.id is not None
        user.password_hash = hash_password(password)
        session.add(Membership(user_id=user.id, team_id=None, role=Role.PLATFORM_ADMIN))
        record(session, system, "user.create", "user", name, {"role": Role.PLATFORM_ADMIN.value, "promoted": True})
    session.commit()
    if generated is not None:
        print(
            f"loom: created the bootstrap admin {name!r} with the one-time password: {generated}\n"
            "loom: it is shown only now; log in and change it, or set LOOM_AUTH_BOOTSTRAP_PASSWORD next time",
            file=out,
            flush=True,
        )
    return generated


# --- personal access tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A new token's row and its plain text, which exists only here: show it once, then drop it."""

    row: PersonalAccessToken
    token: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_EXPIRY_DAYS = 3650  # ten years; more overflows nothing useful (and a date past 9999 raises)


def expiry(expires_in_days: int | None, now: datetime) -> datetime | None:
    """When a token or credential issued ``now`` expires; None for never. Raises :class:`Invalid` out of range."""
    if expires_in_days is None:
        return None
    if not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
        raise Invalid(
            f"expires_in_days must be a positive number of days up to {MAX_EXPIRY_DAYS} (ten years), not "
            f"{expires_in_days}; leave it out for one that does not expire"
        )
    return now + timedelta(days=expires_in_days)


def create_token(
    session: Session,
    actor: Actor,
    user: User,
    *,
    name: str = "cli",
    expires_in_days: int | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Issue a PAT for ``user`` (their own, or anyone's for a platform admin). Flushes, does not commit."""
    assert user.id is not None
    summary = {"user": user.name, "name": name, "expires_in_days": expires_in_days}
    authorize_and_audit(session, actor, "token.create", Target("token", name, owner_user_id=user.id), summary)
    if not name or len(name) > 100:
        raise Invalid("a token name must have 1-100 characters")
    issued_at = now or utcnow()
    expires_at = expiry(expires_in_days, issued_at)
    prefix = f"{TOKEN_PREFIX}_{secrets.token_hex(6)}"
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = PersonalAccessToken(
        user_id=user.id,
        name=name,
        prefix=prefix,
        token_hash=_hash_token(token),
        created_at=issued_at,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return IssuedToken(row, token)


def _find_token(session: Session, ref: str) -> PersonalAccessToken:
    """A token by its id (``12``) or its prefix (``lpat_0123456789ab``; a whole token works too)."""
    row: PersonalAccessToken | None
    if ref.isdigit():
        row = session.get(PersonalAccessToken, int(ref))
    else:
        prefix = "_".join(ref.split("_", 2)[:2])
        row = session.exec(select(PersonalAccessToken).where(col(PersonalAccessToken.prefix) == prefix)).first()
    if row is None:
        raise NotFound(f"no personal access token {ref!r}: pass its id or its prefix (lpat_<12 hex>)")
    return row


def revoke_token(session: Session, actor: Actor, ref: str, *, now: datetime | None = None) -> PersonalAccessToken:
    """Revoke a PAT by id or prefix (one's own, or anyone's for a platform admin). Flushes, does not commit."""
    row = _find_token(session, ref)
    target = Target("token", row.prefix, owner_user_id=row.user_id)
    authorize_and_audit(session, actor, "token.revoke", target, {"id": row.id, "name": row.name})
    if row.revoked_at is None:  # revoking twice keeps the first time
        row.revoked_at = now or utcnow()
        session.add(row)
        session.flush()
    return row


def list_tokens(session: Session, user: User) -> list[PersonalAccessToken]:
    return list(
        session.exec(
            select(PersonalAccessToken)
            .where(col(PersonalAccessToken.user_id) == user.id)
            .order_by(col(PersonalAccessToken.id))
        )
    )


def verify_token(session: Session, token: str, *, now: datetime | None = None) -> tuple[User, PersonalAccessToken]:
    """The user a PAT belongs to, recording its use; ``Unauthenticated`` for a malformed, unknown, revoked or
    expired token or a deactivated user. Flushes the ``last_used_at`` change; the caller commits."""
    match = _TOKEN_RE.match(token.strip())
    if match is None:
        raise Unauthenticated("malformed personal access token: expected lpat_<12 hex>_<secret>, as `loom` printed it")
    prefix = f"{TOKEN_PREFIX}_{match.group(1)}"
    row = session.exec(select(PersonalAccessToken).where(col(PersonalAccessToken.prefix) == prefix)).first()
    if row is None or not hmac.compare_digest(row.token_hash, _hash_token(token.strip())):
        raise Unauthenticated(f"unknown personal access token {prefix}_…; create one with `loom tokens create USER`")
    at = now or utcnow()
    if row.revoked_at is not None:
        raise Unauthenticated(f"personal access token {prefix} was revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC")
    if row.expires_at is not None and row.expires_at <= at:
        raise Unauthenticated(
            f"personal access token {prefix} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; create a new one"
        )
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated(f"the user of personal access token {prefix} is deactivated")
    # Recorded at most once a minute: every API call writing a row would serialise readers on SQLite.
    if row.last_used_at is None or at - row.last_used_at >= _LAST_USED_RESOLUTION:
        row.last_used_at = at
        session.add(row)
        session.flush()
    return user, row


# --- CLI ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _cli_session() -> Iterator[Session]:
    """One transaction on the configured database. The embedded SQLite is migrated first, as `loom serve` does;
    PostgreSQL must be migrated with `loom migrate`."""
    from portal.db import create_engine_for, prepare_schema, session_scope, writer

    settings = Settings()
    engine = create_engine_for(settings)
    try:
        prepare_schema(engine)
        with audit_scope(via="cli"), session_scope(writer(engine)) as session:
            yield session
    finally:
        engine.dispose()


def users_command(args: argparse.Namespace) -> int:
    """``loom users create NAME --role ROLE [--team TEAM] [--email EMAIL]``: prints a new PAT as the last line.
    ``loom users password NAME`` sets a local password read from stdin's first line (a platform admin's reset);
    ``loom users deactivate NAME`` ends a user's logins and revokes their tokens."""
    if args.users_command == "password":
        new_password = sys.stdin.readline().rstrip("\r\n")
        if not new_password:
            raise Invalid("pass the new password on stdin, e.g. `loom users password NAME < file`")
        with _cli_session() as session:
            user = change_password(session, Actor.system("cli"), find_user(session, args.name), new_password)
            session.commit()
        print(f"set the password of {user.name}")
        return 0
    if args.users_command == "deactivate":
        with _cli_session() as session:
            user = deactivate_user(session, Actor.system("cli"), find_user(session, args.name))
            session.commit()
        print(f"deactivated {user.name}; their personal access tokens are revoked")
        return 0
    with _cli_session() as session:
        actor = Actor.system("cli")
        user = create_user(session, actor, name=args.name, role=args.role, team=args.team, email=args.email)
        issued = create_token(session, actor, user, name="cli")
        session.commit()
        where = f" in team {args.team}" if args.team else ""
        print(f"created user {user.name} ({args.role}{where}) with personal access token id {issued.row.id}")
        print("the token is shown only now:", file=sys.stdout)
        print(issued.token, flush=True)
    return 0


def tokens_command(args: argparse.Namespace) -> int:
    """``loom tokens create USER [--name N] [--expires-in-days D]`` (prints the token last) | ``revoke ID``."""
    with _cli_session() as session:
        actor = Actor.system("cli")
        if args.tokens_command == "create":
            user = find_user(session, args.user)
            issued = create_token(session, actor, user, name=args.name, expires_in_days=args.expires_in_days)
            session.commit()
            expiry = f", expires {issued.row.expires_at:%Y-%m-%d %H:%M} UTC" if issued.row.expires_at else ""
            print(f"created personal access token {issued.row.id} ({issued.row.prefix}) for {user.name}{expiry}")
            print(issued.token, flush=True)
        else:
            row = revoke_token(session, actor, args.token_id)
            session.commit()
            print(f"revoked personal access token {row.id} ({row.prefix})")
    return 0
