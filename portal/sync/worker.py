"""The reconciler: level-triggered passes that make every cluster hold the routing model of the desired state.

A pass reads the whole desired state, routes it (:func:`portal.sync.model.route`) and, for every cluster that is
due, asks its target to hold that cluster's model. Targets write only what differs, so a pass with nothing to do
writes nothing; the reconciler does not try to be clever about what changed (level-triggered, like Kubernetes
controllers). A cluster is due when the desired state changed since it last synced, when its retry time came
(after a :class:`Temporary` outcome, with exponential backoff), when the resync period passed (drift: an object
someone edited or deleted is put back), or when a cluster that had synced stopped answering (a dead local Envoy
is restarted on the next pass, not a resync period later).

Clusters are isolated: each runs in its own task with a time bound, so one unreachable or rejecting cluster holds
back no other. Every pass also observes each cluster (health, verdicts) and hands the result to the status sink.

Outcomes are explicit types (:mod:`portal.sync.errors`): ``Synced``, ``Temporary(reason, delay)`` (the target
raised a ``TemporaryError``, or did not answer in time), ``Permanent(reason)`` (the model has problems, or the
cluster refused it: nothing changes until the desired state does, or the resync period passes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from portal.sync.desired import ClusterSpec, DesiredState
from portal.sync.errors import Outcome, Permanent, PermanentError, Synced, Temporary, TemporaryError
from portal.sync.model import ClusterRouting, route
from portal.sync.targets import Observation, Target

__all__ = [
    "Backoff",
    "ClusterReport",
    "DesiredSource",
    "Reconciler",
    "StatusSink",
    "TargetFactory",
]

log = logging.getLogger("portal.sync")

DesiredSource = Callable[[], Awaitable[DesiredState]]
TargetFactory = Callable[[ClusterSpec], Target]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff after temporary failures: ``base`` doubled per consecutive failure, up to ``cap``;
    never less than what the target suggested."""

    base: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int, suggested: float = 0.0) -> float:
        return max(suggested, min(self.cap, self.base * 2.0 ** max(failures - 1, 0)))


@dataclass(frozen=True, slots=True)
class ClusterReport:
    """What one pass did and saw in one cluster (what the status sink stores)."""

    cluster: str
    generation: int
    model: ClusterRouting
    outcome: Outcome | None  # None: not due in this pass (only observed)
    observation: Observation
    last_success: float | None  # clock time of the last Synced outcome


class StatusSink(Protocol):
    async def record(self, report: ClusterReport) -> None: ...

    async def forget(self, cluster: str) -> None:
        """The cluster left the desired state."""
        ...


