"""API key format and hashing; API key and OAuth2 JWT checks against a snapshot and a JWKS.

The JWKS is served by a small Starlette app reached through ``httpx.ASGITransport`` (the injected client seam).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stitcher.credentials import (
    AccessPolicy,
    JwksCache,
    NotSubscribed,
    Unauthenticated,
    generate_api_key,
    hash_api_key,
    parse_api_key,
)
from stitcher.snapshot import CredentialConfig, OAuthConfig, PlanConfig, Snapshot, SubscriptionConfig

ISSUER = "http://portal.test"
AUDIENCE = "loom-gateway"


class JwksServer:
    """Serves a key set that a test can rotate; counts requests."""

    def __init__(self) -> None:
        self.keys: list[ECKey] = [ECKey.generate_key("P-256", parameters={"kid": "k1"})]
        self.requests = 0

        async def jwks(request: Request) -> JSONResponse:
            self.requests += 1
            return JSONResponse(KeySet(list(self.keys)).as_dict(private=False))

        self.app = Starlette(routes=[Route("/jwks", jwks)])

    def token(self, key: ECKey, **claims: Any) -> str:
        body = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "client_id": "cid-1", **claims}
        return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)


def _snapshot() -> tuple[Snapshot, str, str]:
    key, prefix, digest = generate_api_key()
    revoked_key, rprefix, rdigest = generate_api_key()
    snapshot = Snapshot(
        plans=[PlanConfig(name="gold"), PlanConfig(name="keys-only", auth=["api_key"])],
        credentials=[
            CredentialConfig(id="c1", application="app", kind="api_key", prefix=prefix, key_hash=digest),
            CredentialConfig(
                id="c2", application="app", kind="api_key", prefix=rprefix, key_hash=rdigest, revoked=True
            ),
            CredentialConfig(id="c3", application="app", kind="oauth2_client", client_id="cid-1"),
            CredentialConfig(id="c4", application="other", kind="oauth2_client", client_id="cid-2"),
        ],
        subscriptions=[
            SubscriptionConfig(application="app", product="shop", plan="gold"),
            SubscriptionConfig(application="app", product="books", plan="keys-only"),
            SubscriptionConfig(application="other", product="shop", plan="gold", state="pending"),
        ],
        oauth=OAuthConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url="http://portal.test/jwks"),
    )
    return snapshot, key, revoked_key


def test_generated_keys_have_the_documented_shape() -> None:
    key, prefix, digest = generate_api_key()
    assert key.startswith(f"lk_{prefix}_")
    assert len(prefix) == 8 and prefix == prefix.lower()
    assert len(key) >= 3 + 8 + 1 + 43
    assert parse_api_key(key) == prefix
    assert digest == hash_api_key(key) and len(digest) == 64
    assert generate_api_key()[0] != key


@pytest.mark.parametrize("bad", ["", "lk_", "lk_ABCDEF12_" + "a" * 43, "xx_abcdef12_" + "a" * 43, "lk_abcdef12_short"])
def test_malformed_keys_are_refused(bad: str) -> None:
    with pytest.raises(Unauthenticated, match="malformed API key"):
        parse_api_key(bad)


async def test_api_keys() -> None:
    snapshot, key, revoked_key = _snapshot()
    policy = AccessPolicy(snapshot)
    principal = await policy.authenticate({"x-api-key": key}, "shop")
    assert (principal.application, principal.credential_id, principal.kind) == ("app", "c1", "api_key")
    assert principal.plan is not None and principal.plan.name == "gold"
    with pytest.raises(Unauthenticated, match="needs a credential"):
        await policy.authenticate({}, "shop")
    with pytest.raises(Unauthenticated, match="unknown API key"):
        await policy.authenticate({"x-api-key": key[:-4] + "AAAA"}, "shop")
    with pytest.raises(Unauthenticated, match="revoked"):
        await policy.authenticate({"x-api-key": revoked_key}, "shop")
    with pytest.raises(NotSubscribed, match="no approved subscription"):
        await policy.authenticate({"x-api-key": key}, "weather")


async def test_bearer_tokens_with_key_rotation() -> None:
    server = JwksServer()
    snapshot, _, _ = _snapshot()
    clock = [0.0]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app)) as http:
        jwks = JwksCache(http, "http://portal.test/jwks", ttl=300, min_refetch_seconds=5, clock=lambda: clock[0])
        policy = AccessPolicy(snapshot, jwks)
        old = server.keys[0]
        principal = await policy.authenticate({"authorization": f"Bearer {server.token(old)}"}, "shop")
        assert (principal.application, principal.kind) == ("app", "oauth2_client")
        await policy.authenticate({"authorization": f"bearer {server.token(old)}"}, "shop")
        assert server.requests == 1  # cached

        # The portal rotates its key: a token with the new kid makes the gateway fetch the JWKS again.
        new = ECKey.generate_key("P-256", parameters={"kid": "k2"})
        server.keys = [new]
        clock[0] = 10
        await policy.authenticate({"authorization": f"Bearer {server.token(new)}"}, "shop")
        assert server.requests == 2

        # An unknown kid right after that does not refetch (at most once per min_refetch_seconds).
        stranger = ECKey.generate_key("P-256", parameters={"kid": "k3"})
        with pytest.raises(Unauthenticated, match="key the portal does not publish"):
            await policy.authenticate({"authorization": f"Bearer {server.token(stranger)}"}, "shop")
        assert server.requests == 2

        bearer = {"authorization": f"Bearer {server.token(new, exp=int(time.time()) - 10)}"}
        with pytest.raises(Unauthenticated, match="expired"):
            await policy.authenticate(bearer, "shop")
        with pytest.raises(Unauthenticated, match="iss"):
            await policy.authenticate({"authorization": f"Bearer {server.token(new, iss='http://evil')}"}, "shop")
        with pytest.raises(Unauthenticated, match="aud"):
            await policy.authenticate({"authorization": f"Bearer {server.token(new, aud='other')}"}, "shop")
        forged = server.token(ECKey.generate_key("P-256", parameters={"kid": "k2"}))
        with pytest.raises(Unauthenticated) as forged_info:
            await policy.authenticate({"authorization": f"Bearer {forged}"}, "shop")
        # it says what is wrong (it read "invalid bearer token: bad_signature: ", a code and an empty reason)
        assert str(forged_info.value) == (
            "invalid bearer token: its signature does not verify with the portal's keys; request a new one"
        )
        with pytest.raises(
            Unauthenticated, match="that is an API key, not an OAuth2 access token: send it in the x-api-key"
        ):
            await policy.authenticate({"authorization": f"Bearer {generate_api_key()[0]}"}, "shop")
        with pytest.raises(
            Unauthenticated, match="that is a personal access token, which is for the portal's admin API"
        ):
            await policy.authenticate({"authorization": "Bearer lpat_0123456789ab_" + "x" * 43}, "shop")
        with pytest.raises(Unauthenticated) as garbage:
            await policy.authenticate({"authorization": "Bearer garbage"}, "shop")
        assert str(garbage.value) == (
            "invalid bearer token: it is not a signed JWT (Invalid JSON Web Signature); send the access_token "
            "the portal's token endpoint issued"
        )
        with pytest.raises(Unauthenticated, match="unknown OAuth2 client"):
            await policy.authenticate({"authorization": f"Bearer {server.token(new, client_id='nobody')}"}, "shop")
        # Valid token, but the subscription is still pending: 403.
        with pytest.raises(NotSubscribed) as info:
            await policy.authenticate({"authorization": f"Bearer {server.token(new, client_id='cid-2')}"}, "shop")
        assert info.value.status == 403
        # Valid token, but the plan accepts API keys only.
        with pytest.raises(NotSubscribed, match="does not accept oauth2_client"):
            await policy.authenticate({"authorization": f"Bearer {server.token(new)}"}, "books")


async def test_bearer_tokens_are_refused_without_an_issuer() -> None:
    snapshot, _, _ = _snapshot()
    policy = AccessPolicy(snapshot.model_copy(update={"oauth": None}))
    with pytest.raises(Unauthenticated, match="no OAuth2 issuer"):
        await policy.authenticate({"authorization": "Bearer x.y.z"}, "shop")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """Signed by hand: joserfc itself refuses to make an HMAC key of a public key."""
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def test_forged_algorithms_and_key_ids_are_refused() -> None:
    """Classic JWT forgeries: ``alg: none``, HS256 keyed with the portal's public key (which anyone can fetch), and
    a ``kid`` that is a path or SQL; each is refused, and a genuine token still passes."""
    server = JwksServer()
    snapshot, _, _ = _snapshot()
    key = server.keys[0]
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "client_id": "cid-1"}
    public_pem = key.as_pem(private=False)
    forged = [
        f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims)}.",
        _hs256({"alg": "HS256", "kid": "k1"}, claims, public_pem),
        jwt.encode({"alg": "ES256", "kid": "../../../dev/null"}, claims, key),
        jwt.encode({"alg": "ES256", "kid": "k1' OR '1'='1"}, claims, ECKey.generate_key("P-256")),
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app)) as http:
        policy = AccessPolicy(snapshot, JwksCache(http, "http://portal.test/jwks", min_refetch_seconds=0))
        for token in forged:
            with pytest.raises(Unauthenticated):
                await policy.authenticate({"authorization": f"Bearer {token}"}, "shop")
        genuine = await policy.authenticate({"authorization": f"Bearer {server.token(key)}"}, "shop")
        assert genuine.credential_id == "c3"


async def test_a_tokens_scope_is_enforced_by_the_gateway() -> None:
    """Issue 6: a token asked for product:books only must not call shop, though its application is subscribed."""
    server = JwksServer()
    snapshot, _, _ = _snapshot()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app)) as http:
        policy = AccessPolicy(snapshot, JwksCache(http, "http://portal.test/jwks"))
        key = server.keys[0]

        def bearer(**claims: Any) -> dict[str, str]:
            return {"authorization": f"Bearer {server.token(key, **claims)}"}

        assert (await policy.authenticate(bearer(scope="product:shop"), "shop")).application == "app"
        assert (await policy.authenticate(bearer(), "shop")).application == "app"  # no scope: subscriptions alone
        with pytest.raises(NotSubscribed, match=r"scope \(product:books\) does not cover product 'shop'"):
            await policy.authenticate(bearer(scope="product:books"), "shop")
        with pytest.raises(NotSubscribed, match=r"scope \(nothing\)"):
            await policy.authenticate(bearer(scope=""), "shop")
        with pytest.raises(Unauthenticated, match="scope claim is not a space-separated string"):
            await policy.authenticate(bearer(scope=["product:shop"]), "shop")


async def test_a_credential_is_refused_from_the_instant_it_expires() -> None:
    """The portal marks an expired credential revoked only at its next rebuild (nothing commits when a credential
    expires): the gateway holds each credential's expiry and refuses it to the second by its own clock."""
    snapshot, key, _ = _snapshot()
    expiry = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    credentials = [c.model_copy(update={"expires_at": expiry}) if c.id == "c1" else c for c in snapshot.credentials]
    clock = [expiry - timedelta(seconds=1)]
    policy = AccessPolicy(snapshot.model_copy(update={"credentials": credentials}), now=lambda: clock[0])
    assert (await policy.authenticate({"x-api-key": key}, "shop")).credential_id == "c1"
    clock[0] = expiry
    with pytest.raises(Unauthenticated, match=r"credential c1 expired at 2026-12-04T12:00:00\+00:00; create a new"):
        await policy.authenticate({"x-api-key": key}, "shop")


def test_an_expiry_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        CredentialConfig(id="c", application="a", kind="api_key", expires_at=datetime(2026, 12, 4, 12, 0))
