"""The browser tests' world: ``loom serve``'s app (portal, admin API, embedded gateway) on a real port with a real
SQLite database, the library example's ``members`` service on a real port behind it, and Debian's Chromium driven
by Playwright (headless, ``/usr/bin/chromium``; a browser is never downloaded).

The world is built once per test process (``make test`` runs several): a product ``people`` of team ``identity``
(published, pinned to the EU, tagged library and members) served from ``members``, a draft ``people-next`` (tagged
beta and members) whose second beta hides a field, a
plan ``basic`` approved by the team, and four people who sign in with :data:`PASSWORD`: ``tara`` (team admin of
``identity``), ``vic`` (viewer of ``identity``), ``cora``, ``carl``, ``dana`` and ``erin`` (consumers, no role;
``carl`` has a request waiting for approval, ``dana`` a key on plan ``trial``: two requests a minute, ``erin`` one on
plan ``sample``: two requests an hour, for tests/ui/test_usage.py alone).

The gateway counts the plans' limits in the real Redis (``LOOM_TEST_REDIS_URL``, default database 15 on 127.0.0.1)
as in production, under a namespace of this world's own (``LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX``): the worlds of
parallel test processes have the same consumers, plans and products, and must not count into each other.

Every page is checked as it is used: no Content-Security-Policy violation, no uncaught error, and axe-core (from
``frontend/node_modules``, evaluated in the page, never fetched) finds no serious or critical violation.
``LOOM_UI_SCREENSHOTS=1`` saves the main pages to ``docs/screenshots/`` (the README shows them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from portal import manifests
from portal.accounts import create_user, hash_password
from portal.applications import create_api_key, create_application
from portal.authorization import Actor
from portal.db import create_engine_for, migrate, session_scope
from portal.demo_services import LIBRARY_EXAMPLE, members_app
from portal.resources import apply
from portal.server import build_app
from portal.settings import DatabaseSettings, Mode, RedisSettings, Settings, SyncSettings
from portal.subscriptions import request as request_subscription
from stitcher.settings import GatewaySettings
from tests._serving import serving
from tests.factories import make_user
from tests.portal._apply import run

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 30_000  # what a condition or an action may take on a loaded machine (2 cores, several test processes)
expect.set_options(timeout=TIMEOUT_MS)
AXE = Path(__file__).parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
DIST = Path(__file__).parents[2] / "frontend" / "dist" / "index.html"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PASSWORD = "a long passphrase"
PRODUCT = "people"
REDIS_URL = os.environ.get("LOOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _documents(members_url: str) -> list[dict[str, Any]]:
    meta = {"apiVersion": "loom.dev/v1alpha1"}
    return [
        {
            **meta,
            "kind": "Cluster",
            "metadata": {"name": "eu-central"},
            "spec": {
                "region": "eu-central-1",
                "zone": "eu-central-1a",
                "residency": "eu",
                "gloo": {"target": "gitops", "namespace": "gloo-system"},
                "introspection": {"allowLoopback": True},
            },
        },
        {
            **meta,
            "kind": "Team",
            "metadata": {"name": "identity"},
            "spec": {"placements": [{"cluster": "eu-central", "namespaces": ["*"]}]},
        },
        {
            **meta,
            "kind": "Service",
            "metadata": {"name": "members", "team": "identity"},
            "spec": {
                "protocol": "federation",
                "schema": {"file": "members.graphql"},
                "deployments": [{"cluster": "eu-central", "address": members_url}],
            },
        },
        {  # a plain GraphQL service whose Query.member clashes with members' (the composer's conflict)
            **meta,
            "kind": "Service",
            "metadata": {"name": "directory", "team": "identity"},
            "spec": {
                "protocol": "graphql",
                "schema": {"sdl": "type Query {\n  member(id: ID!): String\n  branches: [String!]!\n}\n"},
                "deployments": [{"cluster": "eu-central", "address": members_url}],
            },
        },
        {
            **meta,
            "kind": "Plan",
            "metadata": {"name": "basic"},
            "spec": {"rateLimit": {"requests": 60, "per": "minute"}, "auth": ["apiKey"], "approval": "manual"},
        },
        {
            **meta,
            "kind": "Plan",
            "metadata": {"name": "trial"},
            "spec": {"rateLimit": {"requests": 2, "per": "minute"}, "auth": ["apiKey"], "approval": "automatic"},
        },
        {  # a window no test outlasts, for the usage journey (tests/ui/test_usage.py)
            **meta,
            "kind": "Plan",
            "metadata": {"name": "sample"},
            "spec": {"rateLimit": {"requests": 2, "per": "hour"}, "auth": ["apiKey"], "approval": "automatic"},
        },
        {
            **meta,
            "kind": "Product",
            "metadata": {
                "name": PRODUCT,
                "team": "identity",
                "description": "Library members: who they are and since when.",
                "tags": ["library", "members"],
            },
            "spec": {
                "version": "1.0.0",
                "lifecycle": "published",
                "sources": [{"service": "members"}],
                "routing": {"clusters": ["eu-central"], "residency": "eu"},
                "plans": ["basic", "trial", "sample"],
                "rest": [
                    {
                        "method": "GET",
                        "path": "/members",
                        "operation": "query($first: Int) { members(first: $first) { id } }",
                    },
                    {
                        "method": "GET",
                        "path": "/members/{id}",
                        "operation": "query($id: ID!) { member(id: $id) { tier } }",
                    },
                ],
            },
        },
        {
            **meta,
            "kind": "Product",
            "metadata": {"name": "people-next", "team": "identity", "tags": ["beta", "members"]},
            "spec": {
                "version": "2.0.0-beta.1",
                "lifecycle": "draft",
                "sources": [{"service": "members"}],
                "routing": {"clusters": ["eu-central"]},
                "plans": ["basic"],
            },
        },
    ]


@dataclass
class World:
    url: str
    settings: Settings
    trial_key: str  # dana's, on plan trial (2 requests a minute)
    members_url: str  # the members service (GraphQL at /graphql), deployed in eu-central
    sample_key: str = ""  # erin's, on plan sample (2 requests an hour): tests/ui/test_usage.py's alone


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not DIST.exists():
        pytest.fail("the web UI is not built: run `make install` (npm ci and the build in frontend/)", pytrace=False)
    root = tmp_path_factory.mktemp("ui-world")
    settings = Settings(
        mode=Mode.DEVELOPMENT,
        data_dir=root / "data",
        database=DatabaseSettings(url=f"sqlite:///{root / 'loom.db'}"),
        sync=SyncSettings(enabled=False),  # nothing to program: the gitops cluster is only where `people` runs
        # the plans' limits counted in Redis, in this world's own namespace (parallel worlds share the Redis)
        gateway=GatewaySettings(
            poll_interval_seconds=0.2, rate_limit_key_prefix=f"loom-ui-{uuid.uuid4().hex}:ratelimit:"
        ),
        redis=RedisSettings(url=REDIS_URL),
    )
    engine = create_engine_for(settings)
    migrate(engine)
    system = Actor.system("ui-test")
    with serving(members_app(), "members") as members_url:
        with session_scope(engine) as session:
            documents = manifests.parse_documents(_documents(members_url), source="ui", base_dir=LIBRARY_EXAMPLE)
            apply(session, system, documents)
        with session_scope(engine) as session:  # people-next's next beta hides a field: a breaking change
            beta = _documents(members_url)[-1]
            hidden = [{"service": "members", "hide": ["Member.joinedYear"]}]
            beta["spec"] |= {"version": "2.0.0-beta.2", "sources": hidden}
            apply(session, system, manifests.parse_documents([beta], source="ui", base_dir=LIBRARY_EXAMPLE))
        with session_scope(engine) as session:
            create_user(session, system, name="tara", role="team-admin", team="identity", password=PASSWORD)
            create_user(session, system, name="vic", role="viewer", team="identity", password=PASSWORD)
            for consumer in ("cora", "carl", "dana", "erin"):
                make_user(session, consumer, password_hash=hash_password(PASSWORD))
        with session_scope(engine) as session:
            carl = Actor(user_id=_user_id(engine, "carl"), name="carl")
            application = create_application(session, carl, name="carl-reports")
            assert application.id is not None
            request_subscription(session, carl, application.id, PRODUCT, "basic")
        with session_scope(engine) as session:  # dana tries `people` on the trial plan (approved at once)
            dana = Actor(user_id=_user_id(engine, "dana"), name="dana")
            trial = create_application(session, dana, name="dana-trial")
            assert trial.id is not None
            trial_key = create_api_key(session, dana, trial, name="trial").secret
            request_subscription(session, dana, trial.id, PRODUCT, "trial")
        with session_scope(engine) as session:  # erin samples `people` (approved at once): the usage journey's
            erin = Actor(user_id=_user_id(engine, "erin"), name="erin")
            sample = create_application(session, erin, name="erin-sample")
            assert sample.id is not None
            sample_key = create_api_key(session, erin, sample, name="sample").secret
            request_subscription(session, erin, sample.id, PRODUCT, "sample")
        with session_scope(engine) as session:
            _sync_statuses(session)
        with serving(build_app(settings, engine), "the portal") as url:
            yield World(url=url, settings=settings, trial_key=trial_key, members_url=members_url, sample_key=sample_key)
    engine.dispose()
    _forget_counters(settings)


def _forget_counters(settings: Settings) -> None:
    """Delete what this world's gateway counted in Redis (the keys would expire with their windows anyway)."""
    assert settings.redis.url is not None
    client = redis.Redis.from_url(settings.redis.url)
    try:
        for key in client.scan_iter(match=settings.gateway.rate_limit_key_prefix + "*"):
            client.delete(key)
    finally:
        client.close()