@dataclass(slots=True)
class _ClusterState:
    target: Target
    target_key: tuple[str, str | None]
    attempted_generation: int | None = None
    last_attempt: float | None = None
    last_outcome: Outcome | None = None
    last_success: float | None = None
    failures: int = 0
    retry_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Reconciler:
    """Runs passes over every cluster; one per portal installation (see :mod:`portal.sync.leadership`)."""

    def __init__(
        self,
        desired: DesiredSource,
        targets: TargetFactory,
        status: StatusSink,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
        resync_seconds: float = 60.0,
        apply_timeout: float = 60.0,
        observe_timeout: float = 10.0,
    ) -> None:
        self._desired = desired
        self._make_target = targets
        self._status = status
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._resync = resync_seconds
        self._apply_timeout = apply_timeout
        self._observe_timeout = observe_timeout
        self._clusters: dict[str, _ClusterState] = {}

    async def pass_once(self) -> dict[str, Outcome | None]:
        """One pass over every cluster: apply where due, observe everywhere. Answers each cluster's outcome (None
        where nothing was due)."""
        desired = await self._desired()
        models = route(desired)
        for gone in sorted(set(self._clusters) - set(models)):
            await self._drop(gone)
        results = await asyncio.gather(*(self._cluster_pass(name, model, desired) for name, model in models.items()))
        return dict(zip(models, results, strict=True))

    async def run(
        self,
        stop: asyncio.Event,
        wake: asyncio.Event,
        *,
        interval: float = 2.0,
        before_pass: Callable[[], None] | None = None,
    ) -> None:
        """Pass after pass until ``stop`` is set: right after ``wake`` is set (a change), at least every
        ``interval`` seconds (observation, retries, resync). ``before_pass`` may raise to end the loop (a leader
        that lost its lease must stop acting before it writes again)."""
        while not stop.is_set():
            wake.clear()
            if before_pass is not None:
                before_pass()
            try:
                await self.pass_once()
            except Exception:  # a pass that cannot even read the desired state: try again on the next one
                log.exception("sync pass failed")
            with contextlib.suppress(TimeoutError):
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
                try:
                    await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()

    async def aclose(self) -> None:
        for name in list(self._clusters):
            await self._drop(name, forget=False)

    # -- one cluster ----------------------------------------------------------------------------------------

    async def _state(self, spec: ClusterSpec) -> _ClusterState:
        key = (spec.target, spec.kube_context)
        state = self._clusters.get(spec.name)
        if state is None or state.target_key != key:
            if state is not None:  # the cluster moved to another target: the old one lets go
                await state.target.aclose()
            state = _ClusterState(target=self._make_target(spec), target_key=key)
            self._clusters[spec.name] = state
        return state

    def _due(self, state: _ClusterState, generation: int, now: float) -> bool:
        if state.last_attempt is None:
            return True
        if isinstance(state.last_outcome, Temporary):
            return now >= state.retry_at
        if state.attempted_generation != generation:  # the desired state changed (also after a Permanent)
            return True
        return now - state.last_attempt >= self._resync  # drift: put back what someone changed

    async def _cluster_pass(self, name: str, model: ClusterRouting, desired: DesiredState) -> Outcome | None:
        state = await self._state(desired.clusters[name])
        async with state.lock:
            now = self._clock()
            outcome: Outcome | None = None
            if self._due(state, desired.generation, now):
                outcome = await self._apply(state, model)
                state.last_attempt = now
                state.attempted_generation = desired.generation
                if isinstance(outcome, Synced):
                    state.failures = 0
                    state.last_success = self._clock()
                elif isinstance(outcome, Temporary):
                    state.failures += 1
                    delay = self._backoff.delay(state.failures, outcome.delay)
                    state.retry_at = now + delay
                    outcome = Temporary(outcome.reason, delay)
                else:
                    state.failures = 0
                state.last_outcome = outcome
            observation = await self._observe(state, model)
            if outcome is None and not observation.reachable and isinstance(state.last_outcome, Synced):
                # A cluster that held its config no longer answers (its Envoy died, its API server went away):
                # apply again on the next pass, which restarts what can be restarted or backs off.
                state.last_attempt = None
            await self._status.record(
                ClusterReport(name, desired.generation, model, outcome, observation, state.last_success)
            )
            return outcome

    async def _apply(self, state: _ClusterState, model: ClusterRouting) -> Outcome:
        if model.problems:
            reasons = "; ".join(str(p) for p in model.problems)
            return Permanent(f"not applied, the cluster keeps its last good config: {reasons}")
        try:
            report = await asyncio.wait_for(state.target.apply(model), timeout=self._apply_timeout)
        except TemporaryError as exc:
            return Temporary(exc.message, exc.delay)
        except PermanentError as exc:
            return Permanent(exc.message)
        except TimeoutError:
            return Temporary(f"the cluster did not finish applying within {self._apply_timeout:g} s", 0.0)
        except Exception as exc:  # a defect, not the cluster's fault: retry with backoff, and say what it was
            log.exception("applying to cluster %s failed unexpectedly", model.cluster.name)
            return Temporary(f"internal error while applying: {type(exc).__name__}: {exc}", 0.0)
        return Synced(model.generation, report.writes)

    async def _observe(self, state: _ClusterState, model: ClusterRouting) -> Observation:
        try:
            return await asyncio.wait_for(state.target.observe(model), timeout=self._observe_timeout)
        except TimeoutError:
            return Observation(reachable=False, error=f"no answer within {self._observe_timeout:g} s")
        except Exception as exc:
            log.exception("observing cluster %s failed", model.cluster.name)
            return Observation(reachable=False, error=f"{type(exc).__name__}: {exc}")

    async def _drop(self, name: str, *, forget: bool = True) -> None:
        state = self._clusters.pop(name, None)
        if state is not None:
            async with state.lock:
                await state.target.aclose()
        if forget:
            await self._status.forget(name)
