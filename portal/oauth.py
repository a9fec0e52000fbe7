"""The portal as OAuth2 authorization server for the client-credentials grant (RFC 6749 §4.4), on Authlib.

* ``POST /oauth/token`` authenticates the client (``client_secret_basic`` or ``client_secret_post``) and issues a
  signed JWT access token (RFC 9068: ``iss`` the portal's public URL, ``aud`` :data:`GATEWAY_AUDIENCE`, ``sub`` and
  ``client_id`` the client id, ``exp``, ``iat``, ``jti``, ``scope``; header ``kid``, ``typ: at+jwt``). Errors are
  RFC 6749 §5.2 JSON: ``invalid_client`` (401), ``unsupported_grant_type``, ``invalid_scope``, ...
* ``scope`` (optional, space-separated) asks for ``product:<name>`` values, each naming a product the client's
  application has an approved subscription to (anything else is ``invalid_scope``); the JWT's ``scope`` claim and
  the response's ``scope`` are the granted values. Without ``scope`` the token carries no scope claim: the gateway
  then checks the subscriptions alone.
* The endpoint takes its parameters in the form body only: credentials in the query string (which access logs
  write down) are refused with 400, and its query string is never logged (:class:`TokenQueryGuard`). Its body is
  capped (:data:`TOKEN_BODY_LIMIT`); failed client authentications lock the ``client_id`` and the address for a
  while (:mod:`portal.lockout`: 429 with ``Retry-After``, each lock audited once), counted before the secret is
  checked; secret checks queue at the app's argon2 gate (:mod:`portal._password_gate`).
* ``GET /.well-known/jwks.json`` publishes every active signing key. New tokens are signed with the newest one;
  after :func:`rotate_signing_key` the older keys stay published (tokens they signed keep verifying) until
  :func:`retire_signing_key`. Private keys are stored encrypted with :mod:`portal._crypto`.
* ``GET /.well-known/oauth-authorization-server`` is the RFC 8414 metadata.

The routes read the app's engine and settings from ``request.app.state.engine`` / ``request.app.state.settings``.
Authlib's server is synchronous, so each token request runs in the thread pool with its own database session.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import time
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import sqlalchemy as sa
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidScopeError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from portal._authlib import FormRequest
from portal._crypto import decrypt, encrypt
from portal._password_gate import Busy, gate_of
from portal.applications import find_oauth_client, verify_client_secret
from portal.audit import audit_scope, authorize_and_audit, record_denied
from portal.authorization import Actor, Target
from portal.db import session_scope, writer
from portal.errors import Invalid, NotFound
from portal.lockout import Lockout, LoginLimiter, LoginLimits
from portal.models import Credential, Product, SigningKey, Subscription, SubscriptionState, utcnow
from portal.settings import PUBLISHED_DEVELOPMENT_SECRET, Mode, Settings

__all__ = [
    "ALGORITHMS",
    "GATEWAY_AUDIENCE",
    "JWKS_PATH",
    "TOKEN_BODY_LIMIT",
    "TOKEN_PATH",
    "TokenQueryGuard",
    "ensure_signing_key",
    "issuer",
    "middleware",
    "public_jwks",
    "retire_signing_key",
    "rotate_signing_key",
    "routes",
]

Algorithm = Literal["RS256", "ES256"]
ALGORITHMS: tuple[Algorithm, ...] = ("RS256", "ES256")
GATEWAY_AUDIENCE = "loom-gateway"
"""The ``aud`` of every access token: the gateways are the resource servers that accept them."""
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
TOKEN_BODY_LIMIT = 16 * 1024
"""Bytes a token request body may have: a grant type, a client id and secret, some scopes."""
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
_SCOPE_PREFIX = "product:"


def issuer(settings: Settings) -> str:
    """The ``iss`` of the tokens: the portal's public URL."""
    return settings.public_url.rstrip("/")


# --- signing keys ------------------------------------------------------------------------------------------------


def _generate(algorithm: Algorithm) -> RSAKey | ECKey:
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"}, private=True)
    return ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"}, private=True)


