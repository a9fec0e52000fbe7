"""The upstream HTTP client each Federation pattern test drives the gateway with."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stitcher.transport import AiohttpTransport


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    client = await AiohttpTransport.create()
    yield client
    await client.aclose()
