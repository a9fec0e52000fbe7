"""A real OpenID Connect provider for the login tests, built on Authlib's server side.

It serves the authorization-code flow (discovery document, JWKS, authorize, token, userinfo) over real HTTP on a
free loopback port, from a uvicorn server in a thread. The one thing it fakes is the person: the authorization
endpoint consents at once for a fixed test user, because no browser or human can log in here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal._authlib import FormRequest
from tests._serving import serving

__all__ = ["OIDCProvider", "ProviderUser", "running_provider"]


@dataclass(frozen=True)
class ProviderUser:
    sub: str = "oidc-user-1"
    email: str = "ada@example.test"
    name: str = "Ada Lovelace"
    preferred_username: str = "ada"


@dataclass
class _Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    user: ProviderUser
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    def is_expired(self) -> bool:
        return time.time() - self.auth_time > 300


def _request(request: Request, form: list[tuple[str, str]]) -> FormRequest:
    return FormRequest(request.method, str(request.url), request.headers, parse_qsl(request.url.query), form)


class OIDCProvider:
    """The provider's state: one registered client, one user, one RSA signing key, codes and tokens in memory."""

    def __init__(self, *, user: ProviderUser | None = None) -> None:
        self.user = user or ProviderUser()
        self.issuer = ""  # set once the port is known
        self.client = _Client("loom-portal", secrets.token_urlsafe(24), [])
        self.key = RSAKey.generate_key(2048, parameters={"kid": "provider-key-1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, _Code] = {}
        self.access_tokens: dict[str, ProviderUser] = {}
        self.nonces: set[str] = set()
        # Claims to force into the next ID tokens (e.g. a wrong ``aud``), to test that the client checks them.
        self.id_token_overrides: dict[str, Any] = {}
        self.server = self._build_server()

    def _build_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> _Client | None:
                return provider.client if client_id == provider.client.client_id else None

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                provider.access_tokens[token["access_token"]] = request.user

            def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
                return request

            def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
                if isinstance(body, dict):
                    return JSONResponse(body, status_code=status, headers=dict(headers))
                return Response(body, status_code=status, headers=dict(headers))

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                return None

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                nonce = request.payload.data.get("nonce")
                if nonce:
                    provider.nonces.add(nonce)
                provider.codes[code] = _Code(
                    code, request.client.client_id, request.payload.redirect_uri, request.scope, nonce, request.user
                )

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                item = provider.codes.get(code)
                if item and item.client_id == client.client_id and not item.is_expired():
                    return item
                return None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> ProviderUser:
                return authorization_code.user

        class Code(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return nonce in provider.nonces and any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client: _Client) -> KeySet:
                return KeySet([provider.key])

            def get_client_claims(self, client: _Client) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.client_id], **provider.id_token_overrides}

            def generate_user_info(self, user: ProviderUser, scope: str) -> UserInfo:
                return provider.user_info(user, scope)

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator("default", _bearer_generator)
        server.register_grant(CodeGrant, [Code(require_nonce=False)])
        return server

    def user_info(self, user: ProviderUser, scope: str) -> UserInfo:
        info = UserInfo(sub=user.sub)
        if "profile" in scope.split():
            info["name"] = user.name
            info["preferred_username"] = user.preferred_username
        if "email" in scope.split():
            info["email"] = user.email
            info["email_verified"] = True
        return info

    # --- HTTP endpoints -------------------------------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        oauth_request = _request(request, [])
        try:
            grant = self.server.get_consent_grant(oauth_request, end_user=self.user)
        except OAuth2Error as error:
            return JSONResponse(dict(error.get_body()), status_code=error.status_code)
        response: Response = self.server.create_authorization_response(oauth_request, grant_user=self.user, grant=grant)
        return response

    async def token(self, request: Request) -> Response:
        form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
        response: Response = self.server.create_token_response(_request(request, form))
        return response

    async def userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(dict(self.user_info(user, "openid email profile")))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/userinfo", self.userinfo),
            ]
        )


def _bearer_generator(
    grant_type: str,
    client: _Client,
    user: ProviderUser | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    return {"token_type": "Bearer", "access_token": secrets.token_urlsafe(32), "expires_in": 3600, "scope": scope}


@contextmanager
def running_provider(redirect_uri: str, *, user: ProviderUser | None = None) -> Iterator[OIDCProvider]:
    """Serve a provider on a free loopback port while the block runs; its client may redirect to ``redirect_uri``."""
    provider = OIDCProvider(user=user)
    provider.client.redirect_uris.append(redirect_uri)
    app = provider.app()  # reads provider.issuer per request, so it may be set once the port is known
    with serving(app, "the test OIDC provider", lifespan="off", ws="none", http="h11") as url:
        provider.issuer = url
        yield provider
