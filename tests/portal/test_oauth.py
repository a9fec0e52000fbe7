"""The OAuth2 client-credentials token endpoint, signing-key rotation and the JWKS, through a real ASGI app.

Tokens are verified as a resource server would: with Authlib's RFC 9068 validator against the JWKS the app serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc import jws, jwt
from joserfc.jwk import KeySet
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal import oauth
from portal._password_gate import PasswordGate
from portal.app import create_app
from portal.applications import IssuedCredential, create_application, create_oauth_client, revoke_credential
from portal.authentication import actor_for_user
from portal.authorization import Actor
from portal.errors import Forbidden, Invalid
from portal.models import AuditEvent, Role, SigningKey, SubscriptionState
from portal.settings import PUBLISHED_DEVELOPMENT_SECRET, Mode, ServerSettings, Settings
from stitcher.credentials import AccessPolicy, JwksCache, Unauthenticated as GatewayUnauthenticated
from stitcher.snapshot import CredentialConfig, OAuthConfig, PlanConfig, Snapshot, SubscriptionConfig
from tests.factories import make_plan, make_product, make_subscription, make_team, make_user

SYSTEM = Actor.system("test")


@pytest.fixture
def oauth_client(session: Session) -> IssuedCredential:
    """An OAuth2 client whose application has an approved subscription to product 'shop' (and a requested one)."""
    owner = make_user(session)
    application = create_application(session, SYSTEM, name="checkout", owner=owner)
    plan = make_plan(session, auth_kinds=["oauth2"])
    make_subscription(session, application, make_product(session, "shop"), plan, state=SubscriptionState.APPROVED)
    make_subscription(session, application, make_product(session, "pending"), plan)
    issued = create_oauth_client(session, SYSTEM, application, name="ci")
    session.commit()
    return issued


class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
    def __init__(self, jwks: dict[str, Any], settings: Settings) -> None:
        super().__init__(issuer=oauth.issuer(settings), resource_server=oauth.GATEWAY_AUDIENCE)
        self.keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]

    def get_jwks(self) -> KeySet:
        return self.keys


async def verify(client: httpx.AsyncClient, settings: Settings, token: str) -> dict[str, Any]:
    """Check a token against the JWKS served now, as a gateway would; raises Authlib's InvalidTokenError."""
    jwks = (await client.get(oauth.JWKS_PATH)).json()
    validator = Validator(jwks, settings)
    claims = validator.authenticate_token(token)
    validator.validate_token(claims, scopes=None, request=None)
    return dict(claims)


async def get_token(client: httpx.AsyncClient, issued: IssuedCredential, **form: str) -> httpx.Response:
    assert issued.client_id is not None
    return await client.post(
        oauth.TOKEN_PATH, data={"grant_type": "client_credentials", **form}, auth=(issued.client_id, issued.secret)
    )


async def test_client_secret_basic_issues_a_signed_jwt(
    client: httpx.AsyncClient, settings: Settings, oauth_client: IssuedCredential, session: Session
) -> None:
    response = await get_token(client, oauth_client)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == settings.auth.access_token_ttl_seconds
    assert "scope" not in body  # none asked for: no scope claim, the gateway checks the subscriptions

    claims = await verify(client, settings, body["access_token"])
    assert "scope" not in claims
    assert claims["iss"] == settings.public_url and claims["aud"] == oauth.GATEWAY_AUDIENCE
    assert claims["sub"] == claims["client_id"] == oauth_client.client_id
    assert claims["exp"] - claims["iat"] == settings.auth.access_token_ttl_seconds and claims["jti"]
    header = jwt.decode(body["access_token"], KeySet.import_key_set((await client.get(oauth.JWKS_PATH)).json())).header
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]
    session.refresh(oauth_client.row)
    assert oauth_client.row.last_used_at is not None


async def test_client_secret_post_and_an_explicit_scope(
    client: httpx.AsyncClient, settings: Settings, oauth_client: IssuedCredential
) -> None:
    assert oauth_client.client_id is not None
    form = {
        "grant_type": "client_credentials",
        "client_id": oauth_client.client_id,
        "client_secret": oauth_client.secret,
        "scope": "product:shop",
    }
    response = await client.post(oauth.TOKEN_PATH, data=form)
    assert response.status_code == 200, response.text
    assert (await verify(client, settings, response.json()["access_token"]))["scope"] == "product:shop"


async def test_a_client_with_no_subscription_gets_a_token_without_scope(
    client: httpx.AsyncClient, settings: Settings, session: Session
) -> None:
    application = create_application(session, SYSTEM, name="lonely", owner=make_user(session))
    issued = create_oauth_client(session, SYSTEM, application)
    session.commit()
    response = await get_token(client, issued)
    assert response.status_code == 200 and "scope" not in response.json()
    assert "scope" not in await verify(client, settings, response.json()["access_token"])


