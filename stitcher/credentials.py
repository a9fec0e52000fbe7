"""Consumer credentials: the API key format the portal issues, and how the gateway checks keys and OAuth2 tokens.

API keys look like ``lk_<prefix>_<secret>``: an 8-character lowercase hex prefix (stored in clear, for lookup and
for people to recognise a key) and a secret of 32 random bytes, URL-safe base64. The portal stores only the prefix
and :func:`hash_api_key` of the whole key. Keys are high-entropy, so one SHA-256 is the right hash (a slow password
hash would add nothing but latency to every request); the gateway finds candidates by prefix and compares hashes
in constant time.

OAuth2 client-credentials tokens are JWTs signed by the portal. The gateway checks them against the portal's JWKS
(fetched with an injected ``httpx.AsyncClient``, cached for a TTL, fetched again when a token names an unknown
``kid`` so key rotation needs no restart), and checks ``exp``, ``iss`` and ``aud``. The client is named by the
``client_id`` claim (RFC 9068), else ``azp``, else ``sub``.

A missing, malformed, unknown, revoked or expired credential is :class:`Unauthenticated` (401); a valid one whose
application has no approved subscription to the product, or whose plan does not accept that kind of credential,
is :class:`NotSubscribed` (403).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import BadSignatureError, DecodeError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from stitcher.errors import StitcherError
from stitcher.snapshot import CredentialConfig, CredentialKind, OAuthConfig, PlanConfig, Snapshot

__all__ = [
    "API_KEY_HEADER",
    "AccessPolicy",
    "CredentialError",
    "JwksCache",
    "NotSubscribed",
    "Principal",
    "Unauthenticated",
    "UnknownCredential",
    "generate_api_key",
    "hash_api_key",
    "parse_api_key",
]

API_KEY_HEADER = "x-api-key"
_KEY_RE = re.compile(r"^lk_([0-9a-z]{8})_([A-Za-z0-9_-]{43,})$")
_JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class CredentialError(StitcherError):
    """A request's credential was refused; ``status`` is the HTTP status to answer with."""

    status = 401
    code = "UNAUTHENTICATED"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(CredentialError):
    """No usable credential: missing, malformed, unknown, revoked or expired (401)."""


class UnknownCredential(Unauthenticated):
    """A well-formed API key or OAuth2 client that this snapshot does not hold: perhaps one created a moment ago."""


class NotSubscribed(CredentialError):
    """A valid credential that may not call this product (403)."""

    status = 403
    code = "FORBIDDEN"


