"""Team admin journeys in a real browser against the real portal (see conftest): the catalog's tags, publishing a new
service (pasted, introspected from its deployment, or an OpenAPI document with its ``$ref`` files in a zip) with an
error beside the field it is about and the SSRF guard's refusal explained, managing a service's deployments, the
composer's live conflicts and resulting schema, and the audit log by time."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import PRODUCT, World

pytestmark = pytest.mark.slow

TIMEOUT = 30_000  # ms a condition may take on a loaded machine

OPENAPI = """openapi: 3.0.3
info: {title: Branches, version: "1.0.0"}
paths:
  /branches/{id}:
    get:
      operationId: getBranch
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: one branch
          content:
            application/json:
              schema: {$ref: "schemas/branch.yaml"}
"""
BRANCH = """type: object
properties:
  id: {type: string}
  city: {type: string}
"""


def _select(page: Page, label: str) -> Any:
    """The drop-down labelled ``label`` (a label around a select also reads its options, so match its start)."""
    return page.get_by_role("combobox", name=re.compile(rf"^{label}\b"))


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buffer.getvalue()


def _new_service(page: Page, name: str, protocol: str) -> None:
    _select(page, "Service").select_option("")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Protocol").select_option(protocol)


def _add_deployment(page: Page, address: str) -> None:
    page.get_by_role("button", name="Add a deployment").click()
    row = page.get_by_role("group", name="Deployment 1")
    expect(row.get_by_label("Cluster")).to_have_value("eu-central")  # the team's one placement, chosen for it
    row.get_by_role("textbox", name="Address").fill(address)


def _check_then_publish(page: Page, created: str) -> None:
    page.get_by_role("button", name="Check the impact").click()
    expect(page.get_by_role("status", name="If you publish this")).to_contain_text(created, timeout=TIMEOUT)
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status", name="Published")).to_contain_text(created, timeout=TIMEOUT)


def test_the_catalog_shows_tags_and_filters_by_them(people: Any) -> None:
    cora = people()
    page = cora.sign_in("cora")
    cards = page.get_by_role("list", name="Products").locator(":scope > li")  # not the tags' items in them
    card = cards.filter(has=page.get_by_role("link", name=PRODUCT, exact=True))
    beta = cards.filter(has=page.get_by_role("link", name="people-next", exact=True))
    expect(card.get_by_role("list", name="Tags")).to_have_text(re.compile("library.*members"), timeout=TIMEOUT)
    _select(page, "Tag").select_option("beta")
    expect(beta).to_be_visible()
    expect(card).to_have_count(0)
    _select(page, "Tag").select_option("")
    page.get_by_label("Search").fill("members")  # the search reads tags too: both products carry it
    expect(card).to_be_visible()
    expect(beta).to_be_visible()
    page.get_by_label("Search").fill("")
    card.get_by_role("link", name="Products tagged library").click()  # a tag is a link to the catalog filtered by it
    expect(page).to_have_url(re.compile(r"/\?tag=library$"))
    expect(_select(page, "Tag")).to_have_value("library")
    expect(cards).to_have_count(1)
    expect(card).to_be_visible()
    cora.check("the catalog filtered by a tag")
    cora.screenshot("catalog-tags")
    page.reload()  # the filters live in the address
    expect(cards).to_have_count(1, timeout=TIMEOUT)


def test_a_team_publishes_new_services_and_sees_errors_beside_their_fields(
    people: Any, world: World, tmp_path: Path
) -> None:
    tara = people()
    page = tara.sign_in("tara")
    page.get_by_role("link", name="Publish").click()

    # pasted SDL, with an address that is no URL: the error is beside that address
    _new_service(page, "branches", "graphql")
    page.get_by_label("Schema (SDL)").fill("type Query {\n  branches: [String!]!\n}\n")
    _add_deployment(page, "not a url")
    page.get_by_role("button", name="Check the impact").click()
    address = page.get_by_role("group", name="Deployment 1").get_by_role("textbox", name="Address")
    expect(address).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    described = address.get_attribute("aria-describedby")
    assert described
    expect(page.locator(f"#{described}")).to_contain_text("http")
    expect(page.get_by_role("alert")).to_contain_text("see the field marked above")
    tara.check("publishing: an error beside its field")
    tara.screenshot("publish-field-error", full_page=True)
    address.fill(world.members_url)
    expect(address).to_have_attribute("aria-invalid", "false")
    _check_then_publish(page, "Service branches: created")
    tara.check("publishing: a new service")

    # introspected from its deployment: the SSRF guard refuses a metadata address, and says why beside the field
    _new_service(page, "members-mirror", "graphql")
    _add_deployment(page, "http://169.254.169.254")
    page.get_by_label("Introspect a deployment").check()
    expect(page.get_by_label("From the deployment in")).to_have_value("eu-central")
    page.get_by_label("Introspection path").fill("/graphql")
    page.get_by_role("button", name="Check the impact").click()
    source = page.get_by_label("From the deployment in")
    expect(source).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    refusal = page.locator("#service-introspect-error")
    expect(refusal).to_contain_text("169.254.169.254")
    expect(refusal).to_contain_text("SSRF guard refused this address")
    expect(page.get_by_role("alert")).to_contain_text("The SSRF guard refused an address")
    tara.check("publishing: the SSRF guard's refusal")
    tara.screenshot("publish-ssrf-refused", full_page=True)
    page.get_by_role("group", name="Deployment 1").get_by_role("textbox", name="Address").fill(world.members_url)
    _check_then_publish(page, "Service members-mirror: created")

    # an OpenAPI document with a $ref file, uploaded as one zip
    _new_service(page, "branch-api", "openapi")
    upload = {"name": "branches.zip", "mimeType": "application/zip",
              "buffer": _zip({"api/openapi.yaml": OPENAPI, "api/schemas/branch.yaml": BRANCH})}  # fmt: skip
    page.get_by_label("Upload a .zip").set_input_files(upload)
    expect(page.get_by_label("Main document")).to_have_value("api/openapi.yaml")
    expect(page.get_by_label("OpenAPI document (YAML or JSON)")).to_have_value(re.compile("operationId: getBranch"))
    expect(page.get_by_label("Referenced files")).to_contain_text("schemas/branch.yaml")
    _add_deployment(page, world.members_url)
    _check_then_publish(page, "Service branch-api: created")
    tara.check("publishing: an OpenAPI document with its $ref files")

    # the same as a folder: its files keep their paths inside it
    folder = tmp_path / "branches-api"
    (folder / "schemas").mkdir(parents=True)
    (folder / "openapi.yaml").write_text(OPENAPI.replace("title: Branches", "title: Branches again"))
    (folder / "schemas" / "branch.yaml").write_text(BRANCH)
    _new_service(page, "branch-api-2", "openapi")
    page.get_by_label("Upload a folder").set_input_files(folder)
    expect(page.get_by_label("Main document")).to_have_value("openapi.yaml")
    expect(page.get_by_label("Referenced files")).to_contain_text("schemas/branch.yaml")
    _add_deployment(page, world.members_url)
    _check_then_publish(page, "Service branch-api-2: created")

    # the new services are the team's: they are in the list to change later, their schema as published
    _select(page, "Service").select_option("members-mirror")
    expect(page.get_by_label("Schema (SDL)")).to_have_value(re.compile(r"joinedYear"), timeout=TIMEOUT)


def test_a_team_manages_a_services_deployments(people: Any) -> None:
    tara = people()
    page = tara.sign_in("tara", "/publish")
    _select(page, "Service").select_option("directory")
    row = page.get_by_role("group", name="Deployment 1")
    expect(row.get_by_label("Cluster")).to_have_value("eu-central", timeout=TIMEOUT)
    row.get_by_label("Health check path").fill("ready")  # no leading slash: refused beside the field
    page.get_by_role("button", name="Check the impact").click()
    health = row.get_by_label("Health check path")
    expect(health).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    expect(row).to_contain_text("must start with '/'")
    health.fill("/ready")
    _check_then_publish(page, "Service directory: updated")
    page.reload()
    _select(page, "Service").select_option("directory")
    expect(page.get_by_role("group", name="Deployment 1").get_by_label("Health check path")).to_have_value(
        "/ready", timeout=TIMEOUT
    )
    tara.check("a service's deployments")


def test_the_composer_shows_conflicts_and_the_schema_as_they_change(people: Any) -> None:
    tara = people()
    page = tara.sign_in("tara", "/compose")
    page.get_by_label("Name", exact=True).fill("people-live")
    page.get_by_label("members", exact=True).check()
    live = page.get_by_role("region", name="Live composition")
    schema = live.get_by_label("The resulting schema")
    expect(schema).to_contain_text("joinedYear", timeout=TIMEOUT)  # one service: its schema, no button pressed
    page.get_by_label("directory", exact=True).check()
    conflicts = live.get_by_role("list", name="Conflicts")
    expect(conflicts).to_contain_text("Query.member", timeout=TIMEOUT)
    expect(schema).to_have_count(0)
    tara.check("the composer: a live conflict")
    tara.screenshot("compose-live-conflict", full_page=True)

    page.get_by_label("Rename fields of directory").fill("Query.member=directoryMember")
    expect(conflicts).to_have_count(0, timeout=TIMEOUT)
    expect(schema).to_contain_text("directoryMember(id: ID!): String", timeout=TIMEOUT)
    page.get_by_label("Prefix for directory's types").fill("Dir")
    page.get_by_label("Hide from members").fill("Member.joinedYear")
    expect(schema).not_to_contain_text("joinedYear", timeout=TIMEOUT)
    expect(live).to_contain_text("without conflicts")

    version = page.get_by_label("Version", exact=True)
    version.fill("one")  # not a semantic version: the preview says so beside the field
    expect(version).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT)
    expect(page.locator("#compose-version-error")).to_contain_text("must be a semantic version such as 1.2.0")
    version.fill("0.1.0")
    expect(version).to_have_attribute("aria-invalid", "false", timeout=TIMEOUT)
    page.get_by_label("Display name in the catalog").fill("People, live")
    page.get_by_label("Tags (comma-separated)").fill("members, live")
    page.get_by_role("button", name="Check the composition").click()
    expect(page.get_by_role("status", name="If you save this")).to_contain_text("Product people-live: created")
    page.get_by_role("button", name="Save this version").click()
    expect(page.get_by_role("link", name="See people-live's schema")).to_be_visible(timeout=TIMEOUT)
    tara.check("the composer: conflicts resolved, saved")
    page.goto(tara.world.url + "/catalog/people-live?tab=versions")  # the version says what it is built from
    built = page.get_by_role("row").filter(has_text="0.1.0").get_by_role("cell").nth(3)
    expect(built).to_contain_text(re.compile(r"members v\d+ \(hides Member\.joinedYear\)"), timeout=TIMEOUT)
    expect(built).to_contain_text(re.compile(r"directory v\d+ \(prefix Dir, Query\.member → directoryMember\)"))
    tara.check("a version's sources and transforms")
    page.get_by_role("link", name="Catalog").first.click()
    _select(page, "Tag").select_option("live")
    expect(page.get_by_role("link", name="People, live", exact=True)).to_be_visible(timeout=TIMEOUT)


def test_the_audit_log_filters_by_time_and_pages(people: Any) -> None:
    tara = people()
    page = tara.sign_in("tara", "/audit")
    rows = page.get_by_role("row").filter(has_text="login")
    expect(rows.first).to_be_visible(timeout=TIMEOUT)  # her own sign-in
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    yesterday = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("From").fill(tomorrow)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No event matches these filters.")).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("From").fill(yesterday)
    page.get_by_role("button", name="Filter").click()
    expect(rows.first).to_be_visible(timeout=TIMEOUT)
    page.get_by_label("Until").fill(yesterday)  # not after From: refused, beside Until
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("must be later than since", timeout=TIMEOUT)
    expect(page.get_by_label("Until")).to_have_attribute("aria-invalid", "true")
    tara.check("the audit log, a time range refused")
    page.get_by_role("button", name="Clear").click()
    expect(rows.first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    tara.check("the audit log by time")
    tara.screenshot("audit-by-time")
