"""Consumers' applications and their credentials: API keys and OAuth2 clients, shown once and stored hashed.

An API key has the gateway's format (``lk_<prefix>_<secret>``, see :mod:`stitcher.credentials`): the 8-character
prefix is stored in clear and the whole key as SHA-256, which is what the gateway compares. An OAuth2 client is a
``client_id`` (public) and a secret stored as an argon2 hash: only the portal's token endpoint checks it, rarely
enough that a slow hash costs nothing.

Every change is authorized and audited (denied attempts too); secrets never reach the audit log.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from portal.accounts import expiry, hash_password, verify_password
from portal.audit import authorize_and_audit, record_denied
from portal.authorization import Actor, Target
from portal.db import bump_generation, name_of
from portal.errors import Conflict, Forbidden, Invalid, NotFound
from portal.models import Application, Credential, CredentialKind, Subscription, SubscriptionState, Team, User, utcnow
from stitcher.credentials import generate_api_key

__all__ = [
    "CLIENT_ID_PREFIX",
    "IssuedCredential",
    "create_api_key",
    "create_application",
    "create_oauth_client",
    "delete_application",
    "find_application",
    "find_oauth_client",
    "list_credentials",
    "revoke_credential",
    "verify_client_secret",
]

CLIENT_ID_PREFIX = "lc_"
_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9 ._-]{0,98}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class IssuedCredential:
    """A new credential's row and its secret (the whole API key, or the OAuth2 client secret): show it once."""

    row: Credential
    secret: str

    @property
    def client_id(self) -> str | None:
        return self.row.client_id


def _target(session: Session, application: Application, kind: str = "application", name: str = "") -> Target:
    return Target(
        kind,
        name or application.name,
        team=name_of(session, Team, application.team_id),
        owner_user_id=application.owner_id,
    )


