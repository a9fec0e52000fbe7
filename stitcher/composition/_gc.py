"""The cyclic garbage collector paused while composing."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _without_gc_pauses() -> Iterator[None]:
    """Composing a big schema allocates millions of long-lived objects (AST nodes, types), and each of CPython's
    full collections walks all of them again: measured, half of the CPU time of composing a 1,600-type schema
    (``make bench-compose``). What composition builds lives until it returns, and its intermediate garbage is freed
    by reference counting, so the cyclic collector pauses meanwhile (process-wide; concurrent compositions share one
    pause) and runs as usual after."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()
