"""Signing in with single sign-on in a real browser: a portal configured for OIDC against a real provider process
(tests/oidc_provider.py: the authorization-code flow over real HTTP on loopback; it fakes only the person, consenting
at once for its test user). The sign-in page looks like the UI and passes the CSP and axe-core (see conftest)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from portal.db import create_engine_for, migrate
from portal.server import build_app
from portal.settings import DatabaseSettings, Mode, OIDCSettings, RedisSettings, Settings, SyncSettings
from tests._serving import serving
from tests.oidc_provider import ProviderUser, running_provider
from tests.ui.conftest import _WATCH, TIMEOUT_MS, Session, World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sso_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("ui-sso")
    user = ProviderUser(sub="sub-grace-1", preferred_username="grace", name="Grace Hopper", email="grace@example.test")
    with running_provider("http://unknown.invalid/callback", user=user) as provider:
        settings = Settings(
            mode=Mode.DEVELOPMENT,
            data_dir=root / "data",
            database=DatabaseSettings(url=f"sqlite:///{root / 'loom.db'}"),
            sync=SyncSettings(enabled=False),
            redis=RedisSettings(url=None),
            oidc=OIDCSettings(
                issuer=provider.issuer,
                client_id=provider.client.client_id,
                client_secret=provider.client.client_secret,
                allow_insecure_issuer=True,  # the provider is on loopback, over HTTP
            ),
        )
        engine = create_engine_for(settings)
        migrate(engine)
        with serving(build_app(settings, engine), "the portal with OIDC") as url:
            provider.client.redirect_uris.append(f"{url}/login/oidc/callback")  # known once the portal listens
            yield World(url=url, settings=settings, trial_key="", members_url="")
        engine.dispose()


def test_single_sign_on_from_the_sign_in_page(browser: Browser, sso_world: World) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(_WATCH)
    try:
        person = Session(sso_world, context)
        page = person.goto("/apps")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fapps$"))
        sso = page.get_by_role("link", name="Sign in with single sign-on")
        expect(sso).to_be_visible()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()  # local accounts still sign in here
        person.check("the sign-in page with single sign-on")
        person.screenshot("sign-in")
        sso.click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator(".who-name")).to_have_text("Grace Hopper")
        expect(page.locator(".who-role")).to_have_text("(consumer)")
        person.check("signed in with single sign-on")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto(sso_world.url + "/apps")  # the session ended on the server
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fapps$"))
    finally:
        context.close()


def test_without_oidc_the_sign_in_page_offers_local_accounts_only(people: Any) -> None:
    person = people()
    page = person.goto("/login")
    expect(page.get_by_role("heading", name="Log in to Loom")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in with single sign-on")).to_have_count(0)
    person.check("the sign-in page")
