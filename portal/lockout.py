"""Failed password logins: a bounded, in-memory limiter per account name and per client address.

Every failed login counts against the account name (lowercased, known or not) and against the client's address.
When either reaches its limit within the window, that key is locked for the lockout period: the login endpoint then
refuses without checking the password (a correct password too, so the lockout is no oracle) and answers 429 with
``Retry-After``. Each lockout is recorded once in the audit log (``user.login.lockout``); single failures are not,
so a flood of bad passwords cannot flood the log. A successful login clears its account's failures.

Limits of this first version, on purpose:

* The state lives in one process's memory: each portal replica counts on its own and a restart forgets it. Redis
  (``LOOM_REDIS_URL``) is the place to share it when the portal runs as several replicas.
* At most ``max_tracked`` keys are kept; beyond that the least recently touched key is forgotten, so memory stays
  bounded whatever the attacker sends (one address locks itself out after ``max_failures_per_address`` names).
* The address is the connection's peer: behind a reverse proxy it is the proxy's unless the server is told to
  trust forwarded headers (uvicorn's ``--forwarded-allow-ips``).
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


class LoginLimiter:
    """Counts failed logins per account and per address. Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(self, limits: LoginLimits | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def account_key(name: str) -> str:
        return name.strip().lower()[:_MAX_NAME]

    def _keys(self, account: str, address: str) -> list[tuple[str, str]]:
        return [("account", self.account_key(account)), ("address", address[:_MAX_NAME])]

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
        """Count one failed login; returns the locks this failure started (each lock is reported once)."""
        now = self._clock()
        limits = self.limits
        started: list[Lockout] = []
        with self._lock:
            for key in self._keys(account, address):
                entry = self._entries.pop(key, None) or _Entry()
                self._entries[key] = entry  # most recently touched last
                while entry.failures and entry.failures[0] <= now - limits.window_seconds:
                    entry.failures.popleft()
                entry.failures.append(now)
                limit = limits.max_failures_per_account if key[0] == "account" else limits.max_failures_per_address
                if len(entry.failures) >= limit and entry.locked_until <= now:
                    entry.locked_until = now + limits.lockout_seconds
                    started.append(Lockout(key[0], key[1], len(entry.failures), limits.lockout_seconds))
                    entry.failures.clear()  # after the lock, counting starts again
                while len(entry.failures) > limit:  # bounded per key too
                    entry.failures.popleft()
            while len(self._entries) > limits.max_tracked:
                self._entries.popitem(last=False)
        return started

    def succeeded(self, account: str) -> None:
        """A successful login clears the account's failures (the address keeps its count)."""
        with self._lock:
            self._entries.pop(("account", self.account_key(account)), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
