"""Loom's one typed settings object, read from ``LOOM_*`` environment variables and grouped by concern.

Each group reads its own prefix (``LOOM_DATABASE_URL``, ``LOOM_AUTH_SECRET_KEY``, ...).

No secret has a default in the source. The key that signs sessions and encrypts secrets at rest is
``LOOM_AUTH_SECRET_KEY`` when set, else a random key generated on first use into ``LOOM_DATA_DIR/secret_key``
(mode 0600; one that others may read is refused): every process of one installation (``loom serve``, ``loom up``,
the CLI on the local database) shares the data directory, hence the key. Replicas on separate hosts must share
that file or set ``LOOM_AUTH_SECRET_KEY``.
"""

from __future__ import annotations

import enum
import ipaddress
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stitcher.serving import ConnectionLimits
from stitcher.settings import GatewaySettings  # the gateway's group is the stitcher's own

DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""``LOOM_AUTH_MAX_DOCUMENT_BYTES``'s default: the size of the largest public API descriptions, with room."""

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "AuthSettings",
    "DatabaseSettings",
    "GatewaySettings",
    "InsecureSettingsError",
    "Mode",
    "OIDCSettings",
    "RedisSettings",
    "ServerSettings",
    "Settings",
    "SyncSettings",
]

# What LOOM_AUTH_SECRET_KEY defaulted to before keys were generated: public, so refused in every mode (and
# recognised by portal.oauth to replace the signing keys it encrypted).
PUBLISHED_DEVELOPMENT_SECRET = "loom-development-secret-do-not-use"  # noqa: S105 - refused, never used
_MIN_SECRET = 32
_DEFAULT_LIMITS = ConnectionLimits()


class InsecureSettingsError(Exception):
    """A secret is unsafe: published, too short outside development, or stored where others may read it.

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

    # Signs session cookies; the key encrypting secrets at rest is derived from it. Unset: the generated key file
    # (see the module's docstring and Settings.resolved_secret_key).
    secret_key: SecretStr | None = None
    bootstrap_admin: str = "admin"
    bootstrap_password: SecretStr | None = None  # unset: a one-time password is printed once at first start
    access_token_ttl_seconds: int = 3600
    session_max_age_seconds: int = 8 * 3600
    # The one limit on a resource document and the schema it carries (a Service's OpenAPI spec, SDL or fetched
    # schema): real public specs reach 3 MB (OpenAI's, PagerDuty's) and more (Stripe's, GitHub's REST description).
    max_document_bytes: int = Field(default=DEFAULT_MAX_DOCUMENT_BYTES, gt=0)
    # Failed password logins (portal.lockout, in memory per replica): this many failures within the lockout period
    # lock the account name, or the client address, for the lockout period.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # Failed client authentications at POST /oauth/token, counted the same way per client_id and per address.
    token_max_failures_per_client: int = Field(default=10, ge=1)
    token_max_failures_per_address: int = Field(default=30, ge=1)
    token_lockout_seconds: int = Field(default=300, ge=1)
    # argon2 checks (logins, client secrets) running at once, and waiting beyond those: each costs ~64 MiB and a
    # core, so a flood waits here (or gets a 503) instead of exhausting the host.
    max_concurrent_password_checks: int = Field(default=2, ge=1)
    max_waiting_password_checks: int = Field(default=32, ge=0)


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOM_SERVER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None  # how browsers and gateways reach the portal; default http://host:port
    # Connections (stitcher.serving): a request's headers must arrive within header_timeout_seconds of the
    # connection opening (or of the next request starting), an idle kept-alive connection closes after
    # keep_alive_seconds, and at most max_connections are open (more are answered 503 and closed).
    header_timeout_seconds: float = Field(default=_DEFAULT_LIMITS.header_timeout_seconds, gt=0)
    keep_alive_seconds: float = Field(default=_DEFAULT_LIMITS.keep_alive_seconds, gt=0)
    max_connections: int = Field(default=_DEFAULT_LIMITS.max_connections, ge=1)
    # Reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or CIDRs, comma-separated); none by
    # default: the client address (login lockout, audit) is then the connection's peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"LOOM_SERVER_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR (e.g. 10.0.0.5, 10.0.0.0/8)"
                ) from exc
        return value

    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            header_timeout_seconds=self.header_timeout_seconds,
            keep_alive_seconds=self.keep_alive_seconds,
            max_connections=self.max_connections,
        )


class SyncSettings(BaseSettings):
    """``LOOM_SYNC_*``: the sync worker (``loom sync``; ``loom serve`` runs it in-process with ``enabled``)."""

    model_config = SettingsConfigDict(env_prefix="LOOM_SYNC_", extra="ignore")

    enabled: bool = True  # loom serve: run the worker in-process (one per installation: it takes a lock)
    interval_seconds: float = Field(default=2.0, gt=0)  # a pass at least this often (observation, retries)
    resync_seconds: float = Field(default=60.0, gt=0)  # re-apply unchanged clusters this often (drift)
    apply_timeout_seconds: float = Field(default=60.0, gt=0)
    observe_timeout_seconds: float = Field(default=10.0, gt=0)
    backoff_base_seconds: float = Field(default=1.0, gt=0)
    backoff_cap_seconds: float = Field(default=60.0, gt=0)
    envoy_dir: Path | None = None  # local-envoy clusters' files; default LOOM_DATA_DIR/envoy/<cluster>
    gitops_dir: Path | None = None  # gitops clusters' manifests; default LOOM_DATA_DIR/gitops/<cluster>
    kubeconfig: Path | None = None  # kubernetes clusters; default $KUBECONFIG, ~/.kube/config, or in-cluster


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
    sync: SyncSettings = Field(default_factory=SyncSettings)

    # The generated key, read once per data directory (a copy with another data_dir reads its own).
    _generated_key: tuple[Path, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _refuse_insecure_values(self) -> Settings:
        configured = self.auth.secret_key.get_secret_value() if self.auth.secret_key is not None else None
        if configured == PUBLISHED_DEVELOPMENT_SECRET:
            raise InsecureSettingsError(
                "LOOM_AUTH_SECRET_KEY is the development default published in Loom's source: anyone can forge "
                "sessions with it; unset it (a random key is then generated in LOOM_DATA_DIR) or set a long random "
                "value"
            )
        if self.mode is Mode.DEVELOPMENT:
            return self
        if configured is not None and len(configured) < _MIN_SECRET:
            raise InsecureSettingsError(
                f"LOOM_AUTH_SECRET_KEY must be at least {_MIN_SECRET} characters outside development; unset it to "
                "use the key generated in LOOM_DATA_DIR"
            )
        if self.oidc.issuer and self.oidc.allow_insecure_issuer:
            raise InsecureSettingsError("LOOM_OIDC_ALLOW_INSECURE_ISSUER is for development only")
        return self

    def resolved_secret_key(self) -> str:
        """The key that signs sessions and from which the key for secrets at rest is derived:
        ``LOOM_AUTH_SECRET_KEY``, or the key generated on first use in ``LOOM_DATA_DIR/secret_key``.

        Reading or creating the file is I/O: call it where files may be touched (app start-up, the token endpoint),
        not while settings are merely read. Raises :class:`InsecureSettingsError` for a file others may read.
        """
        if self.auth.secret_key is not None:
            return self.auth.secret_key.get_secret_value()
        data_dir = self.data_dir.resolve()
        if self._generated_key is None or self._generated_key[0] != data_dir:
            from portal._keyfile import load_or_create_key  # lazily: it imports this module

            self._generated_key = (data_dir, load_or_create_key(data_dir))
        return self._generated_key[1]

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
