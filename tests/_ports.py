"""Ports for servers that a test cannot hand a bound socket (Envoy, a subprocess): free, and outside the kernel's
ephemeral range, so no outgoing connection (Envoy's health checks, a client) can take one between the moment it
is chosen and the moment the server binds it."""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]


def _ephemeral() -> range:
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


_EPHEMERAL = _ephemeral()
_CANDIDATES = [p for p in range(10_000, 65_000) if p not in _EPHEMERAL]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at ``host`` now, chosen at random outside the ephemeral range."""
    for _ in range(1000):
        port = random.choice(_CANDIDATES)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port outside the ephemeral range on {host}")