def _new_signing_key(session: Session, settings: Settings, algorithm: Algorithm) -> SigningKey:
    if algorithm not in ALGORITHMS:
        raise Invalid(f"unsupported signing algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    key = _generate(algorithm)
    kid = key.thumbprint()
    pem = key.as_pem(private=True)
    row = SigningKey(
        kid=kid,
        algorithm=algorithm,
        private_key_encrypted=encrypt(settings.resolved_secret_key(), pem),
        public_jwk={**key.as_dict(private=False), "kid": kid},
        active=True,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def _active_keys(session: Session) -> list[SigningKey]:
    """Active keys, newest first."""
    return list(
        session.exec(
            select(SigningKey)
            .where(col(SigningKey.active).is_(True))
            .order_by(col(SigningKey.created_at).desc(), col(SigningKey.id).desc())
        )
    )


def ensure_signing_key(session: Session, settings: Settings, algorithm: Algorithm = "RS256") -> SigningKey:
    """The newest active signing key, creating the first one if there is none. Flushes, does not commit."""
    keys = _active_keys(session)
    return keys[0] if keys else _new_signing_key(session, settings, algorithm)


def rotate_signing_key(
    session: Session, settings: Settings, actor: Actor, *, algorithm: Algorithm = "RS256"
) -> SigningKey:
    """Add a new signing key that signs every token from now on; older keys stay published until retired.
    Platform admins only; audited. Flushes, does not commit."""
    authorize_and_audit(session, actor, "signing_key.rotate", Target("signing_key", "oauth"), {"algorithm": algorithm})
    return _new_signing_key(session, settings, algorithm)


def retire_signing_key(session: Session, actor: Actor, kid: str) -> SigningKey:
    """Stop publishing a key: tokens it signed no longer verify. The newest key cannot be retired (rotate first).
    Platform admins only (the ``signing_key.rotate`` permission); audited. Flushes, does not commit."""
    target = Target("signing_key", kid)
    authorize_and_audit(session, actor, "signing_key.rotate", target, {"retire": kid})
    row = session.exec(select(SigningKey).where(col(SigningKey.kid) == kid)).first()
    if row is None:
        raise NotFound(f"no signing key with kid {kid!r}; the JWKS at {JWKS_PATH} lists the published ones")
    active = _active_keys(session)
    if active and active[0].id == row.id:
        raise Invalid(f"signing key {kid!r} is the newest, which signs new tokens: rotate the key before retiring it")
    if row.active:
        row.active = False
        row.retired_at = utcnow()
        session.add(row)
        session.flush()
    return row


def public_jwks(session: Session) -> dict[str, Any]:
    """The JWKS document: the public halves of every active key."""
    return {"keys": [dict(row.public_jwk) for row in _active_keys(session)]}


def _private_key(row: SigningKey, settings: Settings) -> RSAKey | ECKey:
    return _import_private_key(row, decrypt(settings.resolved_secret_key(), row.private_key_encrypted))


def _replace_published_keys(session: Session, settings: Settings) -> SigningKey | None:
    """Keys stored before secret keys were generated were encrypted under the development default published in
    Loom's source: whoever read the database could sign tokens with them. Retire every such key and sign with a
    new one from now on (tokens they signed stop verifying); None when no key is in that state. Audited as
    ``system``. Flushes, does not commit."""
    published = []
    for row in _active_keys(session):
        try:
            decrypt(PUBLISHED_DEVELOPMENT_SECRET, row.private_key_encrypted)
        except Invalid:
            continue
        published.append(row)
    if not published:
        return None
    system = Actor.system()
    reason = {"reason": "encrypted with the published development secret", "retired": [r.kid for r in published]}
    authorize_and_audit(session, system, "signing_key.rotate", Target("signing_key", "oauth"), reason)
    fresh = _new_signing_key(session, settings, "RS256")
    for row in published:
        row.active = False
        row.retired_at = utcnow()
        session.add(row)
    session.flush()
    return fresh


def _import_private_key(row: SigningKey, pem: bytes) -> RSAKey | ECKey:
    parameters: dict[str, Any] = {"kid": row.kid, "alg": row.algorithm, "use": "sig"}
    if row.algorithm == "ES256":
        return ECKey.import_key(pem, parameters=parameters)  # type: ignore[arg-type]
    return RSAKey.import_key(pem, parameters=parameters)  # type: ignore[arg-type]


# --- the Authlib server ------------------------------------------------------------------------------------------


class _Client:
    """Authlib's view of a :class:`Credential` of kind ``oauth2_client``."""

    def __init__(self, credential: Credential, allowed_scopes: set[str]) -> None:
        self.credential = credential
        self.allowed_scopes = allowed_scopes

    def get_client_id(self) -> str:
        assert self.credential.client_id is not None
        return self.credential.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_client_secret(self.credential, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in _AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        """What Authlib's token generator grants: the requested scope, checked already by the grant (Authlib asks
        with the requested value; answering every allowed scope ignored the request)."""
        return scope or ""


def _allowed_scopes(session: Session, credential: Credential) -> set[str]:
    rows = session.exec(
        select(Product.name)
        .join(Subscription, col(Subscription.product_id) == col(Product.id))
        .where(
            col(Subscription.application_id) == credential.application_id,
            col(Subscription.state) == SubscriptionState.APPROVED,
        )
    )
    return {f"{_SCOPE_PREFIX}{name}" for name in rows}


class _ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _AUTH_METHODS

    def validate_requested_scope(self) -> None:
        client: _Client = self.request.client
        requested = list(dict.fromkeys((self.request.payload.scope or "").split()))  # once each, in order
        unknown = sorted(set(requested) - client.allowed_scopes)
        if unknown:
            names = " ".join(unknown)
            readable = names.isascii() and names.isprintable() and '"' not in names and "\\" not in names
            raise InvalidScopeError(
                f"scope {names} is not granted: request product:<name> for a product the application has an "
                "approved subscription to"
                if readable
                else "the requested scope is not granted: request product:<name> scopes"
            )
        self.request.scope = " ".join(requested) if requested else None  # none asked: no scope claim

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope or None, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    def __init__(self, key: RSAKey | ECKey, algorithm: str, settings: Settings) -> None:
        super().__init__(
            issuer=issuer(settings), alg=algorithm, expires_generator=settings.auth.access_token_ttl_seconds
        )
        self._key = key

    def get_jwks(self) -> KeySet:
        return KeySet([self._key])  # one key: joserfc puts its kid in the header

    def get_audiences(self, client: _Client, user: object, scope: str | None) -> str:
        return GATEWAY_AUDIENCE

    def access_token_generator(self, client: _Client, grant_type: str, user: object, scope: str | None) -> str:
        """The RFC 9068 claims (as Authlib's generator makes them), with no ``scope`` claim when none was granted."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client.get_client_id(),  # no resource owner in this grant: the client is the subject
            "aud": self.get_audiences(client, user, scope),
            "client_id": client.get_client_id(),
            "iat": now,
            "exp": now + self._get_expires_in(client, grant_type),
            "jti": self.get_jti(client, grant_type, user, scope),
        }
        if scope:
            claims["scope"] = scope
        encoded: str = jwt.encode({"alg": self.alg, "typ": "at+jwt"}, claims, self.get_jwks())
        return encoded


# Authlib says "The client cannot authenticate with methods: [...]" for a wrong secret, and nothing for an
# unsupported grant: say what to send instead.
_DESCRIPTIONS = {
    "invalid_client": (
        "unknown or revoked client_id, or wrong client_secret: send the pair the portal issued for the "
        "application's OAuth2 client, with HTTP Basic or as the client_id and client_secret form fields"
    ),
    "unsupported_grant_type": "this token endpoint issues tokens for grant_type=client_credentials only",
}


class _Server(AuthorizationServer):  # type: ignore[misc]
    """One per token request, bound to that request's (read-only) database session."""

    def __init__(self, session: Session, settings: Settings, key_row: SigningKey, key: RSAKey | ECKey) -> None:
        super().__init__()
        self.session = session
        self.used: int | None = None  # the credential a token was issued to
        self.register_token_generator("default", _TokenGenerator(key, key_row.algorithm, settings))
        self.register_grant(_ClientCredentialsGrant)

    def query_client(self, client_id: str) -> _Client | None:
        credential = find_oauth_client(self.session, client_id)
        if credential is None:
            return None
        return _Client(credential, _allowed_scopes(self.session, credential))

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        # The token is a self-contained JWT: nothing to store, but the client's use is recorded (after, by _issue).
        credential: Credential = request.client.credential
        self.used = credential.id

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict) and body.get("error") in _DESCRIPTIONS:
            body = {**body, "error_description": _DESCRIPTIONS[body["error"]]}
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


def _signing_key(engine: Engine, settings: Settings) -> tuple[SigningKey, RSAKey | ECKey]:
    """The newest signing key and its private half; the first key is created (once, whoever asks at the same
    time), and keys encrypted with the published development secret are replaced."""
    with session_scope(engine) as session:
        keys = _active_keys(session)
        if keys:
            with contextlib.suppress(Invalid):  # unreadable: decided below, with the write lock
                return keys[0], _private_key(keys[0], settings)
    with session_scope(writer(engine)) as session:
        row = ensure_signing_key(session, settings)
        try:
            return row, _private_key(row, settings)
        except Invalid:
            replaced = _replace_published_keys(session, settings)
            if replaced is None:
                raise
            return replaced, _private_key(replaced, settings)


def _issue(engine: Engine, settings: Settings, request: FormRequest) -> Response:
    key_row, key = _signing_key(engine, settings)
    with session_scope(engine) as session:  # reads only: concurrent requests never wait on each other here
        server = _Server(session, settings, key_row, key)
        response: Response = server.create_token_response(request)
    if server.used is not None and response.status_code == 200:
        with session_scope(writer(engine)) as session:
            session.execute(
                sa.update(Credential).where(col(Credential.id) == server.used).values(last_used_at=utcnow())
            )
    return response


# --- routes ------------------------------------------------------------------------------------------------------


def _state(request: Request) -> tuple[Engine, Settings]:
    return request.app.state.engine, request.app.state.settings


# Parameters that carry a credential: in a URL they end up in access logs, proxies' logs and browser history.
_CREDENTIAL_PARAMETERS = frozenset({"client_secret", "client_assertion", "password", "refresh_token", "code"})


class TokenQueryGuard:
    """For ``/oauth/token``: refuses credentials in the query string (400, before anything reads them) and empties
    the query string whatever it holds, so that no access log writes it down (uvicorn logs the scope's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == TOKEN_PATH and scope.get("query_string"):
            query = scope["query_string"]
            scope["query_string"] = b""  # the same dict the server logs from
            names = {name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
            if names & _CREDENTIAL_PARAMETERS:
                refusal = {
                    "error": "invalid_request",
                    "error_description": (
                        "credentials in the URL are refused (URLs are logged): send client_id and client_secret "
                        "with HTTP Basic authentication or as form fields in the POST body; now revoke that secret "
                        "and create a new one"
                    ),
                }
                await JSONResponse(refusal, status_code=400, headers={"cache-control": "no-store"})(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


def middleware() -> list[Middleware]:
    """What the token endpoint needs in front of the app's routes (add to the portal app)."""
    return [Middleware(TokenQueryGuard)]


def token_limiter(settings: Settings) -> LoginLimiter:
    """The app's limiter of failed client authentications (made once, when the app is built)."""
    auth = settings.auth
    limits = LoginLimits(
        max_failures_per_account=auth.token_max_failures_per_client,
        max_failures_per_address=auth.token_max_failures_per_address,
        window_seconds=auth.token_lockout_seconds,
        lockout_seconds=auth.token_lockout_seconds,
    )
    return LoginLimiter(limits, principal="client")


def _limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.token_limiter
    return limiter


def _client_id(request: Request, form: list[tuple[str, str]]) -> str:
    """The client_id the request authenticates as (HTTP Basic, else the form), for counting failures only."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return unquote(decoded.partition(":")[0])
    return next((value for name, value in form if name == "client_id"), "")


def _record_lockouts(engine: Engine, client_id: str, address: str, lockouts: list[Lockout]) -> None:
    with audit_scope(via="api"), session_scope(engine) as session:
        for lock in lockouts:
            record_denied(
                session,
                Actor.anonymous(),
                "oauth.token.lockout",
                lock.scope,
                lock.key,
                {"client_id": LoginLimiter.account_key(client_id), "address": address, "failures": lock.failures},
                reason=f"{lock.failures} failed client authentications: {lock.scope} locked for {lock.seconds:.0f} s",
            )


def _oauth_error(status: int, error: str, description: str, **headers: str) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"cache-control": "no-store", **headers},
    )


async def token_endpoint(request: Request) -> Response:
    engine, settings = _state(request)
    form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    # Authlib refuses a token endpoint without TLS (RFC 6749 §3.1), except on loopback. The URI it checks is the
    # public one (behind a TLS-terminating proxy the ASGI URL is http). Development mode serves plain HTTP on any
    # interface (containers, demos on a LAN), so there the check is waived.
    uri = f"{issuer(settings)}{TOKEN_PATH}"
    if settings.mode is Mode.DEVELOPMENT and uri.startswith("http://"):
        uri = "https://" + uri.removeprefix("http://")
    try:
        token_request = FormRequest("POST", uri, request.headers, [], form)
    except InsecureTransportError as error:
        status, body, headers = error()
        return JSONResponse(dict(body), status_code=status, headers=dict(headers))
    client_id = _client_id(request, form)
    address = request.client.host if request.client is not None else "unknown"
    limiter = _limiter(request)
    wait = limiter.begin(client_id, address)  # counted before the secret is checked: concurrency cannot outrun it
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        return _oauth_error(
            429,
            "temporarily_unavailable",
            f"too many failed client authentications for this client_id or address: try again in {seconds} seconds",
            **{"retry-after": str(seconds)},
        )
    try:
        async with gate_of(request).slot():
            response = await run_in_threadpool(_issue, engine, settings, token_request)
    except Busy as exc:
        limiter.cancel(client_id, address)
        return _oauth_error(503, "temporarily_unavailable", exc.message, **{"retry-after": "1"})
    except BaseException:
        limiter.cancel(client_id, address)
        raise
    if response.status_code == 401:  # invalid_client: the one outcome that a guess produces
        lockouts = limiter.failed(client_id, address)
        if lockouts:
            await run_in_threadpool(_record_lockouts, engine, client_id, address, lockouts)
    elif response.status_code == 200:
        limiter.succeeded(client_id, address)
    else:  # refused before the client was authenticated, or after it was (invalid_scope): no guess to count
        limiter.cancel(client_id, address)
    return response


def _jwks(engine: Engine, settings: Settings) -> dict[str, Any]:
    with session_scope(engine) as session:
        document = public_jwks(session)
    if document["keys"]:
        return document
    _signing_key(engine, settings)  # the first key, made as the token endpoint makes it
    with session_scope(engine) as session:
        return public_jwks(session)


async def jwks_endpoint(request: Request) -> Response:
    engine, settings = _state(request)
    document = await run_in_threadpool(_jwks, engine, settings)
    # Short cache: gateways refetch on an unknown kid anyway, and a rotated-in key must appear quickly.
    return JSONResponse(document, headers={"cache-control": "public, max-age=60"})


async def metadata_endpoint(request: Request) -> Response:
    _engine, settings = _state(request)
    base = issuer(settings)
    return JSONResponse(
        {
            "issuer": base,
            "token_endpoint": f"{base}{TOKEN_PATH}",
            "jwks_uri": f"{base}{JWKS_PATH}",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": _AUTH_METHODS,
            "response_types_supported": [],
        }
    )


routes: list[BaseRoute] = [
    Route(TOKEN_PATH, token_endpoint, methods=["POST"], name="oauth_token"),
    Route(JWKS_PATH, jwks_endpoint, methods=["GET"], name="oauth_jwks"),
    Route(METADATA_PATH, metadata_endpoint, methods=["GET"], name="oauth_metadata"),
]
