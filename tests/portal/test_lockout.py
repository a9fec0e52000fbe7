"""The failed-login limiter on its own, with a clock the test moves (our own seam: ``LoginLimiter(clock=...)``).

The login endpoint's use of it (429, Retry-After, the audit event) is tested in ``tests/portal/test_login.py``.
"""

from __future__ import annotations

from portal.lockout import Lockout, LoginLimiter, LoginLimits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **limits: float) -> LoginLimiter:
    defaults: dict[str, float] = {"max_failures_per_account": 3, "max_failures_per_address": 5}
    defaults.update(limits)
    return LoginLimiter(LoginLimits(window_seconds=60, lockout_seconds=300, **defaults), clock=clock)  # type: ignore[arg-type]


def test_an_account_locks_after_its_limit_once_and_unlocks_after_the_period() -> None:
    clock = Clock()
    lim = limiter(clock)
    assert lim.failed("Ann", "10.0.0.1") == []
    assert lim.failed("ann", "10.0.0.2") == []
    assert lim.retry_after("ann", "10.0.0.3") is None
    assert lim.failed(" ANN ", "10.0.0.3") == [Lockout("account", "ann", 3, 300)]  # names compare lowercased
    assert lim.retry_after("ann", "10.0.0.9") == 300  # from any address
    assert lim.retry_after("bob", "10.0.0.1") is None  # other accounts are not affected
    clock.now += 100
    assert lim.failed("ann", "10.0.0.4") == []  # a lock is reported once, not per further failure
    assert lim.retry_after("ann", "10.0.0.4") == 200
    clock.now += 200
    assert lim.retry_after("ann", "10.0.0.4") is None


def test_failures_outside_the_window_are_forgotten_and_success_clears_the_account() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.failed("ann", "a")
    lim.failed("ann", "b")
    clock.now += 61
    assert lim.failed("ann", "c") == []  # the first two are older than the window
    lim.failed("ann", "d")
    lim.succeeded("ann")
    assert lim.failed("ann", "e") == []
    assert lim.retry_after("ann", "e") is None


def test_an_address_locks_after_trying_many_names() -> None:
    clock = Clock()
    lim = limiter(clock)
    started = [lock for n in range(5) for lock in lim.failed(f"user-{n}", "192.0.2.7")]
    assert started == [Lockout("address", "192.0.2.7", 5, 300)]
    assert lim.retry_after("somebody-else", "192.0.2.7") == 300
    assert lim.retry_after("somebody-else", "192.0.2.8") is None


def test_memory_stays_bounded_whatever_is_sent() -> None:
    clock = Clock()
    lim = limiter(clock, max_tracked=50, max_failures_per_address=10**9)
    for n in range(1000):
        lim.failed(f"{n}-" + "x" * 10_000, f"198.51.100.{n % 7}")
    assert len(lim) == 50
    # names are cut to 100 characters, so a key cannot grow with the input
    for _ in range(3):
        lim.failed("a" * 100 + "first", "203.0.113.1")
    assert lim.retry_after("a" * 100 + "second", "203.0.113.2") == 300


def test_attempts_in_flight_hold_the_remaining_failures() -> None:
    """Counted before the check: with 3 failures allowed, a 4th concurrent attempt waits for the first three."""
    clock = Clock()
    lim = limiter(clock)
    assert [lim.begin("ann", "10.0.0.1") for _ in range(3)] == [None, None, None]
    assert lim.begin("ann", "10.0.0.2") == 1.0  # refused: nothing held
    assert lim.failed("ann", "10.0.0.1") == []
    lim.cancel("ann", "10.0.0.1")  # one attempt checked nothing (e.g. the argon2 gate was full)
    assert lim.begin("ann", "10.0.0.3") is None  # its place is free again
    assert lim.failed("ann", "10.0.0.1") == []
    assert lim.failed("ann", "10.0.0.3") == [Lockout("account", "ann", 3, 300)]
    assert lim.begin("ann", "10.0.0.4") == 300


def test_a_success_ends_its_attempt_and_clears_the_principal() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.begin("ann", "10.0.0.1")
    lim.failed("ann", "10.0.0.1")
    lim.begin("ann", "10.0.0.1")
    lim.begin("ann", "10.0.0.1")
    lim.succeeded("ann", "10.0.0.1")  # ann's failure is cleared; the other attempt is still in flight
    assert [lim.begin("ann", "10.0.0.9") for _ in range(2)] == [None, None]
    assert lim.begin("ann", "10.0.0.9") == 1.0  # 3 in flight: the limit


def test_the_principal_is_named_by_its_limiter() -> None:
    clock = Clock()
    clients = LoginLimiter(LoginLimits(max_failures_per_account=2, lockout_seconds=60), clock=clock, principal="client")
    clients.failed("lc_abc", "10.0.0.1")
    assert clients.failed("lc_abc", "10.0.0.2") == [Lockout("client", "lc_abc", 2, 60)]
