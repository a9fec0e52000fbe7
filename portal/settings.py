"""Loom's one typed settings object, read from ``LOOM_*`` environment variables and grouped by concern.

Each group reads its own prefix (``LOOM_DATABASE_URL``, ``LOOM_AUTH_SECRET_KEY``, ...). Outside development mode,
secrets left at their defaults are refused, so a production deployment can never run on a published key.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stitcher.settings import GatewaySettings  # the gateway's group is the stitcher's own

__all__ = [
    "AuthSettings",
    "DatabaseSettings",
    "GatewaySettings",
    "InsecureSettingsError",
    "Mode",
    "OIDCSettings",
    "RedisSettings",
    "ServerSettings",
    "Settings",
]

_DEV_SECRET = "loom-development-secret-do-not-use"  # noqa: S105 - refused outside development


class InsecureSettingsError(Exception):
    """A secret was left at its development default outside development mode.

    Not a ValueError on purpose: pydantic would wrap that in a ValidationError whose first line names no variable.
    """


class Mode(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOM_DATABASE_", extra="ignore")

    url: str | None = None  # default: SQLite under LOOM_DATA_DIR
    echo: bool = False


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOM_REDIS_", extra="ignore")

    url: str | None = None  # unset: rate limits are counted in memory, per replica


class OIDCSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOM_OIDC_", extra="ignore")

    issuer: str | None = None  # unset: OIDC login is off, local accounts only
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str = "openid email profile"
    # OIDC discovery of an issuer on loopback is allowed only when this is set (tests, local providers).
    allow_insecure_issuer: bool = False


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOM_AUTH_", extra="ignore")

    secret_key: SecretStr = SecretStr(_DEV_SECRET)  # signs sessions; keys at rest are derived from it
    bootstrap_admin: str = "admin"
    bootstrap_password: SecretStr | None = None  # unset: a one-time password is printed once at first start
    access_token_ttl_seconds: int = 3600
    session_max_age_seconds: int = 8 * 3600
    max_document_bytes: int = 2 * 1024 * 1024
    # Failed password logins (portal.lockout, in memory per replica): this many failures within the lockout period
    # lock the account name, or the client address, for the lockout period.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOM_SERVER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None  # how browsers and gateways reach the portal; default http://host:port


class Settings(BaseSettings):
    """All of Loom's configuration. ``Settings()`` reads the environment; tests pass values directly."""

    model_config = SettingsConfigDict(env_prefix="LOOM_", extra="ignore")

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path(".loom")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    oidc: OIDCSettings = Field(default_factory=OIDCSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Settings:
        if self.mode is Mode.DEVELOPMENT:
            return self
        if self.auth.secret_key.get_secret_value() == _DEV_SECRET:
            raise InsecureSettingsError(
                "LOOM_AUTH_SECRET_KEY is left at its development default; set a long random value "
                "(or LOOM_MODE=development for a local demo)"
            )
        if len(self.auth.secret_key.get_secret_value()) < 32:
            raise InsecureSettingsError("LOOM_AUTH_SECRET_KEY must be at least 32 characters outside development")
        if self.oidc.issuer and self.oidc.allow_insecure_issuer:
            raise InsecureSettingsError("LOOM_OIDC_ALLOW_INSECURE_ISSUER is for development only")
        return self

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'loom.db').resolve()}"

    @property
    def public_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some top-level values replaced (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return Settings.model_validate(data)