def generate_api_key() -> tuple[str, str, str]:
    """A new API key: ``(full key, prefix, hash)``. Show the full key once; store only the prefix and hash."""
    prefix = secrets.token_hex(4)
    key = f"lk_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of the whole key (see the module docstring for why a fast hash is right here)."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_key(key: str) -> str:
    """The prefix of a well-formed key; :class:`Unauthenticated` for anything that is not one of our keys."""
    match = _KEY_RE.match(key.strip())
    if match is None:
        raise Unauthenticated("malformed API key: expected lk_<8 hex characters>_<secret>, as the portal issued it")
    return match.group(1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the application, through which credential, under which plan (None: public product)."""

    application: str
    credential_id: str
    kind: CredentialKind
    plan: PlanConfig | None


class JwksCache:
    """The portal's JWKS, cached for ``ttl`` seconds and fetched again on an unknown ``kid``.

    A refetch for an unknown ``kid`` happens at most once per ``min_refetch_seconds``, so tokens with made-up key
    ids cannot make the gateway hammer the portal.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        ttl: float = 300.0,
        min_refetch_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self.url = url
        self._ttl = ttl
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._keys: KeySet | None = None
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the JWKS was fetched (observable in tests and metrics)

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        if self._needs_fetch(refresh):
            async with self._lock:
                if self._needs_fetch(refresh):  # another request may have fetched while we waited
                    await self._fetch()
        if self._keys is None:
            raise Unauthenticated(f"cannot check bearer tokens: the JWKS at {self.url} could not be loaded")
        return self._keys

    def _needs_fetch(self, refresh: bool) -> bool:
        age = self._clock() - self._attempted_at
        if self._keys is None or refresh:
            return age >= self._min_refetch
        return age >= self._ttl

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            response = await self._http.get(self.url, headers={"accept": "application/json"})
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError):
            return  # keep the keys we have (the portal may be restarting); none yet: key_set() says so
        self.fetches += 1


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AccessPolicy:
    """Who may call which product, built once per snapshot: lookups by key prefix, client id and subscription."""

    def __init__(
        self, snapshot: Snapshot, jwks: JwksCache | None = None, *, now: Callable[[], datetime] = _utcnow
    ) -> None:
        self._now = now  # the wall clock credentials expire by
        self._by_prefix: dict[str, list[CredentialConfig]] = {}
        self._by_client_id: dict[str, CredentialConfig] = {}
        for credential in snapshot.credentials:
            if credential.kind == "api_key" and credential.prefix and credential.key_hash:
                self._by_prefix.setdefault(credential.prefix, []).append(credential)
            elif credential.kind == "oauth2_client" and credential.client_id:
                self._by_client_id[credential.client_id] = credential
        self._plans = {plan.name: plan for plan in snapshot.plans}
        self._subscriptions: dict[tuple[str, str], str] = {}
        self._not_approved: dict[tuple[str, str], str] = {}  # pending, rejected or revoked: said so on refusal
        for sub in snapshot.subscriptions:
            if sub.state == "approved":
                self._subscriptions[(sub.application, sub.product)] = sub.plan
            else:
                self._not_approved[(sub.application, sub.product)] = sub.state
        self._oauth: OAuthConfig | None = snapshot.oauth
        self._jwks = jwks

    async def authenticate(self, headers: Mapping[str, str], product: str) -> Principal:
        """The caller of ``product``, or :class:`Unauthenticated` / :class:`NotSubscribed`."""
        api_key = headers.get(API_KEY_HEADER)
        authorization = headers.get("authorization")
        if api_key:
            credential = self._api_key_credential(api_key)
        elif authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            if _KEY_RE.match(token):  # a common mix-up: say where an API key goes rather than "not a JWT"
                raise Unauthenticated(
                    f"that is an API key, not an OAuth2 access token: send it in the {API_KEY_HEADER} header"
                )
            if token.startswith("lpat_"):
                raise Unauthenticated(
                    "that is a personal access token, which is for the portal's admin API; a product takes an API "
                    f"key in the {API_KEY_HEADER} header or an OAuth2 access token from the portal's token endpoint"
                )
            credential, scope = await self._bearer_credential(token)
            if scope is not None and f"product:{product}" not in scope:
                # A token asked for narrower access (RFC 6749 scope) is held to it, subscriptions or not.
                granted = " ".join(sorted(scope)) or "nothing"
                raise NotSubscribed(
                    f"this access token's scope ({granted}) does not cover product {product!r}: request a token "
                    f"with scope product:{product}, or without a scope"
                )
        else:
            raise Unauthenticated(
                f"product {product!r} needs a credential: send an API key in the {API_KEY_HEADER} header "
                "or an OAuth2 access token as 'Authorization: Bearer <token>'"
            )
        if credential.revoked:
            raise Unauthenticated(f"credential {credential.id} has been revoked; create a new one in the portal")
        if credential.expires_at is not None and credential.expires_at <= self._now():
            raise Unauthenticated(
                f"credential {credential.id} expired at {credential.expires_at.isoformat(timespec='seconds')}; "
                "create a new one in the portal"
            )
        plan_name = self._subscriptions.get((credential.application, product))
        if plan_name is None:
            state = self._not_approved.get((credential.application, product))
            if state == "pending":
                raise NotSubscribed(
                    f"application {credential.application!r} has no approved subscription to product {product!r} "
                    "yet: its request awaits the product team's approval"
                )
            was = f" (its subscription was {state})" if state else ""
            raise NotSubscribed(
                f"application {credential.application!r} has no approved subscription to product {product!r}{was}: "
                "request one to a plan of the product in the portal (or the admin API's requestSubscription), and "
                "call again once it is approved"
            )
        plan = self._plans.get(plan_name)
        if plan is None:
            raise NotSubscribed(f"the plan {plan_name!r} of this subscription is not published to the gateway")
        if credential.kind not in plan.auth:
            raise NotSubscribed(
                f"plan {plan.name!r} does not accept {credential.kind} credentials; use one of: {', '.join(plan.auth)}"
            )
        return Principal(credential.application, credential.id, credential.kind, plan)

    def _api_key_credential(self, key: str) -> CredentialConfig:
        prefix = parse_api_key(key)
        digest = hash_api_key(key.strip())
        for candidate in self._by_prefix.get(prefix, ()):
            if hmac.compare_digest(candidate.key_hash or "", digest):
                return candidate
        raise UnknownCredential(f"unknown API key lk_{prefix}_…; check the key, or create one in the portal")

    async def _bearer_credential(self, token: str) -> tuple[CredentialConfig, frozenset[str] | None]:
        """The client's credential, and the token's granted scopes (None: the token has no scope claim)."""
        if self._oauth is None or self._jwks is None:
            raise Unauthenticated("this gateway accepts no bearer tokens (no OAuth2 issuer is configured)")
        claims = await self._verified_claims(token, self._oauth, self._jwks)
        client_id = claims.get("client_id") or claims.get("azp") or claims.get("sub")
        if not isinstance(client_id, str):
            raise Unauthenticated("the bearer token names no client (client_id, azp or sub claim)")
        credential = self._by_client_id.get(client_id)
        if credential is None:
            raise UnknownCredential(f"unknown OAuth2 client {client_id!r}")
        scope = claims.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise Unauthenticated("the bearer token's scope claim is not a space-separated string")
        return credential, (frozenset(scope.split()) if scope is not None else None)

    @staticmethod
    async def _verified_claims(token: str, oauth: OAuthConfig, jwks: JwksCache) -> dict[str, Any]:
        try:
            try:
                decoded = jwt.decode(token, await jwks.key_set(), algorithms=_JWT_ALGORITHMS)
            except InvalidKeyIdError:
                # Unknown kid: the portal may have rotated its keys since we fetched them.
                decoded = jwt.decode(token, await jwks.key_set(refresh=True), algorithms=_JWT_ALGORITHMS)
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": oauth.issuer},
                aud={"essential": True, "value": oauth.audience},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except ExpiredTokenError as exc:
            raise Unauthenticated("the bearer token has expired; request a new one from the token endpoint") from exc
        except InvalidKeyIdError as exc:
            raise Unauthenticated("the bearer token was signed with a key the portal does not publish") from exc
        except BadSignatureError as exc:
            raise Unauthenticated(
                "invalid bearer token: its signature does not verify with the portal's keys; request a new one"
            ) from exc
        except DecodeError as exc:
            raise Unauthenticated(
                f"invalid bearer token: it is not a signed JWT ({exc.description or exc.error}); send the "
                "access_token the portal's token endpoint issued"
            ) from exc
        except JoseError as exc:  # str(exc) is "<code>: <description>", and the description may be empty
            reason = f"{exc.error}: {exc.description}" if exc.description else exc.error
            raise Unauthenticated(f"invalid bearer token ({reason})") from exc
        except ValueError as exc:
            raise Unauthenticated(f"invalid bearer token: {exc}") from exc
        return dict(decoded.claims)
