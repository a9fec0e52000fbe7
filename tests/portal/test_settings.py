"""portal.settings: LOOM_* variables by group, the defaults, and insecure defaults refused outside development.

Variables are set with pytest's ``monkeypatch.setenv`` (the environment is the input under test, not a fake).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import stitcher.settings
import stitcher.transport
from portal.settings import InsecureSettingsError, Mode, Settings

STRONG_SECRET = "s" * 48


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LOOM_"):
            monkeypatch.delenv(name)


def test_defaults_are_a_local_development_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.mode is Mode.DEVELOPMENT
    assert settings.database.url is None
    assert settings.database_url == f"sqlite:///{tmp_path / '.loom' / 'loom.db'}"
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.oidc.issuer is None


def test_variables_are_read_by_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOOM_DATABASE_URL", "postgresql+psycopg://loom@db:5432/loom")
    monkeypatch.setenv("LOOM_DATABASE_ECHO", "true")
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("LOOM_AUTH_ACCESS_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("LOOM_OIDC_ISSUER", "https://id.example.com")
    monkeypatch.setenv("LOOM_SERVER_PORT", "9090")
    monkeypatch.setenv("LOOM_SERVER_PUBLIC_URL", "https://portal.example.com")
    monkeypatch.setenv("LOOM_GATEWAY_MAX_DEPTH", "7")
    monkeypatch.setenv("LOOM_REDIS_URL", "redis://127.0.0.1:6379/0")

    settings = Settings()

    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == "postgresql+psycopg://loom@db:5432/loom"
    assert settings.database.echo is True
    assert settings.auth.secret_key.get_secret_value() == STRONG_SECRET
    assert settings.auth.access_token_ttl_seconds == 120
    assert settings.oidc.issuer == "https://id.example.com"
    assert settings.server.port == 9090
    assert settings.public_url == "https://portal.example.com"
    assert settings.gateway.max_depth == 7
    assert settings.redis.url == "redis://127.0.0.1:6379/0"


def test_the_gateway_group_is_the_stitchers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """One definition of LOOM_GATEWAY_*: `loom serve`'s embedded gateway and `loom gateway` read the same fields."""
    monkeypatch.setenv("LOOM_GATEWAY_UPSTREAM_CLIENT", "httpx")
    monkeypatch.setenv("LOOM_GATEWAY_GRAPHIQL", "false")
    gateway = Settings().gateway
    assert isinstance(gateway, stitcher.settings.GatewaySettings)
    assert gateway.options().graphiql is False
    assert gateway.transport_factory() == stitcher.transport.HttpxTransport.create


def test_sqlite_default_lives_under_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "d"))
    assert Settings().database_url == f"sqlite:///{tmp_path / 'd' / 'loom.db'}"


def test_secrets_are_not_shown_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", STRONG_SECRET)
    assert STRONG_SECRET not in repr(Settings())


def test_development_default_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "production")
    with pytest.raises(InsecureSettingsError, match="LOOM_AUTH_SECRET_KEY is left at its development default"):
        Settings()


def test_short_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "production")
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", "short")
    with pytest.raises(InsecureSettingsError, match="at least 32 characters"):
        Settings()


def test_insecure_oidc_issuer_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "production")
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("LOOM_OIDC_ISSUER", "http://127.0.0.1:9000")
    monkeypatch.setenv("LOOM_OIDC_ALLOW_INSECURE_ISSUER", "1")
    with pytest.raises(InsecureSettingsError, match="LOOM_OIDC_ALLOW_INSECURE_ISSUER"):
        Settings()


def test_production_with_a_strong_secret_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "production")
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", STRONG_SECRET)
    assert Settings().mode is Mode.PRODUCTION


def test_development_mode_accepts_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_OIDC_ISSUER", "http://127.0.0.1:9000")
    monkeypatch.setenv("LOOM_OIDC_ALLOW_INSECURE_ISSUER", "1")
    assert Settings().oidc.allow_insecure_issuer is True


def test_with_overrides_validates_again() -> None:
    settings = Settings().with_overrides(mode=Mode.DEVELOPMENT, data_dir=Path("/srv/loom"))
    assert settings.data_dir == Path("/srv/loom")
    with pytest.raises(InsecureSettingsError):
        Settings().with_overrides(mode=Mode.PRODUCTION)


def test_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "staging")
    with pytest.raises(ValueError, match="mode"):
        Settings()


def test_the_cli_names_the_insecure_variable(tmp_path: Path) -> None:
    """The one-line CLI error says which variable to fix (not a generic validation summary)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment.update(LOOM_MODE="production", LOOM_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "portal.cli", "migrate"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("loom: error: LOOM_AUTH_SECRET_KEY is left at its development default")
    assert not (tmp_path / "loom.db").exists()
