"""stitcher.settings: LOOM_GATEWAY_* read once, and cheap to import (the portal's settings embed it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stitcher.settings import GatewaySettings


def test_env_becomes_the_gateway_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_GATEWAY_MAX_DEPTH", "4")
    monkeypatch.setenv("LOOM_GATEWAY_ACCESS_LOG", "false")
    options = GatewaySettings().options()
    assert (options.max_depth, options.access_log, options.introspection) == (4, False, True)


def test_importing_the_settings_loads_neither_the_composer_nor_aiohttp() -> None:
    """`import portal` reads these settings on every `loom` command; the package's names load on first use."""
    probe = (
        "import sys, stitcher.settings; "
        "print(sorted(m for m in ('stitcher.composition', 'stitcher.openapi', 'aiohttp') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_package_still_exports_its_public_names() -> None:
    import stitcher

    assert stitcher.compose.__module__ == "stitcher.composition"
    assert all(hasattr(stitcher, name) for name in stitcher.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = stitcher.nothing  # type: ignore[attr-defined]