async def test_errors_follow_rfc_6749(client: httpx.AsyncClient, oauth_client: IssuedCredential) -> None:
    assert oauth_client.client_id is not None
    good = (oauth_client.client_id, oauth_client.secret)
    grant = {"grant_type": "client_credentials"}
    cases: list[tuple[str, tuple[str, str] | None, dict[str, str], int, str]] = [
        ("unknown client", ("lc_000000000000000000000000", oauth_client.secret), grant, 401, "invalid_client"),
        ("wrong secret", (oauth_client.client_id, oauth_client.secret + "x"), grant, 401, "invalid_client"),
        ("no client authentication", None, grant, 401, "invalid_client"),
        ("password grant", good, {"grant_type": "password", "username": "u"}, 400, "unsupported_grant_type"),
        ("not approved", good, {**grant, "scope": "product:pending"}, 400, "invalid_scope"),
        ("unknown scopes", good, {**grant, "scope": "product:nope admin"}, 400, "invalid_scope"),
    ]
    for name, credentials, form, status, error in cases:
        response = await client.post(oauth.TOKEN_PATH, data=form, auth=credentials or httpx.USE_CLIENT_DEFAULT)
        assert (response.status_code, response.json().get("error")) == (status, error), name
        assert "access_token" not in response.json(), name
        if status == 401 and credentials:
            assert response.headers["www-authenticate"].startswith("Basic"), name
        if error == "invalid_client":  # not Authlib's "The client cannot authenticate with methods: [...]"
            assert response.json()["error_description"].startswith("unknown or revoked client_id, or wrong"), name
        if error == "unsupported_grant_type":
            assert "grant_type=client_credentials only" in response.json()["error_description"], name


async def test_a_revoked_client_gets_no_token(
    client: httpx.AsyncClient, oauth_client: IssuedCredential, session: Session
) -> None:
    assert oauth_client.row.id is not None
    revoke_credential(session, SYSTEM, oauth_client.row.id)
    session.commit()
    response = await get_token(client, oauth_client)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_rotated_keys_still_verify_old_tokens_until_retired(
    client: httpx.AsyncClient, settings: Settings, oauth_client: IssuedCredential, session: Session
) -> None:
    first = (await get_token(client, oauth_client)).json()["access_token"]
    first_kid = jws.extract_compact(first.encode()).headers()["kid"]

    rotated = oauth.rotate_signing_key(session, settings, SYSTEM, algorithm="ES256")
    session.commit()
    second = (await get_token(client, oauth_client)).json()["access_token"]
    header = jws.extract_compact(second.encode()).headers()
    assert (header["kid"], header["alg"]) == (rotated.kid, "ES256") and rotated.kid != first_kid

    jwks = (await client.get(oauth.JWKS_PATH)).json()
    assert {key["kid"] for key in jwks["keys"]} == {first_kid, rotated.kid}
    assert all("d" not in key for key in jwks["keys"])  # public halves only
    assert (await verify(client, settings, first))["client_id"] == oauth_client.client_id
    assert (await verify(client, settings, second))["client_id"] == oauth_client.client_id

    with pytest.raises(Invalid, match="rotate the key before retiring"):
        oauth.retire_signing_key(session, SYSTEM, rotated.kid)
    session.rollback()
    oauth.retire_signing_key(session, SYSTEM, first_kid)
    session.commit()
    assert [key["kid"] for key in (await client.get(oauth.JWKS_PATH)).json()["keys"]] == [rotated.kid]
    with pytest.raises(InvalidTokenError):
        await verify(client, settings, first)
    assert (await verify(client, settings, second))["sub"] == oauth_client.client_id


async def test_private_keys_are_encrypted_at_rest(
    client: httpx.AsyncClient, oauth_client: IssuedCredential, session: Session
) -> None:
    assert (await get_token(client, oauth_client)).status_code == 200
    (row,) = session.exec(select(SigningKey)).all()
    assert "PRIVATE KEY" not in row.private_key_encrypted and "d" not in row.public_jwk


def test_only_platform_admins_rotate_keys_and_denials_are_audited(
    session: Session, settings: Settings, engine: Engine
) -> None:
    team = make_team(session)
    team_admin = actor_for_user(session, make_user(session, role=Role.TEAM_ADMIN, team=team))
    session.commit()
    with pytest.raises(Forbidden):
        oauth.rotate_signing_key(session, settings, team_admin)
    assert session.exec(select(SigningKey)).all() == []
    with Session(engine) as fresh:
        events = fresh.exec(select(AuditEvent).where(col(AuditEvent.action) == "signing_key.rotate")).all()
    assert [(e.actor, e.outcome) for e in events] == [(team_admin.name, "denied")]


