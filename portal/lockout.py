"""Failed password logins (and client authentications): a bounded, in-memory limiter per principal and per address.

Every failed login counts against the account name (lowercased, known or not) and against the client's address.
When either reaches its limit within the window, that key is locked for the lockout period: the login endpoint then
refuses without checking the password (a correct password too, so the lockout is no oracle) and answers 429 with
``Retry-After``. Each lockout is recorded once in the audit log (``user.login.lockout``); single failures are not,
so a flood of bad passwords cannot flood the log. A successful login clears its account's failures. The OAuth2
token endpoint uses a second limiter keyed by ``client_id`` (principal ``client``) the same way.

Attempts are counted *before* the password is checked (:meth:`LoginLimiter.begin`): an attempt in flight holds one
of its keys' remaining failures, so 30 concurrent guesses against a limit of 5 get 5 checks, not 30; the others are
refused at once. :meth:`~LoginLimiter.failed`, :meth:`~LoginLimiter.succeeded` or :meth:`~LoginLimiter.cancel`
ends the attempt.

Limits of this first version, on purpose:

* The state lives in one process's memory: each portal replica counts on its own and a restart forgets it. Redis
  (``LOOM_REDIS_URL``) is the place to share it when the portal runs as several replicas.
* At most ``max_tracked`` keys are kept; beyond that the least recently touched key is forgotten, so memory stays
  bounded whatever the attacker sends (one address locks itself out after ``max_failures_per_address`` names).
* The address is the connection's peer: behind a reverse proxy it is the proxy's unless the proxy is listed in
  ``LOOM_SERVER_TRUSTED_PROXIES`` (then its ``X-Forwarded-For`` is believed; nobody else's is).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Lockout", "LoginLimiter", "LoginLimits"]

_MAX_NAME = 100  # longer names are cut: no key grows with the attacker's input


@dataclass(frozen=True)
class LoginLimits:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    window_seconds: float = 900.0
    lockout_seconds: float = 900.0
    max_tracked: int = 10_000


@dataclass(frozen=True)
class Lockout:
    """A lock that a failure just started: ``scope`` is ``account`` or ``address``."""

    scope: str
    key: str
    failures: int
    seconds: float


@dataclass
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    pending: int = 0  # attempts begun and not yet ended


class LoginLimiter:
    """Counts failed logins per principal (``account``, or e.g. ``client``) and per address. Thread-safe; ``clock``
    is monotonic seconds."""

    def __init__(
        self,
        limits: LoginLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        principal: str = "account",
    ) -> None:
        self.limits = limits or LoginLimits()
        self.principal = principal
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def account_key(name: str) -> str:
        return name.strip().lower()[:_MAX_NAME]

    def _keys(self, account: str, address: str) -> list[tuple[str, str]]:
        return [(self.principal, self.account_key(account)), ("address", address[:_MAX_NAME])]

    def _limit(self, scope: str) -> int:
        limits = self.limits
        return limits.max_failures_per_address if scope == "address" else limits.max_failures_per_account

    def _entry(self, key: tuple[str, str]) -> _Entry:
        """The key's entry, marked most recently touched; the least recently touched beyond the bound go."""
        entry = self._entries.pop(key, None) or _Entry()
        self._entries[key] = entry
        while len(self._entries) > self.limits.max_tracked:
            self._entries.popitem(last=False)
        return entry

    def _prune(self, entry: _Entry, now: float) -> None:
        while entry.failures and entry.failures[0] <= now - self.limits.window_seconds:
            entry.failures.popleft()

    def begin(self, account: str, address: str) -> float | None:
        """Start one attempt: None when it may go on (it then holds one remaining failure of each key until it
        ends), or the seconds to wait (nothing held): the key is locked, or its remaining failures are all held by
        attempts in flight."""
        now = self._clock()
        with self._lock:
            keys = self._keys(account, address)
            entries = [self._entry(key) for key in keys]
            waits = [entry.locked_until - now for entry in entries if entry.locked_until > now]
            if waits:
                return max(waits)
            for (scope, _), entry in zip(keys, entries, strict=True):
                self._prune(entry, now)
                if len(entry.failures) + entry.pending >= self._limit(scope):
                    return 1.0  # the attempts in flight decide: they end within a second or so
            for entry in entries:
                entry.pending += 1
        return None

    def cancel(self, account: str, address: str) -> None:
        """End an attempt begun with :meth:`begin` that checked nothing (e.g. refused as busy)."""
        with self._lock:
            for key in self._keys(account, address):
                self._release(key)

    def _release(self, key: tuple[str, str]) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.pending > 0:
            entry.pending -= 1
        return entry

    def retry_after(self, account: str, address: str) -> float | None:
        """Seconds until ``account`` may try again from ``address``, or None when it may try now."""
        now = self._clock()
        with self._lock:
            waits = [
                entry.locked_until - now
                for key in self._keys(account, address)
                if (entry := self._entries.get(key)) is not None and entry.locked_until > now
            ]
        return max(waits) if waits else None

    def failed(self, account: str, address: str) -> list[Lockout]:
        """Count one failed attempt (ending the one begun, if any); returns the locks this failure started (each
        lock is reported once)."""
        now = self._clock()
        limits = self.limits
        started: list[Lockout] = []
        with self._lock:
            for key in self._keys(account, address):
                self._release(key)
                entry = self._entry(key)
                self._prune(entry, now)
                entry.failures.append(now)
                limit = self._limit(key[0])
                if len(entry.failures) >= limit and entry.locked_until <= now:
                    entry.locked_until = now + limits.lockout_seconds
                    started.append(Lockout(key[0], key[1], len(entry.failures), limits.lockout_seconds))
                    entry.failures.clear()  # after the lock, counting starts again
                while len(entry.failures) > limit:  # bounded per key too
                    entry.failures.popleft()
        return started

    def succeeded(self, account: str, address: str | None = None) -> None:
        """A successful attempt (ending the one begun from ``address``, if any) clears the principal's failures;
        the address keeps its count."""
        with self._lock:
            if address is not None:
                self._release(("address", address[:_MAX_NAME]))
            principal = (self.principal, self.account_key(account))
            entry = self._entries.get(principal)
            if entry is not None:
                entry.failures.clear()
                if entry.pending > 0:
                    entry.pending -= 1
                if entry.pending == 0 and entry.locked_until <= self._clock():
                    del self._entries[principal]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
