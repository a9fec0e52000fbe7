"""Ports for servers that a test cannot hand a bound socket (Envoy, a subprocess).

A port is free when it is chosen, but nothing holds it until the server binds it, so three rules keep two servers
from being handed the same one:
- it lies outside the kernel's ephemeral range, so no outgoing connection (Envoy's health checks, a client) takes it;
- a process never hands out the same port twice (a fleet asks for nine ports before its first Envoy binds any);
- each pytest-xdist worker draws from its own share of the candidates, so two workers never race for one port.
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
from pathlib import Path

__all__ = ["free_port"]


def _ephemeral() -> range:
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def _share(candidates: list[int]) -> list[int]:
    """This process's share: every Nth candidate for xdist worker gwK of N, all of them outside xdist."""
    worker = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker is None or count <= 1:
        return candidates
    return candidates[int(worker.group(1)) % count :: count]


_EPHEMERAL = _ephemeral()
_CANDIDATES = _share([p for p in range(10_000, 65_000) if p not in _EPHEMERAL])
_GIVEN: set[tuple[str, int]] = set()
_LOCK = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at ``host`` now and that this process has not handed out before."""
    with _LOCK:
        for _ in range(1000):
            port = random.choice(_CANDIDATES)
            if (host, port) in _GIVEN:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
            _GIVEN.add((host, port))
            return port
    raise RuntimeError(f"no free port outside the ephemeral range on {host}")
