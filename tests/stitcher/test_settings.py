"""stitcher.settings: LOOM_GATEWAY_* read once, and cheap to import (the portal's settings embed it)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from stitcher.options import GatewayOptions
from stitcher.settings import GatewaySettings


def test_env_becomes_the_gateway_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_GATEWAY_MAX_DEPTH", "4")
    monkeypatch.setenv("LOOM_GATEWAY_ACCESS_LOG", "false")
    monkeypatch.setenv("LOOM_GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("LOOM_GATEWAY_MAX_RESPONSE_BYTES", "1000")
    options = GatewaySettings().options()
    assert (options.limits.max_depth, options.access_log, options.introspection) == (4, False, True)
    assert (options.timeouts.upstream_seconds, options.limits.max_response_bytes) == (2.5, 1000)


def test_the_settings_defaults_are_the_options_defaults() -> None:
    """The defaults are written once, on GatewayOptions: settings built from an empty environment change none."""
    assert GatewaySettings(_env_file=None).options() == GatewayOptions()


def test_a_bad_limit_is_refused_with_its_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_GATEWAY_MAX_RESPONSE_BYTES", "0")
    with pytest.raises(ValidationError, match="max_response_bytes"):
        GatewaySettings()


def test_the_rate_limit_namespace_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two installations sharing one Redis each set their own namespace (the portal reads the same setting)."""
    assert GatewaySettings(_env_file=None).options().rate_limit_key_prefix == "loom:ratelimit:"
    monkeypatch.setenv("LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX", "loom-eu:ratelimit:")
    assert GatewaySettings().options().rate_limit_key_prefix == "loom-eu:ratelimit:"


@pytest.mark.parametrize("prefix", ["", "loom eu:", "loom:\n"])
def test_a_rate_limit_namespace_that_is_empty_or_spaced_is_refused(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX", prefix)
    with pytest.raises(ValidationError, match=r"LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX=.* must be a non-empty name"):
        GatewaySettings()


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
        _ = stitcher.nothing
