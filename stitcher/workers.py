"""Several gateway processes on one port: ``loom gateway --workers N`` (``LOOM_GATEWAY_WORKERS``).

One Python process serves on one core; N worker processes serve N. The supervisor (the process ``loom gateway``
started) holds the port and starts N workers with ``multiprocessing``'s spawn (fresh interpreters: nothing of the
supervisor's state is shared by accident). Each worker builds its own app and listens on its own socket bound with
``SO_REUSEPORT``, so the kernel spreads new connections over the workers' accept queues (one shared socket lets
whichever worker wakes first accept a burst of connections, and the others idle).

* **Start-up**: the supervisor returns 1 with the first worker's error when a worker fails before it serves (an
  invalid supergraph, say), after stopping the others.
* **A worker that dies later** (killed, out of memory) is replaced; the others keep serving meanwhile.
* **SIGTERM or SIGINT** to the supervisor: it passes SIGTERM to every worker, each finishes its in-flight requests
  within the grace period (as a single ``loom gateway`` does), the supervisor waits for all of them and exits 0.
  A worker whose supervisor is gone (killed with SIGKILL) shuts down by itself.
* **One /metrics view**: the workers share a directory the supervisor makes (``PROMETHEUS_MULTIPROC_DIR``, set for
  the workers only) and removes at exit: each writes its request and fetch numbers there at most every 50 ms, and
  prometheus_client's multiprocess files hold the rare metrics; whichever worker is scraped sums every worker's
  (:class:`stitcher.metrics.GatewayMetrics`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

from stitcher.errors import StitcherError

__all__ = ["WorkerStartError", "run_workers"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch, read when a worker imports it

log = logging.getLogger("stitcher.gateway.workers")

# A worker entry point: (its arguments..., the connection to tell the supervisor "ready" or an error); it exits
# with its code (sys.exit).
Target = Callable[..., None]


class WorkerStartError(StitcherError):
    """A worker failed before it served (its own one-line reason)."""


@dataclass
class _Worker:
    index: int
    process: SpawnProcess
    messages: Connection  # the supervisor's end: "ready", or ("error", reason)
    ready: bool = False


def run_workers(count: int, target: Target, args: tuple[Any, ...], *, grace_seconds: float) -> int:
    """Run ``count`` workers, each ``target(*args, ready_connection)``, until SIGTERM/SIGINT; 0 after a clean
    shutdown. Raises :class:`WorkerStartError` when one fails before serving (the others are stopped first)."""
    if count < 1:
        raise ValueError(f"--workers must be at least 1 (got {count})")
    context = multiprocessing.get_context("spawn")
    metrics_dir = tempfile.mkdtemp(prefix="loom-gateway-metrics-")
    stop_read, stop_write = os.pipe()
    os.set_blocking(stop_write, False)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(stop_write, b"x")

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    saved_env = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = metrics_dir  # spawned workers inherit it; this process never reads it
    workers: dict[int, _Worker] = {}

    def start(index: int) -> _Worker:
        ours, theirs = context.Pipe(duplex=False)
        process = context.Process(target=target, args=(*args, theirs), name=f"loom-gateway-worker-{index}")
        process.start()
        theirs.close()
        return _Worker(index, process, ours)

    try:
        for index in range(count):
            workers[index] = start(index)
        while True:
            waitables: list[Any] = [stop_read]
            for worker in workers.values():
                waitables += [worker.process.sentinel, worker.messages]
            ready = wait(waitables)
            if stop_read in ready:
                log.info("stopping %d workers", len(workers))
                return 0
            for worker in list(workers.values()):
                failure = _read(worker)
                if failure is not None:
                    raise WorkerStartError(failure)
                if worker.process.sentinel in ready:
                    worker.process.join()
                    _forget(worker, metrics_dir)
                    if not worker.ready:
                        raise WorkerStartError(
                            f"gateway worker {worker.index} exited with {worker.process.exitcode} before serving"
                        )
                    log.warning(
                        "gateway worker %d (pid %s) exited with %s: starting another",
                        worker.index,
                        worker.process.pid,
                        worker.process.exitcode,
                    )
                    workers[worker.index] = start(worker.index)
    finally:
        _stop(list(workers.values()), grace_seconds, metrics_dir)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if saved_env is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = saved_env
        os.close(stop_read)
        os.close(stop_write)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _read(worker: _Worker) -> str | None:
    """Take the worker's messages; its start-up error, if it sent one."""
    try:
        while worker.messages.poll():
            message = worker.messages.recv()
            if message == "ready":
                worker.ready = True
            elif isinstance(message, tuple) and message[0] == "error":
                return str(message[1])
    except (EOFError, OSError):  # the worker is gone: its sentinel says so
        pass
    return None


def _forget(worker: _Worker, metrics_dir: str) -> None:
    """A dead worker's live gauges leave the merged view (its counters stay: totals never go back)."""
    from prometheus_client import multiprocess

    worker.messages.close()
    if worker.process.pid is not None:
        multiprocess.mark_process_dead(worker.process.pid, metrics_dir)  # type: ignore[no-untyped-call]


def _stop(workers: list[_Worker], grace_seconds: float, metrics_dir: str) -> None:
    """SIGTERM to every live worker, then wait for all: each gets the grace period and some to close its app."""
    for worker in workers:
        if worker.process.is_alive() and worker.process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGTERM)
    for worker in workers:
        worker.process.join(grace_seconds + 10)
        if worker.process.is_alive():
            log.warning("gateway worker %d did not stop in time: killed", worker.index)
            worker.process.kill()
            worker.process.join()
        if not worker.messages.closed:
            _forget(worker, metrics_dir)


def parent_sentinel() -> int | None:
    """In a worker: a file descriptor that becomes readable when the supervisor is gone (None elsewhere)."""
    parent = multiprocessing.parent_process()
    return parent.sentinel if parent is not None else None
