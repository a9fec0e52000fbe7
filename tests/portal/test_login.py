"""Portal login: local accounts and OIDC against a real provider process (tests/oidc_provider.py) on loopback.

The OIDC test drives the whole flow with one httpx client that follows redirects: the portal (ASGI, mounted at
http://testserver) redirects to the provider (real HTTP on 127.0.0.1), which consents for its fixed test user and
redirects back to the portal's callback; the portal then calls the provider's token and JWKS endpoints over HTTP.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from portal.accounts import create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.login import oidc_user
from portal.models import AuditEvent, PersonalAccessToken, User
from portal.settings import Mode, OIDCSettings, Settings
from tests.factories import make_user
from tests.oidc_provider import OIDCProvider, ProviderUser, running_provider

PORTAL = "http://testserver"
CALLBACK = f"{PORTAL}/login/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with running_provider(CALLBACK, user=ProviderUser(sub="sub-ada-1", preferred_username="Ada")) as provider:
        yield provider


def oidc_settings(settings: Settings, provider: OIDCProvider, **changes: object) -> Settings:
    oidc = OIDCSettings(
        issuer=provider.issuer,
        client_id=provider.client.client_id,
        client_secret=provider.client.client_secret,
        allow_insecure_issuer=True,
    )
    return settings.model_copy(update={"oidc": oidc.model_copy(update=changes)})


def portal_client(app: Starlette) -> httpx.AsyncClient:
    # The portal in-process; everything else (the provider) over real HTTP.
    return httpx.AsyncClient(mounts={PORTAL: httpx.ASGITransport(app=app)}, base_url=PORTAL, follow_redirects=True)


@pytest.fixture
async def client(engine: Engine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_client(create_app(settings, engine=engine)) as client:
        yield client


async def test_local_login_with_json_and_logout(client: httpx.AsyncClient, session: Session) -> None:
    create_user(session, Actor.system("test"), name="grace", role="viewer", password="grace-password-1")
    session.commit()
    response = await client.post("/login", json={"username": "grace", "password": "grace-password-1"})
    assert response.status_code == 200 and response.json() == {"user": "grace"}
    assert (await client.get("/api/me")).json()["name"] == "grace"

    response = await client.post("/logout", headers={"accept": "application/json"})
    assert response.status_code == 200
    assert (await client.get("/api/me")).status_code == 401


async def test_local_login_with_the_form_redirects_only_within_the_site(
    client: httpx.AsyncClient, session: Session
) -> None:
    create_user(session, Actor.system("test"), name="heidi", role="viewer", password="heidi-password-1")
    session.commit()
    page = await client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    form = {"username": "heidi", "password": "heidi-password-1", "next": "//evil.example/steal"}
    response = await client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert (await client.get("/api/me")).json()["name"] == "heidi"


async def test_wrong_password_is_refused_and_starts_no_session(client: httpx.AsyncClient, session: Session) -> None:
    create_user(session, Actor.system("test"), name="ivan", role="viewer", password="ivan-password-12")
    session.commit()
    for body in ({"username": "ivan", "password": "wrong-password-1"}, {"username": "nobody", "password": "x" * 12}):
        response = await client.post("/login", json=body)
        assert response.status_code == 401
        assert response.json()["error"] == {"code": "UNAUTHENTICATED", "message": "wrong user name or password"}
    form = await client.post("/login", data={"username": "ivan", "password": "nope"})
    assert form.status_code == 401 and "wrong user name or password" in form.text
    assert (await client.get("/api/me")).status_code == 401
    missing = await client.post("/login", json={"username": "ivan"})
    assert missing.status_code == 400 and "required" in missing.json()["error"]["message"]


async def test_oidc_login_creates_the_user_then_links_by_subject(
    engine: Engine, settings: Settings, session: Session, provider: OIDCProvider
) -> None:
    make_user(session, "ada")  # a local user with the same name is not taken over: the new user gets another name
    session.commit()
    app = create_app(oidc_settings(settings, provider), engine=engine)
    async with portal_client(app) as client:
        response = await client.get("/login/oidc")
        hosts = [urlsplit(str(r.url)).netloc for r in response.history]
        assert hosts[0] == "testserver" and urlsplit(provider.issuer).netloc in hosts
        assert response.url.path == "/" and response.history[-1].url.path == "/login/oidc/callback"
        me = await client.get("/api/me")
        assert me.status_code == 200, me.text
        assert me.json() == {"name": "ada-2", "platformAdmin": False, "readOnly": False, "teams": {}}

    user = session.exec(select(User).where(col(User.oidc_subject) == "sub-ada-1")).one()
    assert (user.name, user.email, user.display_name) == ("ada-2", "ada@example.test", "Ada Lovelace")

    async with portal_client(app) as again:  # a second login finds the same user by its subject
        await again.get("/login/oidc")
        assert (await again.get("/api/me")).json()["name"] == "ada-2"
    session.rollback()  # end the read transaction: see what the app committed since
    assert len(session.exec(select(User).where(col(User.oidc_subject) == "sub-ada-1")).all()) == 1
    logins = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "user.login")).all()
    assert [(e.target_name, e.summary["method"]) for e in logins] == [("ada-2", "oidc"), ("ada-2", "oidc")]


async def test_oidc_callback_with_a_forged_state_is_refused(
    engine: Engine, settings: Settings, provider: OIDCProvider
) -> None:
    async with portal_client(create_app(oidc_settings(settings, provider), engine=engine)) as client:
        start = await client.get("/login/oidc", follow_redirects=False)
        assert start.status_code == 302
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["nonce"]
        response = await client.get("/login/oidc/callback", params={"code": "stolen", "state": "forged"})
        assert response.status_code == 401 and "mismatching_state" in response.json()["error"]["message"]
        assert (await client.get("/api/me")).status_code == 401


async def test_an_insecure_issuer_needs_explicit_permission(
    engine: Engine, settings: Settings, provider: OIDCProvider
) -> None:
    strict = oidc_settings(settings, provider, allow_insecure_issuer=False)
    async with portal_client(create_app(strict, engine=engine)) as client:
        response = await client.get("/login/oidc")
    assert response.status_code == 503
    assert "LOOM_OIDC_ALLOW_INSECURE_ISSUER" in response.json()["error"]["message"]


async def test_an_id_token_for_another_audience_is_refused(
    engine: Engine, settings: Settings, provider: OIDCProvider, session: Session
) -> None:
    provider.id_token_overrides = {"aud": ["some-other-client"]}
    try:
        async with portal_client(create_app(oidc_settings(settings, provider), engine=engine)) as client:
            response = await client.get("/login/oidc")
            assert response.status_code == 401 and "ID token is not valid" in response.json()["error"]["message"]
            assert (await client.get("/api/me")).status_code == 401
    finally:
        provider.id_token_overrides = {}
    assert session.exec(select(User)).all() == []


async def test_an_unreachable_provider_is_a_clear_503(engine: Engine, settings: Settings) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    oidc = OIDCSettings(issuer=f"http://127.0.0.1:{port}", client_id="loom", allow_insecure_issuer=True)
    async with portal_client(create_app(settings.model_copy(update={"oidc": oidc}), engine=engine)) as client:
        response = await client.get("/login/oidc")
    assert response.status_code == 503 and "could not be reached" in response.json()["error"]["message"]


async def test_repeated_failures_lock_the_account_and_the_lockout_is_audited_once(
    engine: Engine, settings: Settings, session: Session
) -> None:
    auth = settings.auth.model_copy(update={"login_max_failures_per_account": 3})
    app = create_app(settings.model_copy(update={"auth": auth}), engine=engine)
    create_user(session, Actor.system("test"), name="ivy", role="viewer", password="ivy-password-123")
    create_user(session, Actor.system("test"), name="jon", role="viewer", password="jon-password-123")
    session.commit()
    async with portal_client(app) as client:
        for _ in range(3):
            wrong = await client.post("/login", json={"username": "ivy", "password": "guess-guess-123"})
            assert wrong.status_code == 401
        # locked now: even the right password is refused, without being checked
        locked = await client.post("/login", json={"username": "IVY", "password": "ivy-password-123"})
        assert locked.status_code == 429
        assert locked.json()["error"]["code"] == "RATE_LIMITED"
        assert 890 <= int(locked.headers["retry-after"]) <= 900
        form = await client.post("/login", data={"username": "ivy", "password": "ivy-password-123"})
        assert form.status_code == 429 and "too many failed logins" in form.text
        assert (await client.get("/api/me")).status_code == 401
        # another account from the same address is not locked
        other = await client.post("/login", json={"username": "jon", "password": "jon-password-123"})
        assert other.status_code == 200

    session.rollback()
    events = session.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("user.login"))).all()
    assert [(e.action, e.target_kind, e.target_name, e.outcome.value) for e in events] == [
        ("user.login.lockout", "user", "ivy", "denied"),
        ("user.login", "user", "jon", "allowed"),
    ]
    assert events[0].summary["failures"] == 3 and "ivy-password" not in repr(events[0].summary)


EVIL = "https://evil.example"
_CREATE_TOKEN = {"query": 'mutation { createToken(name: "forged") { token } }'}


async def test_a_cross_site_login_form_is_refused_and_starts_no_session(
    client: httpx.AsyncClient, session: Session
) -> None:
    """Login CSRF: a page on another site posting the attacker's credentials would sign the victim in as the
    attacker. Browsers name the sending site (Sec-Fetch-Site, or Origin in older ones); the CLI sends neither."""
    create_user(session, Actor.system("test"), name="judy", role="viewer", password="judy-password-12")
    session.commit()
    form = {"username": "judy", "password": "judy-password-12"}
    for headers in ({"origin": EVIL}, {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}):
        refused = await client.post("/login", data=form, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, headers
        assert refused.json()["error"]["code"] == "FORBIDDEN" and "cross-site" in refused.json()["error"]["message"]
        assert "set-cookie" not in refused.headers
        assert (await client.get("/api/me")).status_code == 401
    same_origin = {"origin": PORTAL, "sec-fetch-site": "same-origin"}
    signed_in = await client.post("/login", data=form, headers=same_origin, follow_redirects=False)
    assert signed_in.status_code == 303 and (await client.get("/api/me")).json()["name"] == "judy"


async def test_a_cross_site_request_cannot_act_with_the_session(client: httpx.AsyncClient, session: Session) -> None:
    """A signed-in admin visiting another site: its forged mutation or logout is refused before it runs, while
    the same request from the portal's own pages, or from a script with no browser headers, works."""
    create_user(session, Actor.system("test"), name="kim", role="platform-admin", password="kim-password-123")
    session.commit()
    assert (await client.post("/login", json={"username": "kim", "password": "kim-password-123"})).status_code == 200
    for headers in ({"origin": EVIL}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
        forged = await client.post("/api/graphql", json=_CREATE_TOKEN, headers=headers)
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "FORBIDDEN", headers
        assert (await client.post("/logout", headers=headers)).status_code == 403
    session.rollback()
    assert [t.name for t in session.exec(select(PersonalAccessToken)).all()] == []
    own_page = await client.post("/api/graphql", json=_CREATE_TOKEN, headers={"origin": PORTAL})
    assert own_page.status_code == 200 and own_page.json()["data"]["createToken"]["token"]
    assert (await client.post("/api/graphql", json=_CREATE_TOKEN)).status_code == 200  # a script: no browser headers
    assert (await client.get("/api/me")).json()["name"] == "kim"  # the refused logouts ended nothing


async def test_the_session_cookie_is_httponly_lax_and_secure_outside_development(
    engine: Engine, settings: Settings, session: Session
) -> None:
    create_user(session, Actor.system("test"), name="leo", role="viewer", password="leo-password-123")
    session.commit()
    production = settings.model_copy(update={"mode": Mode.PRODUCTION})
    for mode_settings, secure in ((settings, False), (production, True)):
        async with portal_client(create_app(mode_settings, engine=engine)) as client:
            response = await client.post("/login", json={"username": "leo", "password": "leo-password-123"})
            cookie = response.headers["set-cookie"].lower()
            assert cookie.startswith("loom_session=") and "httponly" in cookie and "samesite=lax" in cookie
            assert ("; secure" in cookie) is secure, cookie


def test_an_oidc_user_never_gets_the_name_of_a_loom_actor(session: Session) -> None:
    """A provider's preferred_username is the user's to choose: 'oidc' would make them the audit log's OIDC actor."""
    for sub, wanted in (("sub-1", "oidc"), ("sub-2", "anonymous"), ("sub-3", "loom-up")):
        user = oidc_user(session, {"sub": sub, "preferred_username": wanted})
        assert user.name == f"user-{wanted}"


async def test_a_deeply_nested_login_body_is_a_clear_400(client: httpx.AsyncClient) -> None:
    deep = b'{"username": ' + b"[" * 20_000 + b"]" * 20_000 + b', "password": "x"}'
    response = await client.post("/login", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID"
    assert "nest" in response.json()["error"]["message"]