REFUSAL = "VirtualService gloo-system/loom-people: domain 'people.example' is already served by VirtualService default"


def _sync_statuses(session: Any) -> None:
    """What the sync worker would have recorded (it is off here): eu-central synced, but Gloo refused `people`."""
    from sqlmodel import col, select

    from portal.models import Cluster, ClusterSyncStatus, Product, SyncState, utcnow

    cluster_id = session.exec(select(Cluster.id).where(col(Cluster.name) == "eu-central")).one()
    products = dict(session.exec(select(Product.name, Product.id)).all())
    endpoint = {"cluster": "eu-central", "address": "127.0.0.1:7303", "priority": 0, "healthy": True, "ejected": False}
    upstream = {
        "upstream": "members-eu-central",
        "service": "members",
        "serving": "eu-central",
        "endpoints": [endpoint],
    }
    now = utcnow()
    session.add(
        ClusterSyncStatus(
            cluster_id=cluster_id,
            state=SyncState.SYNCED,
            reachable=True,
            versions={"envoy": "1.40.0"},
            applied_generation=7,
            observed_generation=7,
            upstreams=[upstream],
            last_success_at=now,
            updated_at=now,
        )
    )
    for name, verdict, message in ((PRODUCT, "Rejected", REFUSAL), ("people-next", "Accepted", "")):
        session.add(
            ClusterSyncStatus(
                cluster_id=cluster_id,
                product_id=products[name],
                state=SyncState.FAILED if verdict == "Rejected" else SyncState.SYNCED,
                verdict=verdict,
                message=message,
                applied_generation=7,
                observed_generation=7,
                upstreams=[upstream],
                updated_at=now,
            )
        )


