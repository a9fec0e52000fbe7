"""Fixtures shared by the portal's tests (the database ones are in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from portal.app import create_app
from portal.settings import Settings
from tests._sqlite_writes import read_then_write_guard


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The portal app itself, in-process, on this test's database."""
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(autouse=True)
def _no_read_then_write() -> Iterator[None]:
    """Every portal test runs under the guard of ``tests._sqlite_writes``."""
    with read_then_write_guard() as found:
        yield
    listed = "\n".join(str(f) for f in found)
    assert not found, f"deferred SQLite transactions wrote after reading (begin them with portal.db.writer):\n{listed}"
