"""Stitching in a real browser against the real portal (see conftest): a team admin composes a product whose services
clash, renames one service's root fields by pattern, lets the members service's definition of a shared type win
(``prefer``), links loans to members (``links``), sees a wrong link refused beside its field, publishes it, reads the
link in words on the product page, and the product's gateway answers a query across the link with joined data. And
the publish form edits a service's entities and traffic settings, a wrong one refused beside its field."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from portal.applications import create_api_key, create_application
from portal.authorization import Actor
from portal.db import create_engine_for, session_scope
from portal.subscriptions import approve, request as request_subscription
from tests.ui.conftest import TIMEOUT_MS, World

pytestmark = pytest.mark.slow

PRODUCT = "lending-desk"
LINK = "Loan.borrower → members.member(id: memberId)"
QUERY = "{ loans { id borrower { displayName tier } } }"


def _combobox(scope: Any, label: str) -> Any:
    """The drop-down labelled ``label`` (a label around a select also reads its options, so match its start)."""
    return scope.get_by_role("combobox", name=re.compile(rf"^{re.escape(label)}"))


def _key_for(world: World, user: str, product: str) -> str:
    """An API key of a new application of ``user``, subscribed to ``product`` under plan basic and approved (what a
    consumer and the team do in the journeys of test_journeys.py; here only the gateway's answer matters)."""
    from sqlmodel import col, select

    from portal.models import User

    engine = create_engine_for(world.settings)
    try:
        with session_scope(engine) as session:
            owner = session.exec(select(User).where(col(User.name) == user)).one()
            actor = Actor(user_id=owner.id, name=user)
            application = create_application(session, actor, name=f"{user}-{product}")
            assert application.id is not None
            key = create_api_key(session, actor, application, name="journey").secret
            subscription = request_subscription(session, actor, application.id, product, "basic")
            assert subscription.id is not None
            approve(session, Actor.system("ui-test"), subscription.id)
        return key
    finally:
        engine.dispose()


def _answer(world: World, key: str) -> dict[str, Any]:
    """The product gateway's answer to :data:`QUERY`, once the gateway serves the product and knows the key (it
    polls the portal's snapshot): until then it answers 404, 401 or 403."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    url = f"{world.url}/products/{PRODUCT}/graphql"
    with httpx.Client(timeout=10) as client:
        while True:
            response = client.post(url, json={"query": QUERY}, headers={"x-api-key": key})
            if response.status_code not in (401, 403, 404) or time.monotonic() > deadline:
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                return body
            time.sleep(0.1)  # polling a condition (the gateway's next snapshot), not timing an assertion


def _compose(page: Page) -> None:
    page.get_by_label("Name", exact=True).fill(PRODUCT)
    for service in ("members", "lending", "directory"):
        page.get_by_label(service, exact=True).check()


def test_a_team_admin_composes_a_product_with_a_pattern_prefer_and_a_link_and_queries_across_it(
    people: Any, world: World, lending: str
) -> None:
    tara = people()
    page = tara.sign_in("tara", "/compose")
    _compose(page)
    live = page.get_by_role("region", name="Live composition")
    conflicts = live.get_by_role("list", name="Conflicts")
    expect(conflicts).to_contain_text("Query.member", timeout=TIMEOUT_MS)
    expect(conflicts).to_contain_text("prefer: {Member: members}")  # the conflict says what resolves it

    # directory's root fields renamed by a pattern: the clash over Query.member is gone
    page.get_by_text("Rename directory's names by pattern").click()
    page.get_by_role("button", name="Add a root field pattern of directory").click()
    page.get_by_label("Pattern 1 (root field pattern of directory)").fill("(.*)")
    page.get_by_label("Becomes (root field pattern of directory 1)").fill("directory_\\1")
    expect(conflicts.get_by_role("listitem")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(conflicts).to_contain_text('Member.tier: "Tier!" in service "members" vs "String" in service "lending"')

    # members' definition of Member wins: no conflict left
    page.get_by_role("button", name="Add a shared type").click()
    page.get_by_label("Shared type 1", exact=True).fill("Member")
    _combobox(page, "Definition from (shared type 1)").select_option("members")
    schema = live.get_by_label("The resulting schema")
    expect(schema).to_contain_text("directory_member(id: ID!): String", timeout=TIMEOUT_MS)
    expect(conflicts).to_have_count(0)

    # a link to an operation members lacks is refused beside the operation, with apply's words
    page.get_by_role("button", name="Add a link").click()
    link = page.get_by_role("group", name="Link 1")
    link.get_by_label("Type", exact=True).fill("Loan")
    link.get_by_label("New field").fill("borrower")
    _combobox(link, "Service").select_option("members")
    link.get_by_label("Arguments").fill("id=memberId")
    operation = link.get_by_label("Operation")
    operation.fill("memberById")
    expect(operation).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    expect(link.locator("#link-0-error")).to_have_text(
        'service "members" has no Query field or operation memberById (its Query fields: member, members)'
    )
    expect(live).to_contain_text("see the field marked above")
    tara.check("the composer: a wrong link beside its field")
    operation.fill("member")
    expect(operation).to_have_attribute("aria-invalid", "false", timeout=TIMEOUT_MS)
    expect(link).to_contain_text(LINK)  # the link in words as it is edited
    expect(schema).to_contain_text("borrower: Member", timeout=TIMEOUT_MS)
    expect(live).to_contain_text("without conflicts")

    page.get_by_label("eu-central (eu)").check()
    page.get_by_label(re.compile(r"^basic \(")).check()
    page.get_by_label("Lifecycle").select_option("published")
    expect(live).to_contain_text("without conflicts", timeout=TIMEOUT_MS)
    tara.check("the composer: a pattern, a preferred definition and a link")
    tara.screenshot("compose-stitching", full_page=True)
    page.get_by_role("button", name="Check the composition").click()
    expect(page.get_by_role("status", name="If you save this")).to_contain_text(f"Product {PRODUCT}: created")
    page.get_by_role("button", name="Save this version").click()
    expect(page.get_by_role("link", name=f"See {PRODUCT}'s schema")).to_be_visible(timeout=TIMEOUT_MS)

    page.goto(f"{world.url}/catalog/{PRODUCT}")
    links = page.get_by_role("list", name="Links between services")
    expect(links).to_contain_text(LINK, timeout=TIMEOUT_MS)
    expect(links).to_contain_text("Each Loan gets borrower from the members service's member, given its memberId as id")
    expect(page.get_by_role("list", name="Types several services define")).to_have_text(
        "Member: the members service's definition wins"
    )
    expect(page.get_by_role("list", name="Names renamed by pattern")).to_have_text(
        "directory: root fields (.*) → directory_\\1"
    )
    tara.check("the product page: how it is stitched")
    tara.screenshot("product-stitching")

    # on a phone: the stitching of the saved product fits, on its page and back in the composer
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/catalog/{PRODUCT}", "/compose"):
        page.goto(world.url + path)
        page.get_by_role("heading", level=1).first.wait_for()
        expect(page.get_by_text(re.compile(r"^Loading "))).to_have_count(0, timeout=TIMEOUT_MS)
        if path == "/compose":
            _combobox(page, "Product").select_option(PRODUCT)
            expect(page.get_by_role("group", name="Link 1").get_by_label("New field")).to_have_value("borrower")
            expect(page.get_by_label("Shared type 1", exact=True)).to_have_value("Member")
            expect(page.get_by_label("Becomes (root field pattern of directory 1)")).to_have_value("directory_\\1")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px"
        tara.check(f"{path} with links at 390px")

    # the gateway follows the link: each loan's borrower comes from the members service
    body = _answer(world, _key_for(world, "tara", PRODUCT))
    assert body == {
        "data": {
            "loans": [
                {"id": "l1", "borrower": {"displayName": "Ada Lovelace", "tier": "PATRON"}},
                {"id": "l2", "borrower": {"displayName": "Alan Turing", "tier": "BASIC"}},
            ]
        }
    }


def test_a_team_edits_a_services_entities_and_traffic_and_sees_a_wrong_one_beside_its_field(
    people: Any, lending: str
) -> None:
    tara = people()
    page = tara.sign_in("tara", "/publish")
    _combobox(page, "Service").select_option("lending")

    # an entity without its key: apply says so beside the key
    page.get_by_role("button", name="Add an entity").click()
    entity = page.get_by_role("group", name="Entity 1")
    entity.get_by_role("textbox", name="Type").fill("Loan")
    entity.get_by_role("textbox", name="Operation").fill("loans")
    page.get_by_role("button", name="Check the impact").click()
    key = entity.get_by_label("Key field")
    expect(key).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    expect(entity.locator("#entity-0-error")).to_have_text("field required")
    tara.check("publishing: an entity without its key")
    page.get_by_role("button", name="Remove entity 1").click()

    page.get_by_text("Traffic settings: timeouts, retries").click()
    interval = page.get_by_label("Health check interval")
    interval.fill("soon")
    page.get_by_label("Consecutive 5xx before ejection").fill("5")
    page.get_by_label("Retry attempts (0 to 10)").fill("2")
    page.get_by_label("Request timeout").fill("3s")
    page.get_by_role("button", name="Check the impact").click()
    expect(interval).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    expect(page.locator("#traffic-healthCheck-interval-error")).to_have_text(
        "'soon' is not a duration: write it like 250ms, 1s or 2m"
    )
    expect(page.get_by_role("alert")).to_contain_text("see the field marked above")
    tara.check("publishing: a wrong traffic setting beside its field")
    tara.screenshot("publish-traffic-error", full_page=True)

    interval.fill("10s")
    expect(interval).to_have_attribute("aria-invalid", "false")
    page.get_by_role("button", name="Check the impact").click()
    expect(page.get_by_role("status", name="If you publish this")).to_contain_text(
        "Service lending: updated", timeout=TIMEOUT_MS
    )
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status", name="Published")).to_contain_text("Service lending: updated", timeout=TIMEOUT_MS)

    page.reload()  # read back from the server: the form shows what was saved
    _combobox(page, "Service").select_option("lending")
    expect(page.get_by_text("Traffic settings: timeouts, retries")).to_contain_text("(4 set)", timeout=TIMEOUT_MS)
    expect(page.get_by_label("Health check interval")).to_have_value("10s")
    expect(page.get_by_label("Consecutive 5xx before ejection")).to_have_value("5")
    tara.check("publishing: traffic settings saved")