def _user_id(engine: Any, name: str) -> int:
    from sqlmodel import col, select

    from portal.models import User

    with session_scope(engine) as session:
        user_id = session.exec(select(User.id).where(col(User.name) == name)).one()
        assert user_id is not None
        return user_id


# Per module, not per session: Playwright's sync API holds an event loop in the thread while it runs, and the
# in-process async tests of another module (pytest-asyncio) cannot run theirs beside it.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)", pytrace=False)
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield browser
    browser.close()


_WATCH = """
window.__loomProblems = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__loomProblems.push(`CSP: ${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""


class Session:
    """One person's browser context on the world, checking every page as it goes."""

    def __init__(self, world: World, context: BrowserContext) -> None:
        self.world = world
        self.context = context
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )

    def goto(self, path: str) -> Page:
        self.page.goto(self.world.url + path)
        return self.page

    def sign_in(self, name: str, path: str = "/") -> Page:
        page = self.goto(path)
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Sign out").wait_for()
        return page

    def check(self, what: str) -> None:
        """No CSP violation or uncaught error so far, and no serious accessibility violation on the page now."""
        problems = [*self.problems, *self.page.evaluate("window.__loomProblems || []")]
        assert problems == [], f"{what}: {problems}"
        if not self.page.evaluate("typeof axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())  # evaluated by the driver, not a <script>: the CSP stays as it is
        result = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{what}: {serious}"

    def screenshot(self, name: str, *, full_page: bool = False) -> None:
        if os.environ.get("LOOM_UI_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def people(world: World, browser: Browser) -> Iterator[Any]:
    """``people()`` opens a fresh browser context (its own cookies) on the world, or on another portal (``on``)."""
    contexts: list[BrowserContext] = []

    def open_session(width: int = 1280, height: int = 860, *, on: World | None = None) -> Session:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            permissions=["clipboard-read", "clipboard-write"],
        )
        context.add_init_script(_WATCH)
        contexts.append(context)
        return Session(on or world, context)

    yield open_session
    for context in contexts:
        context.close()


# --- the stitching journeys' own service (tests/ui/test_stitching_ui.py) ----------------------------------------

LENDING_SDL = """type Query {
  loans: [Loan!]!
}

"A loan of a book: this service knows the member only by id."
type Loan {
  id: ID!
  memberId: ID!
  isbn: String!
}

type Member {
  id: ID!
  tier: String
}
"""
LENDING_LOANS = (
    {"id": "l1", "memberId": "m1", "isbn": "9780441172719"},
    {"id": "l2", "memberId": "m3", "isbn": "9781593279288"},
)


@pytest.fixture(scope="module")
def lending(world: World) -> Iterator[str]:
    """A plain GraphQL service ``lending`` of team ``identity`` on a real port, published in the world (deployed in
    eu-central): its loans name members only by ``memberId`` (a link joins them to ``members``), and its ``Member``
    clashes with members' (``tier: String``), which ``prefer`` resolves. Gives its URL."""
    from portal.demo_services import graphql_app

    root = {"loans": lambda _info: [dict(loan) for loan in LENDING_LOANS]}
    with serving(graphql_app("lending", LENDING_SDL, root), "lending") as url:
        document = {
            "apiVersion": "loom.dev/v1alpha1",
            "kind": "Service",
            "metadata": {"name": "lending", "team": "identity"},
            "spec": {
                "protocol": "graphql",
                "schema": {"sdl": LENDING_SDL},
                "deployments": [{"cluster": "eu-central", "address": url}],
            },
        }
        engine = create_engine_for(world.settings)
        try:  # off the event loop that Playwright's sync API keeps running in this thread
            run(engine, manifests.parse_documents([document], source="ui"), Actor.system("ui-test"))
        finally:
            engine.dispose()
        yield url
