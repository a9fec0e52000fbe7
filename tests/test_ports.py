"""The test suite's own port picker: a fleet asks for many ports before any server binds one."""

from __future__ import annotations

import socket

import pytest

from tests import _ports
from tests._ports import free_port


def test_a_process_never_gets_the_same_port_twice() -> None:
    """Nothing binds these ports in between, so only the picker's memory keeps them apart (it did not, once: two
    Envoys of one fleet were given one listener port)."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert not set(ports) & set(_ports._EPHEMERAL)


def test_a_port_it_gives_is_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


def test_xdist_workers_draw_from_disjoint_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = list(range(100))
    shares = []
    for worker in range(3):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        shares.append(set(_ports._share(candidates)))
    assert set().union(*shares) == set(candidates)
    assert sum(len(s) for s in shares) == len(candidates)
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert _ports._share(candidates) == candidates