async def test_authorization_server_metadata(client: httpx.AsyncClient, settings: Settings) -> None:
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == settings.public_url
    assert metadata["token_endpoint"] == f"{settings.public_url}{oauth.TOKEN_PATH}"
    assert metadata["jwks_uri"] == f"{settings.public_url}{oauth.JWKS_PATH}"
    assert metadata["grant_types_supported"] == ["client_credentials"]


async def test_the_gateway_accepts_the_tokens_across_a_key_rotation(
    client: httpx.AsyncClient, settings: Settings, oauth_client: IssuedCredential, session: Session
) -> None:
    """The gateway's own checker (stitcher.credentials) against this portal's JWKS, issuer and audience."""
    assert oauth_client.client_id is not None
    snapshot = Snapshot(
        plans=[PlanConfig(name="gold", auth=["oauth2_client"])],
        credentials=[
            CredentialConfig(id="1", application="checkout", kind="oauth2_client", client_id=oauth_client.client_id)
        ],
        subscriptions=[SubscriptionConfig(application="checkout", product="shop", plan="gold")],
        oauth=OAuthConfig(
            issuer=oauth.issuer(settings),
            audience=oauth.GATEWAY_AUDIENCE,
            jwks_url=f"http://testserver{oauth.JWKS_PATH}",
        ),
    )
    jwks = JwksCache(client, f"http://testserver{oauth.JWKS_PATH}", min_refetch_seconds=0)
    policy = AccessPolicy(snapshot, jwks)
    first = (await get_token(client, oauth_client)).json()["access_token"]
    principal = await policy.authenticate({"authorization": f"Bearer {first}"}, "shop")
    assert (principal.application, principal.kind) == ("checkout", "oauth2_client")

    oauth.rotate_signing_key(session, settings, SYSTEM)
    session.commit()
    second = (await get_token(client, oauth_client)).json()["access_token"]
    assert (await policy.authenticate({"authorization": f"Bearer {second}"}, "shop")).application == "checkout"
    assert jwks.fetches == 2  # the unknown kid made the gateway fetch the JWKS again
    with pytest.raises(GatewayUnauthenticated):
        await policy.authenticate({"authorization": f"Bearer {second[:-4]}AAAA"}, "shop")


