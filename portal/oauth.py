"""The portal as OAuth2 authorization server for the client-credentials grant (RFC 6749 §4.4), on Authlib.

* ``POST /oauth/token`` authenticates the client (``client_secret_basic`` or ``client_secret_post``) and issues a
  signed JWT access token (RFC 9068: ``iss`` the portal's public URL, ``aud`` :data:`GATEWAY_AUDIENCE`, ``sub`` and
  ``client_id`` the client id, ``exp``, ``iat``, ``jti``, ``scope``; header ``kid``, ``typ: at+jwt``). Errors are
  RFC 6749 §5.2 JSON: ``invalid_client`` (401), ``unsupported_grant_type``, ``invalid_scope``, ...
* Scopes are ``product:<name>`` for each product the client's application has an approved subscription to;
  without ``scope`` the token carries all of them.
* ``GET /.well-known/jwks.json`` publishes every active signing key. New tokens are signed with the newest one;
  after :func:`rotate_signing_key` the older keys stay published (tokens they signed keep verifying) until
  :func:`retire_signing_key`. Private keys are stored encrypted with :mod:`portal._crypto`.
* ``GET /.well-known/oauth-authorization-server`` is the RFC 8414 metadata.

The routes read the app's engine and settings from ``request.app.state.engine`` / ``request.app.state.settings``.
Authlib's server is synchronous, so each token request runs in the thread pool with its own database session.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import InsecureTransportError, InvalidScopeError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from portal._authlib import FormRequest
from portal._crypto import decrypt, encrypt
from portal.applications import find_oauth_client, verify_client_secret
from portal.audit import authorize_and_audit
from portal.authorization import Actor, Target
from portal.db import session_scope
from portal.errors import Invalid, NotFound
from portal.models import Credential, Product, SigningKey, Subscription, SubscriptionState, utcnow
from portal.settings import Mode, Settings

__all__ = [
    "ALGORITHMS",
    "GATEWAY_AUDIENCE",
    "JWKS_PATH",
    "TOKEN_PATH",
    "ensure_signing_key",
    "issuer",
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
        private_key_encrypted=encrypt(settings.auth.secret_key.get_secret_value(), pem),
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
    pem = decrypt(settings.auth.secret_key.get_secret_value(), row.private_key_encrypted)
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
        return " ".join(sorted(self.allowed_scopes))


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
        requested = (self.request.payload.scope or "").split()
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
        self.request.scope = " ".join(requested) if requested else client.get_allowed_scope(None)

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
    """One per token request, bound to that request's database session."""

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__()
        self.session = session
        key_row = ensure_signing_key(session, settings)
        self.register_token_generator(
            "default", _TokenGenerator(_private_key(key_row, settings), key_row.algorithm, settings)
        )
        self.register_grant(_ClientCredentialsGrant)

    def query_client(self, client_id: str) -> _Client | None:
        credential = find_oauth_client(self.session, client_id)
        if credential is None:
            return None
        return _Client(credential, _allowed_scopes(self.session, credential))

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        # The token is a self-contained JWT: nothing to store, but record that the client is in use.
        credential: Credential = request.client.credential
        credential.last_used_at = utcnow()
        self.session.add(credential)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict) and body.get("error") in _DESCRIPTIONS:
            body = {**body, "error_description": _DESCRIPTIONS[body["error"]]}
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


def _issue(engine: Engine, settings: Settings, request: FormRequest) -> Response:
    with session_scope(engine) as session:
        response: Response = _Server(session, settings).create_token_response(request)
        if response.status_code != 200:
            session.rollback()  # an error changes nothing (not even a freshly created first key)
        return response


# --- routes ------------------------------------------------------------------------------------------------------


def _state(request: Request) -> tuple[Engine, Settings]:
    return request.app.state.engine, request.app.state.settings


async def token_endpoint(request: Request) -> Response:
    engine, settings = _state(request)
    form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    query = list(request.query_params.multi_items())
    # Authlib refuses a token endpoint without TLS (RFC 6749 §3.1), except on loopback. The URI it checks is the
    # public one (behind a TLS-terminating proxy the ASGI URL is http). Development mode serves plain HTTP on any
    # interface (containers, demos on a LAN), so there the check is waived.
    uri = f"{issuer(settings)}{TOKEN_PATH}"
    if settings.mode is Mode.DEVELOPMENT and uri.startswith("http://"):
        uri = "https://" + uri.removeprefix("http://")
    try:
        token_request = FormRequest("POST", uri, request.headers, query, form)
    except InsecureTransportError as error:
        status, body, headers = error()
        return JSONResponse(dict(body), status_code=status, headers=dict(headers))
    return await run_in_threadpool(_issue, engine, settings, token_request)


def _jwks(engine: Engine, settings: Settings) -> dict[str, Any]:
    with session_scope(engine) as session:
        ensure_signing_key(session, settings)
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
