"""The web UI in a real browser against a real portal and gateway: sign in and out; a consumer creates an
application and copies its key, requests a subscription, the team admin approves it, and the consumer runs a query
in GraphiQL with that key and sees the data; a viewer and a consumer see no admin action, and the API refuses it
anyway. Every page passes the portal's CSP and axe-core (see conftest)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import PRODUCT, REFUSAL, World

pytestmark = pytest.mark.slow

TIMEOUT = 30_000  # ms a condition may take on a loaded machine


def test_sign_in_lands_where_one_was_going_and_sign_out_ends_the_session(people: Any, world: World) -> None:
    person = people()
    page = person.goto(f"/catalog/{PRODUCT}?tab=versions")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill("cora")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong user name or password")
    person.sign_in("cora", f"/catalog/{PRODUCT}?tab=versions")
    expect(page).to_have_url(f"{world.url}/catalog/{PRODUCT}?tab=versions")
    expect(page.get_by_role("tab", name="Versions")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("cell", name="1.0.0 (current)")).to_be_visible()
    person.check("the product's versions")
    # the keyboard: the first Tab is the skip link, which lands in the page; the tabs follow the arrow keys
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Catalog").last).to_be_focused()  # the breadcrumb, first in the page
    page.get_by_role("tab", name="Versions").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Changes")).to_be_focused()
    expect(page.get_by_role("tab", name="Changes")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(f"{world.url}/catalog/{PRODUCT}?tab=changes")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(world.url + "/apps")  # the cookie the browser still has no longer signs anybody in
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapps$"))


def test_the_catalog_searches_and_filters_and_the_product_page_documents_the_schema(people: Any) -> None:
    person = people()
    page = person.sign_in("cora")
    cards = page.get_by_role("list", name="Products").get_by_role("listitem")
    card = cards.filter(has=page.get_by_role("link", name=PRODUCT, exact=True))
    beta = cards.filter(has=page.get_by_role("link", name="people-next", exact=True))
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(card).to_contain_text("1.0.0")
    expect(card).to_contain_text("published")
    expect(card).to_contain_text("eu-central")
    expect(card.locator("dd").nth(3)).to_have_text("eu")  # residency
    person.check("the catalog")
    person.screenshot("catalog")
    page.get_by_label("Lifecycle").select_option("draft")
    expect(card).to_have_count(0)
    expect(beta).to_contain_text("2.0.0-beta.2")
    page.get_by_label("Search").fill("nothing like this")
    expect(page.get_by_text("No product matches these filters.")).to_be_visible()
    person.check("the catalog, nothing matching")
    page.get_by_role("button", name="Clear the filters").click()
    page.get_by_label("Team").select_option("identity")
    expect(card).to_be_visible()
    expect(beta).to_be_visible()

    page.get_by_role("link", name=PRODUCT, exact=True).click()
    expect(page.get_by_role("heading", name=PRODUCT, level=1)).to_be_visible()
    expect(page.get_by_text("Library members: who they are")).to_be_visible()
    expect(page.get_by_text("approved by the team")).to_be_visible()
    person.check("the product's overview")
    page.get_by_role("tab", name="Schema").click()
    page.get_by_label("Search types, fields and arguments").fill("joined")
    expect(page.get_by_role("status")).to_have_text("1 of 3 types match")
    expect(page.get_by_role("article")).to_contain_text("joinedYear: Int")
    page.get_by_label("Search types, fields and arguments").fill("")
    person.check("the schema reference")
    person.screenshot("product-schema")

    page.get_by_role("tab", name="REST").click()
    route = page.get_by_role("article", name="GET /members/{id}")
    expect(route).to_contain_text("/products/people/rest/members/{id}", timeout=TIMEOUT)
    expect(route).to_contain_text("id in path: string, required")
    expect(route).to_contain_text("Runs query($id: ID!) { member(id: $id) { tier } }")
    expect(page.get_by_role("article")).to_have_count(2)
    person.check("the REST reference")
    person.screenshot("product-rest")

    page.goto(person.world.url + "/catalog/people-next?tab=changes")
    breaking = page.get_by_role("region", name="Breaking")
    expect(breaking).to_contain_text("Member.joinedYear was removed.", timeout=TIMEOUT)
    expect(page.get_by_label("From version")).to_have_value("2.0.0-beta.1")
    expect(page.get_by_label("To version")).to_have_value("2.0.0-beta.2")
    person.check("the changelog between versions")
    person.screenshot("product-changes")
    page.get_by_label("To version").select_option("2.0.0-beta.1")
    expect(page.get_by_text("No schema change from 2.0.0-beta.1 to 2.0.0-beta.1.")).to_be_visible()


def _create_app_and_key(page: Page, app: str) -> str:
    page.get_by_role("link", name="Applications").click()
    expect(page.get_by_text("You have no application yet")).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("Name", exact=True).fill(app)
    page.get_by_label("Description").fill("the mobile app")
    page.get_by_role("button", name="Create application").click()
    section = page.get_by_role("region", name=app)
    expect(section).to_contain_text("No active key")
    section.get_by_label("Name of the new key or client").fill("laptop")
    section.get_by_role("button", name="Create API key").click()
    shown = section.get_by_test_id("new-secret")
    expect(shown).to_have_text(re.compile(r"^lk_"))
    key = shown.inner_text()
    section.get_by_role("button", name=re.compile(r"^Copy the API key")).click()
    expect(section.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    expect(section.get_by_role("cell", name="laptop")).to_be_visible()
    return key


def _choose_key(page: Page, label_start: str) -> None:
    picker = page.get_by_label("API key")
    option = picker.locator("option", has_text=label_start)
    expect(option).to_have_count(1, timeout=TIMEOUT)
    picker.select_option(option.get_attribute("value"))


def test_a_consumer_gets_a_key_subscribes_and_queries_after_the_team_approves(people: Any, world: World) -> None:
    cora = people()
    page = cora.sign_in("cora")
    key = _create_app_and_key(page, "cora-mobile")
    cora.check("applications, with the key shown once")
    cora.screenshot("applications")
    page.get_by_role("button", name="I have copied it").click()
    expect(page.get_by_test_id("new-secret")).to_have_count(0)  # shown once: gone for good

    page.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name=PRODUCT, exact=True).click()
    expect(page.get_by_role("listitem").filter(has_text="60 requests per minute")).to_have_count(1)  # the plans
    page.get_by_role("tab", name="Try it").click()
    expect(page.get_by_text("None of your applications has an API key and an approved subscription")).to_be_visible()
    page.get_by_role("tab", name="Subscribe").click()
    page.get_by_label("Application").select_option(label="cora-mobile")
    expect(page.get_by_label("Plan").locator("option", has_text="(60 per minute")).to_have_count(1)
    page.get_by_label("Plan").select_option("basic")
    page.get_by_role("button", name="Request subscription").click()
    expect(page.get_by_role("status")).to_contain_text("Requested (requested)")
    cora.check("the subscribe tab")

    tara = people()
    admin = tara.sign_in("tara", "/subscriptions")
    row = admin.get_by_role("row").filter(has_text="cora-mobile")
    expect(row).to_contain_text("requested", timeout=TIMEOUT)
    expect(row).to_contain_text("basic (60 per minute)")  # the plan's limits
    tara.check("subscriptions, as the team admin")
    tara.screenshot("subscriptions")
    row.get_by_role("button", name="Approve").click()
    expect(row).to_contain_text("approved by tara")
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)

    page.get_by_role("tab", name="Try it").click()
    _choose_key(page, "cora-mobile: laptop")
    # this tab created the key, so it knows it: nothing to paste
    expect(page.get_by_label(re.compile("Paste the key"))).to_have_count(0)
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(editor).to_be_visible(timeout=TIMEOUT)
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("{ members(first: 2) { displayName tier")  # the editor closes the braces itself
    page.get_by_role("button", name=re.compile("Execute query")).click()
    result = page.locator(".graphiql-response")
    expect(result).to_contain_text("Ada Lovelace", timeout=TIMEOUT)
    expect(result).to_contain_text("PATRON")
    expect(result).not_to_contain_text("errors")
    page.keyboard.press("Escape")  # close the editor's suggestion list
    cora.check("GraphiQL with the consumer's key")
    cora.screenshot("graphiql")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("subscription.request")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("row").filter(has_text="subscription.request")
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    expect(rows.first).to_contain_text("cora-mobile/people")
    expect(page.get_by_role("button", name="Older")).to_be_disabled()
    cora.check("the audit log")
    cora.screenshot("audit")

    # a fresh tab does not know the key: it asks for it and refuses one that is not it
    later = people()
    other = later.sign_in("cora", f"/catalog/{PRODUCT}?tab=try")
    _choose_key(other, "cora-mobile: laptop")
    other.get_by_label(re.compile("Paste the key")).fill("lk_wrong")
    expect(other.get_by_role("alert")).to_contain_text("That is not the key")
    other.get_by_label(re.compile("Paste the key")).fill(key)
    expect(other.locator(".graphiql-query-editor .CodeMirror")).to_be_visible(timeout=TIMEOUT)

    # the consumer ends her subscription: the key no longer reaches the product, and Try it says what is missing
    other.get_by_role("link", name="Subscriptions").click()
    own = other.get_by_role("row").filter(has_text="cora-mobile")
    expect(own.get_by_role("button", name="Approve")).to_have_count(0, timeout=TIMEOUT)
    own.get_by_role("button", name="Revoke").click()
    expect(own).to_contain_text("revoked by cora")
    other.goto(later.world.url + f"/catalog/{PRODUCT}?tab=try")
    expect(other.get_by_text("None of your applications has an API key and an approved subscription")).to_be_visible(
        timeout=TIMEOUT
    )


_APPROVE = """async (id) => {
  const response = await fetch("/api/graphql", {
    method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({query: "mutation($id: Int!) { approveSubscription(id: $id) { state } }", variables: {id}}),
  });
  return (await response.json()).errors?.[0]?.extensions?.code ?? "approved";
}"""


def test_a_viewer_and_a_consumer_see_no_admin_action_and_the_api_refuses_it(people: Any) -> None:
    vic = people()
    page = vic.sign_in("vic", "/subscriptions")
    row = page.get_by_role("row").filter(has_text="carl-reports")
    expect(row).to_contain_text("requested", timeout=TIMEOUT)  # the viewer sees the team's requests...
    expect(page.get_by_role("button", name=re.compile("Approve|Reject|Revoke"))).to_have_count(0)  # ...and no action
    vic.check("subscriptions, as a viewer")
    subscription_id = page.evaluate(
        """async () => {
          const response = await fetch("/api/graphql", {method: "POST", headers: {"content-type": "application/json"},
            body: JSON.stringify({query: '{ subscriptions(state: "requested") { id application } }'})});
          return (await response.json()).data.subscriptions.find((s) => s.application === "carl-reports").id;
        }"""
    )
    assert page.evaluate(_APPROVE, subscription_id) == "FORBIDDEN"

    carl = people()
    own = carl.sign_in("carl", "/subscriptions")
    row = own.get_by_role("row").filter(has_text="carl-reports")
    expect(row).to_contain_text("requested", timeout=TIMEOUT)
    expect(own.get_by_role("button", name=re.compile("Approve|Reject"))).to_have_count(0)  # his own request
    assert own.evaluate(_APPROVE, subscription_id) in ("FORBIDDEN", "NOT_FOUND")
    carl.check("subscriptions, as a consumer")


def test_the_pages_fit_a_narrow_window(people: Any) -> None:
    person = people(width=390, height=844)
    page = person.sign_in("tara")
    old_key = _create_app_and_key(page, "tara-tools")  # the whole flow works on a phone too
    section = page.get_by_role("region", name="tara-tools")
    old_prefix = old_key.split("_")[1]
    section.get_by_role("button", name=f"Rotate {old_prefix}: a new key, then this one revoked").click()
    new_key = section.get_by_test_id("new-secret")
    expect(new_key).not_to_have_text(old_key)
    expect(section.get_by_role("cell", name=old_prefix)).to_have_count(0)  # revoked: no longer listed
    expect(section.locator("td code", has_text=new_key.inner_text().split("_")[1])).to_be_visible()
    section.get_by_label("Name of the new key or client").fill("backend")
    section.get_by_role("button", name="Create OAuth2 client").click()
    expect(section.get_by_role("region", name="New OAuth2 client secret")).to_contain_text("Client id: lc_")
    expect(section.get_by_role("cell", name="OAuth2 client")).to_be_visible()
    person.check("applications: a rotated key and an OAuth2 client")
    pages = (
        "/",
        f"/catalog/{PRODUCT}",
        f"/catalog/{PRODUCT}?tab=versions",
        "/apps",
        "/subscriptions",
        "/fleet",
        "/audit",
    )
    for path in pages:
        page.goto(person.world.url + path)
        page.get_by_role("heading", level=1).first.wait_for()
        expect(page.get_by_text(re.compile(r"^Loading "))).to_have_count(0, timeout=TIMEOUT)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px"
        person.check(f"{path} at 390px")
    page.goto(person.world.url + "/")
    expect(page.get_by_role("link", name=PRODUCT, exact=True)).to_be_visible(timeout=TIMEOUT)
    person.screenshot("catalog-narrow")


def test_the_fleet_shows_a_refused_product_and_its_reason_to_the_team_not_to_consumers(people: Any) -> None:
    tara = people()
    page = tara.sign_in("tara")
    page.get_by_role("link", name="Fleet").click()
    cluster = page.get_by_role("list", name="Clusters").get_by_role("listitem")
    expect(cluster).to_contain_text("eu-central-1a", timeout=TIMEOUT)
    expect(cluster).to_contain_text("envoy 1.40.0")
    rows = page.get_by_role("row").filter(has_text="eu-central")
    expect(rows).to_have_count(2)
    page.get_by_label("Verdict").select_option("Rejected")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(REFUSAL)
    expect(rows.first).to_contain_text("members: served by eu-central")
    tara.check("the fleet, refused products only")
    tara.screenshot("fleet")
    page.get_by_label("Verdict").select_option("")
    page.get_by_label("Only problems").check()
    expect(rows).to_have_count(1)

    cora = people()
    consumer = cora.sign_in("cora")
    expect(consumer.get_by_role("link", name="Fleet")).to_have_count(0)
    consumer.goto(cora.world.url + "/fleet")
    expect(consumer.get_by_role("alert")).to_contain_text("may not read the fleet status", timeout=TIMEOUT)
    cora.check("the fleet, refused to a consumer")


def test_a_team_admin_sees_a_breaking_schema_refused_with_its_reason_then_publishes_an_addition(people: Any) -> None:
    tara = people()
    page = tara.sign_in("tara")
    page.get_by_role("link", name="Publish").click()
    page.get_by_role("combobox", name=re.compile(r"^Service\b")).select_option("members")
    schema = page.get_by_label("Schema (SDL)")
    expect(schema).to_have_value(re.compile(r"joinedYear: Int"), timeout=TIMEOUT)
    page.get_by_role("button", name="Check the impact").click()
    expect(page.get_by_role("status", name="If you publish this")).to_contain_text("Nothing changes")
    expect(page.get_by_role("button", name="Publish", exact=True)).to_be_disabled()

    original = schema.input_value()
    schema.fill(original.replace("  joinedYear: Int\n", ""))
    page.get_by_role("button", name="Check the impact").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("publishing members would break the API of published product 'people'")
    expect(refusal).to_contain_text("joinedYear")
    expect(schema).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Publish", exact=True)).to_be_disabled()
    tara.check("publishing: a breaking change refused")
    tara.screenshot("publish-refused")

    schema.fill(original.replace("  tier: Tier!\n", "  tier: Tier!\n  nickname: String\n"))
    page.get_by_role("button", name="Check the impact").click()
    expect(page.get_by_role("status", name="If you publish this")).to_contain_text("Service members: updated")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status", name="Published")).to_contain_text("Service members: updated")
    page.get_by_role("button", name="Check the impact").click()  # published: the same schema changes nothing now
    expect(page.get_by_role("status", name="If you publish this")).to_contain_text("Nothing changes")
    tara.check("publishing: an addition published")

    # a breaking change the product's team admin decides to make anyway: forced, and audited
    added = schema.input_value()
    schema.fill(added.replace("displayName: String!", "displayName: String"))
    page.get_by_role("button", name="Check the impact").click()
    expect(page.get_by_role("alert")).to_contain_text("would break the API of published product 'people'")
    force = page.get_by_role("button", name="Publish anyway")
    expect(force).to_be_disabled()
    page.get_by_label("I understand this breaks the product").check()
    force.click()
    expect(page.get_by_role("status", name="Published")).to_contain_text("Service members: updated")
    expect(page.get_by_role("alert")).to_have_count(0)
    tara.check("publishing: a breaking change forced")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("service.publish.force")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="service.publish.force")).to_have_count(1, timeout=TIMEOUT)

    cora = people()
    consumer = cora.sign_in("cora")
    expect(consumer.get_by_role("link", name="Publish")).to_have_count(0)


def test_hitting_the_plans_limit_in_graphiql_is_explained(people: Any, world: World) -> None:
    dana = people()
    page = dana.sign_in("dana", f"/catalog/{PRODUCT}?tab=try")
    _choose_key(page, "dana-trial: trial")
    expect(page.get_by_text("subscribed under plan trial")).to_be_visible()
    page.get_by_label(re.compile("Paste the key")).fill(world.trial_key)  # made outside this tab: pasted
    run = page.get_by_role("button", name="Execute query (Ctrl-Enter)")
    result = page.locator(".graphiql-response")
    expect(page.locator(".graphiql-query-editor .CodeMirror")).to_contain_text("__typename", timeout=TIMEOUT)
    statuses = []
    for _ in range(3):  # the plan allows two requests a minute
        expect(run).to_be_enabled(timeout=TIMEOUT)  # not the Stop button of a request still running
        with page.expect_response(lambda r: r.url.endswith(f"/products/{PRODUCT}/graphql")) as answer:
            run.click()
        statuses.append(answer.value.status)
        expect(run).to_be_visible(timeout=TIMEOUT)  # GraphiQL has taken the answer in
    assert statuses == [200, 200, 429]
    explained = page.get_by_role("status").filter(has_text="429")
    expect(explained).to_contain_text(
        "429 Too Many Requests: plan 'trial' allows 2 requests per minute; retry in ", timeout=TIMEOUT
    )
    expect(explained).to_contain_text("all your applications on this plan and product")
    expect(result).to_contain_text("RATE_LIMITED")
    dana.check("GraphiQL after the plan's limit")
    dana.screenshot("graphiql-rate-limited")


def test_a_team_composes_a_product_sees_a_conflict_named_then_saves_a_draft_and_reads_its_schema(people: Any) -> None:
    tara = people()
    page = tara.sign_in("tara")
    page.get_by_role("link", name="Compose").click()
    page.get_by_label("Name", exact=True).fill("people-lite")
    page.get_by_label("members", exact=True).check()
    page.get_by_label("directory", exact=True).check()
    page.get_by_label("eu-central (eu)").check()
    page.get_by_label("Lifecycle").select_option("published")
    page.get_by_role("button", name="Check the composition").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("would break the composition of published product 'people-lite'", timeout=TIMEOUT)
    expect(refusal).to_contain_text("Query.member")
    expect(page.get_by_role("button", name="Save this version")).to_be_disabled()
    tara.check("the composer: a conflict named")
    tara.screenshot("compose-refused", full_page=True)

    page.get_by_label("Hide from directory").fill("Query.member")
    page.get_by_label("Hide from members").fill("Member.joinedYear")
    page.get_by_label("Lifecycle").select_option("draft")
    page.get_by_role("button", name="Check the composition").click()
    expect(page.get_by_role("status", name="If you save this")).to_contain_text("Product people-lite: created")
    page.get_by_role("button", name="Save this version").click()
    page.get_by_role("link", name="See people-lite's schema").click()
    member = page.get_by_role("article", name=re.compile(r"Member$"))
    expect(member).to_contain_text("displayName", timeout=TIMEOUT)
    expect(member).not_to_contain_text("joinedYear")
    expect(page.get_by_role("article", name=re.compile(r"Query$"))).to_contain_text("branches: [String!]!")
    expect(page.get_by_role("heading", name="people-lite", level=1)).to_be_visible()
    tara.check("the composed draft's schema")
