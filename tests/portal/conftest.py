"""Fixtures shared by the portal's tests (the database ones are in ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from portal.app import create_app
from portal.settings import Settings


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The portal app itself, in-process, on this test's database."""
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
