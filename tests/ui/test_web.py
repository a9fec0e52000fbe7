"""``portal.web`` in ``loom serve``'s app, in-process: the UI's page on its own paths only (the portal's 404 and 405
answers stay), sign-in redirects that come back, the hashed files cached for good, the strict CSP on all of it, and
the UI router's paths the same as the server's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Router

from portal import web
from portal._security_headers import content_security_policy
from portal.accounts import create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.db import session_scope
from portal.server import build_app
from portal.settings import Settings

PASSWORD = "a long passphrase"
APP_TSX = Path(__file__).parents[2] / "frontend" / "src" / "App.tsx"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A stand-in build (the real one is checked in the browser tests): an index and one hashed file."""
    root = tmp_path / "dist"
    (root / "_loom" / "ui").mkdir(parents=True)
    (root / "index.html").write_text(
        '<!doctype html><html><head><script type="module" src="/_loom/ui/index-abc.js"></script></head>'
        "<body><noscript>needs JavaScript</noscript><div id=root></div></body></html>"
    )
    (root / "_loom" / "ui" / "index-abc.js").write_text("console.log('loom')\n")
    return root


def _with_ui(settings: Settings, engine: Engine, dist: Path) -> Starlette:
    return create_app(settings, engine=engine, extra_routes=web.routes(dist))


@pytest.fixture
async def client(settings: Settings, engine: Engine, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    with session_scope(engine) as session:
        create_user(session, Actor.system("test"), name="ada", role="platform-admin", password=PASSWORD)
    app = _with_ui(settings, engine, dist)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        yield client


async def _sign_in(client: httpx.AsyncClient) -> None:
    answer = await client.post("/login", data={"username": "ada", "password": PASSWORD})
    assert answer.status_code == 303, answer.text


async def test_each_ui_path_is_the_page_once_signed_in(client: httpx.AsyncClient) -> None:
    await _sign_in(client)
    for path in (
        "/",
        "/catalog",
        "/catalog/library",
        "/apps",
        "/subscriptions",
        "/fleet",
        "/audit",
        "/catalog/library?tab=try",
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert '<script type="module" src="/_loom/ui/index-abc.js">' in page.text
        # no JavaScript: who is signed in, and where to go instead
        assert "<noscript><p>Signed in as <strong>ada</strong>." in page.text and "needs JavaScript" not in page.text
        assert page.headers["content-security-policy"] == content_security_policy()


async def test_without_a_session_the_ui_sends_to_sign_in_and_back(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    deep = await client.get("/catalog/library?tab=try")
    assert (home.status_code, home.headers["location"]) == (303, "/login")
    assert deep.status_code == 303 and deep.headers["location"] == "/login?next=%2Fcatalog%2Flibrary%3Ftab%3Dtry"
    form = await client.get(deep.headers["location"])
    assert 'name="next" value="/catalog/library?tab=try"' in form.text  # the login form carries it through
    signed_in = await client.post("/login", data={"username": "ada", "password": PASSWORD, "next": "/apps"})
    assert signed_in.headers["location"] == "/apps"
    stale = await client.get("/", headers={"authorization": "Bearer not-a-token"})
    assert stale.status_code == 303  # a refused credential is not a server error: sign in again


async def test_the_portals_own_answers_are_not_swallowed(client: httpx.AsyncClient) -> None:
    await _sign_in(client)
    answers = {
        (method, path): await client.request(method, path)
        for method, path in (
            ("GET", "/no/such/page"),
            ("GET", "/catalogue"),
            ("GET", "/apps/7/keys"),
            ("GET", "/logout"),
            ("PUT", "/oauth/token"),
            ("POST", "/"),
            ("POST", "/catalog/library"),
            ("DELETE", "/apps"),
            ("GET", "/_loom/ui/missing.js"),
        )
    }
    statuses = {key: answer.status_code for key, answer in answers.items()}
    assert statuses == {
        ("GET", "/no/such/page"): 404,
        ("GET", "/catalogue"): 404,
        ("GET", "/apps/7/keys"): 404,
        ("GET", "/logout"): 405,
        ("PUT", "/oauth/token"): 405,
        ("POST", "/"): 405,
        ("POST", "/catalog/library"): 405,
        ("DELETE", "/apps"): 405,
        ("GET", "/_loom/ui/missing.js"): 404,
    }
    assert answers["GET", "/no/such/page"].json() == {
        "error": {"code": "NOT_FOUND", "message": "no such path: /no/such/page"}
    }
    assert answers["POST", "/"].json()["error"]["code"] == "INVALID"  # the portal's 405, as for its other routes
    assert (await client.get("/api/me")).json()["name"] == "ada"  # the portal's routes answer as before


async def test_the_builds_files_are_cached_for_good_and_keep_the_csp(client: httpx.AsyncClient) -> None:
    script = await client.get("/_loom/ui/index-abc.js")  # no session needed: it holds nothing private
    assert script.status_code == 200 and script.text == "console.log('loom')\n"
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert script.headers["content-security-policy"] == content_security_policy()
    assert script.headers["x-content-type-options"] == "nosniff"
    escape = await client.get("/_loom/ui/..%2f..%2findex.html")
    assert escape.status_code == 404


async def test_an_unbuilt_ui_says_how_to_build_it(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        create_user(session, Actor.system("test"), name="ada", role="platform-admin", password=PASSWORD)
    app = _with_ui(settings, engine, tmp_path / "never-built")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        await _sign_in(client)
        page = await client.get("/")
        asset = await client.get("/_loom/ui/index-abc.js")
    assert page.status_code == 200 and "The web UI is not built" in page.text and "make install" in page.text
    assert "Signed in as <strong>ada</strong>" in page.text and 'href="/api/graphql"' in page.text
    assert asset.status_code == 404 and asset.json()["error"]["code"] == "NOT_FOUND"


def test_loom_serve_serves_the_ui_from_the_checkouts_build(settings: Settings, engine: Engine) -> None:
    app = build_app(settings, engine)
    router = app.router
    assert isinstance(router, Router)
    paths = {getattr(route, "path", None) for route in router.routes}
    assert {
        "/",
        "/catalog",
        "/catalog/{product}",
        "/apps",
        "/subscriptions",
        "/fleet",
        "/audit",
        web.ASSETS_PATH,
    } <= paths
    assert Path(__file__).parents[2] / "frontend" / "dist" == web.DEFAULT_DIST


def test_the_ui_router_and_the_server_agree_on_the_pages() -> None:
    """Every page of the UI's router is served by the portal (a reload there must not 404), and nothing more."""
    routed = set(re.findall(r'<Route path="([^"*]+)"', APP_TSX.read_text()))
    served = {*web.UI_PATHS, "/catalog/:name"}
    assert routed == served