def create_application(
    session: Session,
    actor: Actor,
    *,
    name: str,
    owner: User | None = None,
    team: str | None = None,
    description: str = "",
) -> Application:
    """Create an application owned by ``owner`` (default: the actor). Only a platform admin creates one for
    somebody else. Flushes, does not commit."""
    owner_id = owner.id if owner is not None else actor.user_id
    summary = {"owner": owner.name if owner else actor.name, "team": team}
    target = Target("application", name, team=team, owner_user_id=owner_id)
    if owner_id != actor.user_id and not actor.platform_admin and actor.is_authenticated:
        reason = f"{actor.describe()} may create applications only for themselves"
        record_denied(session, actor, "application.create", target.kind, target.name, summary, reason=reason)
        raise Forbidden(reason)
    if team is not None and not actor.platform_admin and actor.is_authenticated and actor.role_in(team) is None:
        # A team tag shares the application (its keys, subscriptions) with that team: only its members may set it.
        reason = f"{actor.describe()} may tag an application only with a team they belong to"
        record_denied(session, actor, "application.create", target.kind, target.name, summary, reason=reason)
        raise Forbidden(reason)
    authorize_and_audit(session, actor, "application.create", target, summary)
    if owner_id is None:
        raise Invalid("an application needs an owning user: pass the owner (the local CLI acts as no user)")
    if not _NAME_RE.match(name):
        raise Invalid(
            f"invalid application name {name!r}: use 1-100 letters, digits, spaces, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    team_id = None
    if team is not None:
        team_row = session.exec(select(Team).where(col(Team.name) == team)).first()
        if team_row is None:
            raise NotFound(f"no team named {team!r}")
        team_id = team_row.id
    taken = session.exec(
        select(Application).where(col(Application.owner_id) == owner_id, col(Application.name) == name)
    ).first()
    if taken is not None:
        raise Conflict(f"you already have an application named {name!r}; pick another name")
    application = Application(owner_id=owner_id, team_id=team_id, name=name, description=description)
    session.add(application)
    session.flush()
    return application


def find_application(session: Session, application_id: int) -> Application:
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound(f"no application with id {application_id}")
    return application


def delete_application(session: Session, actor: Actor, application_id: int) -> Application:
    """Delete an application with its credentials and its ended subscriptions (its owner, or a platform admin).

    Refused with ``Conflict`` while a subscription is requested or approved: revoke it first, so that ending a
    consumer's access is always an explicit, audited subscription change. Flushes, does not commit.
    """
    application = find_application(session, application_id)
    credentials = list_credentials(session, application)
    summary = {"id": application.id, "credentials": len(credentials)}
    authorize_and_audit(session, actor, "application.delete", _target(session, application), summary)
    subscriptions = list(session.exec(select(Subscription).where(col(Subscription.application_id) == application.id)))
    live = [s.id for s in subscriptions if s.state in (SubscriptionState.REQUESTED, SubscriptionState.APPROVED)]
    if live:
        ids = ", ".join(str(i) for i in live)
        raise Conflict(
            f"application {application.name!r} still has live subscription(s) {ids}: revoke them first "
            "(revokeSubscription), then delete it"
        )
    for row in [*credentials, *subscriptions]:
        session.delete(row)
    session.flush()
    session.delete(application)
    session.flush()
    bump_generation(session)  # its credentials leave the gateway snapshot
    return application


def _issue_credential(
    session: Session,
    actor: Actor,
    application: Application,
    kind: CredentialKind,
    *,
    name: str,
    expires_in_days: int | None,
    now: datetime | None,
    make_secret: Callable[[], tuple[str, dict[str, Any]]],
) -> IssuedCredential:
    """Authorize, audit and store one credential. ``make_secret`` gives the secret (handed back once) and the columns
    that identify it (prefix or client id, secret hash); it runs only once the actor is allowed. Flushes, does not
    commit."""
    summary = {"application": application.name, "kind": kind.value, "name": name}
    authorize_and_audit(session, actor, "credential.create", _target(session, application, "credential", name), summary)
    assert application.id is not None
    secret, identity = make_secret()
    issued_at = now or utcnow()
    row = Credential(
        application_id=application.id,
        kind=kind,
        name=name,
        created_at=issued_at,
        expires_at=expiry(expires_in_days, issued_at),
        **identity,
    )
    session.add(row)
    session.flush()
    bump_generation(session)  # gateways must learn the new credential
    return IssuedCredential(row, secret)


def create_api_key(
    session: Session,
    actor: Actor,
    application: Application,
    *,
    name: str = "",
    expires_in_days: int | None = None,
    now: datetime | None = None,
) -> IssuedCredential:
    """Issue an API key for ``application`` (its owner, or a platform admin). Flushes, does not commit."""

    def make_secret() -> tuple[str, dict[str, Any]]:
        key, prefix, key_hash = generate_api_key()
        return key, {"prefix": prefix, "secret_hash": key_hash}

    return _issue_credential(
        session,
        actor,
        application,
        CredentialKind.API_KEY,
        name=name,
        expires_in_days=expires_in_days,
        now=now,
        make_secret=make_secret,
    )


def create_oauth_client(
    session: Session,
    actor: Actor,
    application: Application,
    *,
    name: str = "",
    expires_in_days: int | None = None,
    now: datetime | None = None,
) -> IssuedCredential:
    """Register an OAuth2 client (client-credentials grant) for ``application``. Flushes, does not commit."""

    def make_secret() -> tuple[str, dict[str, Any]]:
        client_secret = secrets.token_urlsafe(32)
        client_id = f"{CLIENT_ID_PREFIX}{secrets.token_hex(12)}"
        return client_secret, {"client_id": client_id, "secret_hash": hash_password(client_secret)}

    return _issue_credential(
        session,
        actor,
        application,
        CredentialKind.OAUTH2_CLIENT,
        name=name,
        expires_in_days=expires_in_days,
        now=now,
        make_secret=make_secret,
    )


def list_credentials(session: Session, application: Application) -> list[Credential]:
    return list(
        session.exec(
            select(Credential).where(col(Credential.application_id) == application.id).order_by(col(Credential.id))
        )
    )


def revoke_credential(session: Session, actor: Actor, credential_id: int, *, now: datetime | None = None) -> Credential:
    """Revoke a credential (the application's owner, or a platform admin). Its subscriptions stay: they belong to
    the application. Flushes, does not commit."""
    row = session.get(Credential, credential_id)
    if row is None:
        raise NotFound(f"no credential with id {credential_id}")
    application = find_application(session, row.application_id)
    label = row.client_id or f"lk_{row.prefix}"
    target = _target(session, application, "credential", label)
    authorize_and_audit(session, actor, "credential.revoke", target, {"id": row.id, "application": application.name})
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.add(row)
        session.flush()
        bump_generation(session)
    return row


def find_oauth_client(session: Session, client_id: str, *, now: datetime | None = None) -> Credential | None:
    """The live (not revoked, not expired) OAuth2 client ``client_id``, or None."""
    row = session.exec(
        select(Credential).where(
            col(Credential.client_id) == client_id, col(Credential.kind) == CredentialKind.OAUTH2_CLIENT
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return None
    return row


def verify_client_secret(credential: Credential, client_secret: str) -> bool:
    return credential.kind == CredentialKind.OAUTH2_CLIENT and verify_password(credential.secret_hash, client_secret)
