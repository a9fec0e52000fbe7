"""Portal login: local accounts and OIDC against a real provider process (tests/oidc_provider.py) on loopback.

The OIDC test drives the whole flow with one httpx client that follows redirects: the portal (ASGI, mounted at
http://testserver) redirects to the provider (real HTTP on 127.0.0.1), which consents for its fixed test user and
redirects back to the portal's callback; the portal then calls the provider's token and JWKS endpoints over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette

from portal._password_gate import PasswordGate
from portal.accounts import create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.login import LOGIN_BODY_LIMIT, oidc_user
from portal.models import AuditEvent, LoginSession, PersonalAccessToken, User
from portal.settings import PUBLISHED_DEVELOPMENT_SECRET, Mode, OIDCSettings, Settings
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


async def test_oidc_login_lands_where_the_person_was_going_and_only_on_this_site(
    engine: Engine, settings: Settings, provider: OIDCProvider
) -> None:
    """The sign-in page's single sign-on link carries ``next``; the provider's round trip keeps it in the session,
    and the callback lands there, never on another host."""
    app = create_app(oidc_settings(settings, provider), engine=engine)
    async with portal_client(app) as client:
        page = await client.get("/login", params={"next": "/products/library"})
        assert 'href="/login/oidc?next=%2Fproducts%2Flibrary"' in page.text
        response = await client.get("/login/oidc", params={"next": "/products/library"})
        assert response.url.path == "/products/library" and response.history[-1].url.path == "/login/oidc/callback"
        assert (await client.get("/api/me")).status_code == 200
    async with portal_client(app) as client:
        response = await client.get("/login/oidc", params={"next": "//evil.example/steal"})
        assert response.url.path == "/" and urlsplit(str(response.url)).netloc == "testserver"


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
    deep = b'{"username": ' + b"[" * 7_000 + b"]" * 7_000 + b', "password": "x"}'
    response = await client.post("/login", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID"
    assert "nest" in response.json()["error"]["message"]


def signed_cookie(secret: str, data: dict[str, object]) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it (what anyone knowing ``secret`` can make)."""
    return TimestampSigner(secret).sign(base64.b64encode(json.dumps(data).encode())).decode()


async def test_a_cookie_forged_with_the_published_or_the_real_key_signs_nobody_in(
    engine: Engine, settings: Settings, session: Session
) -> None:
    """The published development secret signed sessions by default: a cookie saying "user 1" made anyone the
    platform admin. Now the key is the installation's own, and a cookie names a server-side session, not a user."""
    admin = create_user(session, Actor.system("test"), name="root", role="platform-admin", password="root-password-1")
    session.commit()
    forged = [
        signed_cookie(PUBLISHED_DEVELOPMENT_SECRET, {"loom_user_id": admin.id}),
        signed_cookie(settings.resolved_secret_key(), {"loom_user_id": admin.id}),  # even with the real key
        signed_cookie(settings.resolved_secret_key(), {"loom_session": "guessed-session-id"}),
    ]
    async with portal_client(create_app(settings, engine=engine)) as client:
        for cookie in forged:
            client.cookies.set("loom_session", cookie)
            me = await client.get("/api/me")
            assert me.status_code == 401 and "not logged in" in me.json()["error"]["message"], cookie
            created = await client.post("/api/graphql", json=_CREATE_TOKEN)
            assert created.json()["data"] is None and created.json()["errors"][0]["extensions"]["code"] == (
                "UNAUTHENTICATED"
            )


async def test_logout_ends_the_session_on_the_server(client: httpx.AsyncClient, session: Session) -> None:
    """The cookie of a signed-out session, replayed (a copy in another browser, a proxy's log), is anonymous."""
    create_user(session, Actor.system("test"), name="mia", role="viewer", password="mia-password-12")
    session.commit()
    assert (await client.post("/login", json={"username": "mia", "password": "mia-password-12"})).status_code == 200
    cookie = client.cookies["loom_session"]
    assert (await client.post("/logout", headers={"accept": "application/json"})).status_code == 200
    client.cookies.set("loom_session", cookie)
    me = await client.get("/api/me")
    assert me.status_code == 401 and "not logged in" in me.json()["error"]["message"]
    session.rollback()
    (row,) = session.exec(select(LoginSession)).all()
    assert row.revoked_at is not None and cookie not in row.token_hash


