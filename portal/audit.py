"""The audit log: who did what to which object, when, in which request, and whether it was allowed.

Every mutation (the admin API, ``loom apply``, the web UI, the CLI) records one event. An allowed change records
its event in the change's own transaction, so the event exists exactly when the change does. A denied attempt is
recorded in a transaction of its own after the refused change is rolled back, so the rollback cannot erase it.

Secrets never reach the log: ``scrub`` replaces the value of every secret-looking key in a summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from portal.authorization import Actor, Target, authorize
from portal.errors import Forbidden, LoomError, Unauthenticated
from portal.models import AuditEvent, AuditOutcome as Outcome, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "REDACTED",
    "Outcome",
    "audit_scope",
    "authorize_and_audit",
    "current_request_id",
    "current_via",
    "denials_audited",
    "denials_recorded",
    "record",
    "record_denied",
    "scrub",
]

REDACTED = "[redacted]"
_MAX_TEXT = 2000  # long values (schema text) are cut: the audit log says what changed, the version row keeps it

# Keys whose values are secrets, matched case-insensitively after dropping "-" and "_" (clientSecret, api-key, ...).
_SECRET_KEY = re.compile(r"secret|password|passwd|token|hash|apikey|privatekey|authorization|cookie|credential_?value")

current_request_id: ContextVar[str | None] = ContextVar("loom_request_id", default=None)
"""The id of the request being served; the ASGI app sets it per request, the audit log records it."""

current_via: ContextVar[str] = ContextVar("loom_audit_via", default="")
"""Where a change came from: ``"api"``, ``"apply"``, ``"ui"`` or ``"cli"``."""


_denials_recorded: ContextVar[int] = ContextVar("loom_audit_denials", default=0)


def denials_recorded() -> int:
    """How many denials this context has recorded so far (``denials_audited`` compares before and after a block)."""
    return _denials_recorded.get()


@contextlib.contextmanager
def denials_audited(
    session: Session, actor: Actor, action: str, target_kind: str, target_name: str = ""
) -> Iterator[None]:
    """Record a refusal (``Forbidden`` / ``Unauthenticated``) that leaves the block without an audit event of its own.

    Service functions wrap checks that refuse outside ``authorize_and_audit`` (a team placement, a lookup scoped to
    the caller) in this, so every denial is recorded whichever channel (API, ``apply``, CLI, UI) called them.
    """
    before = denials_recorded()
    try:
        yield
    except (Forbidden, Unauthenticated) as exc:
        if denials_recorded() == before:
            record_denied(session, actor, action, target_kind, target_name, reason=str(exc))
        raise


@contextlib.contextmanager
def audit_scope(*, request_id: str | None = None, via: str | None = None) -> Iterator[None]:
    """Set the request id and the channel (``api``, ``apply``, ``ui``, ``cli``) that events of a block record."""
    rid_token = current_request_id.set(request_id) if request_id is not None else None
    via_token = current_via.set(via) if via is not None else None
    try:
        yield
    finally:
        if via_token is not None:
            current_via.reset(via_token)
        if rid_token is not None:
            current_request_id.reset(rid_token)


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key.lower().replace("-", "").replace("_", "")))


def scrub(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with the value of every secret-looking key replaced by ``[redacted]``.

    Nested mappings and lists are scrubbed too; other objects become their ``str``; long strings are shortened.
    """
    if isinstance(value, Mapping):
        items = list(value.items())
        clean = {
            _bounded(str(k), _MAX_KEY): (REDACTED if _is_secret_key(str(k)) and v is not None else scrub(v))
            for k, v in items[:_MAX_ITEMS]
        }
        if len(items) > _MAX_ITEMS:
            clean["..."] = f"{len(items) - _MAX_ITEMS} more entries"
        return clean
    if isinstance(value, list | tuple | set | frozenset):
        values = list(value)
        more = [f"... {len(values) - _MAX_ITEMS} more"] if len(values) > _MAX_ITEMS else []
        return [scrub(v) for v in values[:_MAX_ITEMS]] + more
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return scrub(value.value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    if len(text) > _MAX_TEXT:
        return f"{text[:_MAX_TEXT]}... ({len(text)} characters)"
    return text


_MAX_ITEMS = 100  # entries of one mapping or list in a summary
_MAX_KEY = 100


def _bounded(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so (``...`` and the full length) when it was longer."""
    if len(text) <= limit:
        return text
    tail = f"...({len(text)})"
    return text[: limit - len(tail)] + tail


def _event(
    actor: Actor,
    action: str,
    target_kind: str,
    target_name: str,
    summary: Mapping[str, Any] | None,
    outcome: Outcome,
) -> AuditEvent:
    clean = scrub(dict(summary or {}))
    json.dumps(clean)  # scrub guarantees this; fail here rather than at flush time if it ever does not
    # Every field is bounded before it is stored: a caller's kind or name arrives unchecked when the refusal is
    # what is being recorded (an 8 MB name grew the log by megabytes; on PostgreSQL it broke the column and the
    # denial went unrecorded).
    return AuditEvent(
        actor=_bounded(actor.name, 100),
        action=_bounded(action, 100),
        target_kind=_bounded(target_kind, 63),
        target_name=_bounded(target_name, 253),
        summary=clean,
        outcome=outcome,
        via=current_via.get(),
        request_id=current_request_id.get(),
        created_at=utcnow(),
    )


def record(
    session: Session,
    actor: Actor,
    action: str,
    target_kind: str,
    target_name: str,
    summary: Mapping[str, Any] | None = None,
    outcome: Outcome = Outcome.ALLOWED,
) -> AuditEvent:
    """Record an event in ``session``'s transaction (it is committed with the change, rolled back with it).

    For a denied attempt use ``record_denied``, which must outlive the refused change's rollback.
    """
    if outcome is Outcome.DENIED:
        return record_denied(session, actor, action, target_kind, target_name, summary)
    event = _event(actor, action, target_kind, target_name, summary, outcome)
    session.add(event)
    return event


def record_denied(
    session: Session,
    actor: Actor,
    action: str,
    target_kind: str,
    target_name: str,
    summary: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Roll back ``session``'s pending change (it is refused), then record the denial and commit it on its own.

    Rolling back first (rather than writing on a second connection) keeps this correct on SQLite, where a second
    writer would wait on the refused change's lock, and with single-connection pools.
    """
    session.rollback()
    details = dict(summary or {})
    if reason is not None:
        details["reason"] = reason
    event = _event(actor, action, target_kind, target_name, details, Outcome.DENIED)
    session.add(event)
    session.commit()
    _denials_recorded.set(_denials_recorded.get() + 1)
    return event


def authorize_and_audit(
    session: Session,
    actor: Actor,
    action: str,
    target: Target,
    summary: Mapping[str, Any] | None = None,
) -> None:
    """Authorize ``action`` and record it: allowed, in the change's transaction; denied, on its own, then raise.

    Raises ``Unauthenticated`` or ``Forbidden`` (from ``authorize``) after the denial is committed.
    """
    try:
        authorize(actor, action, target)
    except LoomError as exc:
        record_denied(session, actor, action, target.kind, target.name, summary, reason=exc.message)
        raise
    record(session, actor, action, target.kind, target.name, summary)
