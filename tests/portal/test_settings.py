"""portal.settings: LOOM_* variables by group, the defaults, and insecure defaults refused outside development.

Variables are set with pytest's ``monkeypatch.setenv`` (the environment is the input under test, not a fake).
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

import stitcher.settings
import stitcher.transport
from portal.settings import PUBLISHED_DEVELOPMENT_SECRET, AuthSettings, InsecureSettingsError, Mode, Settings

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
    assert settings.auth.secret_key is not None and settings.auth.secret_key.get_secret_value() == STRONG_SECRET
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


@pytest.mark.parametrize("mode", ["development", "production"])
def test_the_published_development_secret_is_refused_in_every_mode(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """It was the default: anyone could forge a session cookie for user 1 (the platform admin) with it."""
    monkeypatch.setenv("LOOM_MODE", mode)
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", PUBLISHED_DEVELOPMENT_SECRET)
    with pytest.raises(InsecureSettingsError, match="published in Loom's source"):
        Settings()


def test_no_secret_has_a_default_a_random_key_is_generated_once_per_data_directory(tmp_path: Path) -> None:
    assert AuthSettings().secret_key is None
    settings = Settings(data_dir=tmp_path / "data")
    assert not (tmp_path / "data").exists()  # reading settings touches no file
    key = settings.resolved_secret_key()
    assert len(key) >= 64 and key != PUBLISHED_DEVELOPMENT_SECRET
    key_file = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert key_file.read_text().strip() == key
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret_key"]  # no temporary file left
    # every later reader of the same directory (another process, a copy of the settings) gets the same key
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key() == key
    assert Settings(data_dir=tmp_path / "other").resolved_secret_key() != key
    moved = settings.model_copy(update={"data_dir": tmp_path / "other"})
    assert moved.resolved_secret_key() == Settings(data_dir=tmp_path / "other").resolved_secret_key()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    Settings(data_dir=tmp_path).resolved_secret_key()
    (tmp_path / "secret_key").chmod(mode)
    with pytest.raises(InsecureSettingsError, match=f"chmod 600 {tmp_path / 'secret_key'}"):
        Settings(data_dir=tmp_path).resolved_secret_key()


def test_a_key_file_that_holds_no_generated_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    (tmp_path / "secret_key").chmod(0o600)
    with pytest.raises(InsecureSettingsError, match="not a generated key: delete it"):
        Settings(data_dir=tmp_path).resolved_secret_key()


@pytest.mark.parametrize("mode", ["development", "production"])
def test_a_configured_key_is_used_as_it_is_and_no_file_is_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str
) -> None:
    """Installations that set LOOM_AUTH_SECRET_KEY keep signing and decrypting with it."""
    monkeypatch.setenv("LOOM_MODE", mode)
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    assert Settings().resolved_secret_key() == STRONG_SECRET
    assert not (tmp_path / "data").exists()


def test_processes_of_one_installation_starting_together_agree_on_the_key(tmp_path: Path) -> None:
    """`loom serve`, a CLI command and test subprocesses share LOOM_DATA_DIR: the first to create the key wins and
    every process reads that one (the key file appears whole, never half written)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment["LOOM_DATA_DIR"] = str(tmp_path / "data")
    script = (
        "import hashlib; from portal.settings import Settings; "
        "print(hashlib.sha256(Settings().resolved_secret_key().encode()).hexdigest())"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script], env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    digests = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert [process.returncode for process in processes] == [0, 0, 0, 0]
    key = (tmp_path / "data" / "secret_key").read_text().strip()
    assert digests == {hashlib.sha256(key.encode()).hexdigest()}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret_key"]


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


def test_production_with_a_strong_secret_or_none_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "production")
    assert Settings().mode is Mode.PRODUCTION  # the generated key is used
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", STRONG_SECRET)
    assert Settings().mode is Mode.PRODUCTION


def test_development_mode_accepts_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_OIDC_ISSUER", "http://127.0.0.1:9000")
    monkeypatch.setenv("LOOM_OIDC_ALLOW_INSECURE_ISSUER", "1")
    assert Settings().oidc.allow_insecure_issuer is True


def test_with_overrides_validates_again(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings().with_overrides(mode=Mode.DEVELOPMENT, data_dir=Path("/srv/loom"))
    assert settings.data_dir == Path("/srv/loom")
    monkeypatch.setenv("LOOM_AUTH_SECRET_KEY", "short")
    with pytest.raises(InsecureSettingsError):
        Settings().with_overrides(mode=Mode.PRODUCTION)


def test_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_MODE", "staging")
    with pytest.raises(ValueError, match="mode"):
        Settings()


def test_the_cli_names_the_insecure_variable(tmp_path: Path) -> None:
    """The one-line CLI error says which variable to fix (not a generic validation summary)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment.update(LOOM_MODE="production", LOOM_DATA_DIR=str(tmp_path), LOOM_AUTH_SECRET_KEY="short")
    result = subprocess.run(
        [sys.executable, "-m", "portal.cli", "migrate"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("loom: error: LOOM_AUTH_SECRET_KEY must be at least 32 characters")
    assert not (tmp_path / "loom.db").exists()


def test_server_connection_settings_and_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER_HEADER_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("LOOM_SERVER_MAX_CONNECTIONS", "50")
    monkeypatch.setenv("LOOM_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    server = Settings().server
    limits = server.connection_limits()
    assert (limits.header_timeout_seconds, limits.keep_alive_seconds, limits.max_connections) == (2.5, 5, 50)
    assert server.trusted_proxies == ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
    monkeypatch.delenv("LOOM_SERVER_TRUSTED_PROXIES")
    assert Settings().server.trusted_proxies == []  # nobody's X-Forwarded-For is believed by default
    monkeypatch.setenv("LOOM_SERVER_TRUSTED_PROXIES", "10.0.0.0/8,proxy.example")
    with pytest.raises(ValidationError, match=r"'proxy\.example' is not an IP address or CIDR"):
        Settings()
    monkeypatch.delenv("LOOM_SERVER_TRUSTED_PROXIES")
    monkeypatch.setenv("LOOM_SERVER_MAX_CONNECTIONS", "0")
    with pytest.raises(ValidationError, match="max_connections"):
        Settings()


def test_gateway_connection_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_GATEWAY_HEADER_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("LOOM_GATEWAY_KEEP_ALIVE_SECONDS", "7")
    monkeypatch.setenv("LOOM_GATEWAY_MAX_CONNECTIONS", "20")
    limits = Settings().gateway.connection_limits()
    assert (limits.header_timeout_seconds, limits.keep_alive_seconds, limits.max_connections) == (3, 7, 20)