async def test_the_cookie_carries_only_a_session_id(client: httpx.AsyncClient, session: Session) -> None:
    user = create_user(session, Actor.system("test"), name="ned", role="viewer", password="ned-password-12")
    session.commit()
    await client.post("/login", json={"username": "ned", "password": "ned-password-12"})
    payload = json.loads(base64.b64decode(client.cookies["loom_session"].split(".")[0]))
    assert list(payload) == ["loom_session"] and str(user.id) != payload["loom_session"]
    session.rollback()
    (row,) = session.exec(select(LoginSession)).all()
    assert row.user_id == user.id and row.token_hash == hashlib.sha256(payload["loom_session"].encode()).hexdigest()


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_oversized_login_body_is_refused_unread(
    client: httpx.AsyncClient, session: Session, streamed: bool
) -> None:
    """A 300 MB JSON body was read and argon2-hashed (RSS 200 -> 1,500 MB); now at most LOGIN_BODY_LIMIT is read."""
    create_user(session, Actor.system("test"), name="olga", role="viewer", password="olga-password-1")
    session.commit()
    body = json.dumps({"username": "olga", "password": "x" * (LOGIN_BODY_LIMIT + 1)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    content = chunks() if streamed else body
    response = await client.post("/login", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert f"over {LOGIN_BODY_LIMIT} bytes" in response.json()["error"]["message"]
    assert (await client.get("/api/me")).status_code == 401
    # nothing was counted against the account: its five failures are all still there
    for _ in range(4):
        assert (await client.post("/login", json={"username": "olga", "password": "wrong-password"})).status_code == 401
    ok = await client.post("/login", json={"username": "olga", "password": "olga-password-1"})
    assert ok.status_code == 200


async def test_an_over_long_password_is_refused_before_hashing(client: httpx.AsyncClient, session: Session) -> None:
    create_user(session, Actor.system("test"), name="pat", role="viewer", password="pat-password-12")
    session.commit()
    for body in ({"username": "pat", "password": "p" * 1025}, {"username": "pat", "password": "é" * 513}):
        response = await client.post("/login", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("the password is over 1024 bytes")
    form = await client.post("/login", data={"username": "pat", "password": "p" * 1025})
    assert form.status_code == 400 and "over 1024 bytes" in form.text
    longest = await client.post("/login", json={"username": "pat", "password": "p" * 1024})
    assert longest.status_code == 401  # a password of the longest length is checked (and wrong)


@pytest.mark.parametrize("scope", ["account", "address"])
async def test_concurrent_guesses_cannot_outrun_the_lockout(
    engine: Engine, settings: Settings, session: Session, scope: str
) -> None:
    """30 concurrent guesses were all checked, though the limit is 5: attempts are now counted before the check."""
    limits = {"account": 5, "address": 100} if scope == "account" else {"account": 100, "address": 5}
    auth = settings.auth.model_copy(
        update={
            "login_max_failures_per_account": limits["account"],
            "login_max_failures_per_address": limits["address"],
        }
    )
    app = create_app(settings.model_copy(update={"auth": auth}), engine=engine)
    create_user(session, Actor.system("test"), name="quinn", role="viewer", password="quinn-password-1")
    session.commit()
    names = ["quinn"] * 30 if scope == "account" else [f"name-{n}" for n in range(30)]
    async with portal_client(app) as client:
        answers = await asyncio.gather(
            *(client.post("/login", json={"username": name, "password": "guess-guess-1"}) for name in names)
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 5 + [429] * 25
    assert all(int(answer.headers["retry-after"]) >= 1 for answer in answers if answer.status_code == 429)
    session.rollback()
    locks = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "user.login.lockout")).all()
    assert [(lock.target_kind, lock.summary["failures"]) for lock in locks] == [
        ("user" if scope == "account" else "address", 5)
    ]


async def test_password_checks_wait_at_a_small_gate_and_a_flood_is_told_to_retry(
    engine: Engine, settings: Settings, session: Session
) -> None:
    """argon2 is bounded per app: checks beyond the slots and the queue get 503 Retry-After, counted as nothing."""
    create_user(session, Actor.system("test"), name="rosa", role="viewer", password="rosa-password-1")
    session.commit()
    app = create_app(settings, engine=engine)
    gate = app.state.password_gate = PasswordGate(slots=1, max_waiting=0)
    async with portal_client(app) as client:
        async with gate.slot():  # another check is running and nobody may queue behind it
            busy = await client.post("/login", json={"username": "rosa", "password": "rosa-password-1"})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "BUSY" and "try again" in busy.json()["error"]["message"]
        assert len(app.state.login_limiter) == 2 and app.state.login_limiter.begin("rosa", "127.0.0.1") is None
        app.state.login_limiter.cancel("rosa", "127.0.0.1")
        ok = await client.post("/login", json={"username": "rosa", "password": "rosa-password-1"})
        assert ok.status_code == 200 and gate.running == 0