async def test_outside_development_the_token_endpoint_requires_tls(
    engine: Engine, settings: Settings, oauth_client: IssuedCredential
) -> None:
    def public(url: str, mode: Mode) -> Settings:
        return settings.model_copy(
            update={
                "mode": mode,
                "auth": settings.auth.model_copy(update={"secret_key": SecretStr("p" * 40)}),
                "server": ServerSettings(public_url=url),
            }
        )

    expected = {
        ("http://portal.example", Mode.PRODUCTION): (400, "insecure_transport"),
        ("https://portal.example", Mode.PRODUCTION): (200, None),
        ("http://127.0.0.1:8080", Mode.PRODUCTION): (200, None),  # loopback needs no TLS
        ("http://0.0.0.0:8080", Mode.DEVELOPMENT): (200, None),
    }
    for (url, mode), (status, error) in expected.items():
        transport = httpx.ASGITransport(app=create_app(public(url, mode), engine=engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await get_token(client, oauth_client)
        assert (response.status_code, response.json().get("error")) == (status, error), url


async def test_a_requested_scope_is_honoured_not_widened(
    client: httpx.AsyncClient, settings: Settings, session: Session
) -> None:
    """Authlib asked the client for its allowed scope and got every approved product, whatever was requested."""
    application = create_application(session, SYSTEM, name="two-products", owner=make_user(session))
    plan = make_plan(session, auth_kinds=["oauth2"])
    for name in ("books", "films"):
        make_subscription(session, application, make_product(session, name), plan, state=SubscriptionState.APPROVED)
    issued = create_oauth_client(session, SYSTEM, application)
    session.commit()
    for requested, granted in (
        ("product:books", "product:books"),
        ("product:films product:books product:films", "product:films product:books"),
    ):
        response = await get_token(client, issued, scope=requested)
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == granted
        assert (await verify(client, settings, response.json()["access_token"]))["scope"] == granted
    for refused in ("product:books product:shop", "books", "product:"):
        response = await get_token(client, issued, scope=refused)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_scope"), refused


async def test_keys_encrypted_with_the_published_secret_are_replaced(
    client: httpx.AsyncClient, settings: Settings, oauth_client: IssuedCredential, session: Session, engine: Engine
) -> None:
    """Before keys were generated, signing keys were encrypted under the development default published in the
    source: whoever read the database could sign tokens. The first token request retires them and signs anew."""
    old = oauth._new_signing_key(session, settings.model_copy(update={"auth": _published(settings)}), "RS256")
    session.commit()
    response = await get_token(client, oauth_client)
    assert response.status_code == 200, response.text
    header = jws.extract_compact(response.json()["access_token"].encode()).headers()
    assert header["kid"] != old.kid
    jwks = (await client.get(oauth.JWKS_PATH)).json()
    assert [key["kid"] for key in jwks["keys"]] == [header["kid"]]  # the old key is no longer published
    with Session(engine) as fresh:
        events = fresh.exec(select(AuditEvent).where(col(AuditEvent.action) == "signing_key.rotate")).all()
    assert [(e.actor, e.summary["retired"]) for e in events] == [("system", [old.kid])]


def _published(settings: Settings) -> Any:
    """The auth settings of an installation that ran before keys were generated (bypassing today's refusal)."""
    return settings.auth.model_copy(update={"secret_key": SecretStr(PUBLISHED_DEVELOPMENT_SECRET)})


async def test_credentials_in_the_query_string_are_refused(
    client: httpx.AsyncClient, oauth_client: IssuedCredential
) -> None:
    assert oauth_client.client_id is not None
    for query in (
        {"client_secret": oauth_client.secret},
        {"client_id": oauth_client.client_id, "client_secret": oauth_client.secret},
    ):
        response = await client.post(oauth.TOKEN_PATH, params=query, data={"grant_type": "client_credentials"})
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        assert "HTTP Basic" in response.json()["error_description"] and "access_token" not in response.json()
    # other query parameters are not read at all: the form is the request
    ignored = await get_token(client, oauth_client, scope="product:shop")
    assert ignored.status_code == 200


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_oversized_token_request_is_refused_unread(
    client: httpx.AsyncClient, oauth_client: IssuedCredential, streamed: bool
) -> None:
    assert oauth_client.client_id is not None
    body = f"grant_type=client_credentials&client_id={oauth_client.client_id}&client_secret={'x' * 20_000}".encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await client.post(
        oauth.TOKEN_PATH,
        content=chunks() if streamed else body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413 and f"over {oauth.TOKEN_BODY_LIMIT} bytes" in response.text


async def test_failed_client_authentications_lock_the_client_and_are_audited_once(
    engine: Engine, settings: Settings, oauth_client: IssuedCredential, session: Session
) -> None:
    assert oauth_client.client_id is not None
    auth = settings.auth.model_copy(update={"token_max_failures_per_client": 3, "token_max_failures_per_address": 50})
    app = create_app(settings.model_copy(update={"auth": auth}), engine=engine)
    wrong = IssuedCredential(oauth_client.row, "wrong-secret")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        assert [(await get_token(client, wrong)).status_code for _ in range(3)] == [401, 401, 401]
        locked = await get_token(client, oauth_client)  # the right secret too, unchecked
        assert locked.status_code == 429 and locked.json()["error"] == "temporarily_unavailable"
        assert 290 <= int(locked.headers["retry-after"]) <= 300
        assert "too many failed client authentications" in locked.json()["error_description"]
        assert (await get_token(client, wrong)).status_code == 429
    with Session(engine) as fresh:
        events = fresh.exec(select(AuditEvent).where(col(AuditEvent.action) == "oauth.token.lockout")).all()
    assert [(e.target_kind, e.target_name, e.outcome, e.summary["failures"]) for e in events] == [
        ("client", oauth_client.client_id.lower(), "denied", 3)
    ]


async def test_concurrent_wrong_secrets_cannot_outrun_the_limit(
    engine: Engine, settings: Settings, oauth_client: IssuedCredential
) -> None:
    """40 concurrent wrong secrets cost 16 s of argon2 and 700 MB: now 5 are checked, two at a time, and the rest
    are refused before any hashing."""
    assert oauth_client.client_id is not None
    auth = settings.auth.model_copy(update={"token_max_failures_per_client": 5, "max_concurrent_password_checks": 2})
    app = create_app(settings.model_copy(update={"auth": auth}), engine=engine)
    wrong = IssuedCredential(oauth_client.row, "wrong-secret")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        answers = await asyncio.gather(*(get_token(client, wrong) for _ in range(40)))
    assert sorted(a.status_code for a in answers) == [401] * 5 + [429] * 35


async def test_a_full_argon2_gate_answers_503_and_counts_nothing(
    engine: Engine, settings: Settings, oauth_client: IssuedCredential
) -> None:
    app = create_app(settings, engine=engine)
    gate = app.state.password_gate = PasswordGate(slots=1, max_waiting=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        async with gate.slot():
            busy = await get_token(client, oauth_client)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"] == "temporarily_unavailable"
        assert (await get_token(client, oauth_client)).status_code == 200
