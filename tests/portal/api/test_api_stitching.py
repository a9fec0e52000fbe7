"""A product's stitching through the admin API (issue 9 after issue 10): renames by pattern, ``prefer`` and
``links`` are read back as typed fields, previewed as the composer changes them, and refused with the same text and
the same field path as ``loom apply`` refuses them, through the real portal app on a real database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.portal.api.conftest import Gql, Person, audit_after, codes, last_audit_id
from tests.portal.api.test_api_shapes import APPLY, PREVIEW, product, service

MEMBERS = "type Query { member(id: ID!): Member } type Member { id: ID! name: String! tier: Int }"
LENDING = "type Query { loans: [Loan!]! } type Loan { id: ID! memberId: ID! } type Member { id: ID! tier: String }"
DIRECTORY = "type Query { member(id: ID!): String branches: [String!]! }"
LINK = {"type": "Loan", "field": "borrower", "service": "members", "operation": "member"} | {
    "arguments": {"id": "memberId"}
}
RENAMED = {"service": "directory", "rootFieldPatterns": {"(.*)": "directory_\\1"}}
VERSION = """{ product(name: "shop") { versions {
  sources { service transforms { typePatterns { pattern replacement } rootFieldPatterns { pattern replacement } } }
  prefer { type service }
  links { type field service operation arguments { argument from } description returns } } } }"""


async def _services(gql: Gql, admin: Person) -> None:
    members = service("members", MEMBERS, entities={"Member": {"key": "id", "operation": "member", "argument": "id"}})
    body = await gql(APPLY, {"d": [members, service("lending", LENDING), service("directory", DIRECTORY)]}, as_=admin)
    assert "errors" not in body, body


def _lending(*, prefer: dict[str, str] | None = None, links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    doc = product({"service": "members"}, {"service": "lending"}, RENAMED)
    doc["spec"] |= {"prefer": prefer or {}, "links": links or []}
    return doc


async def _refusals(gql: Gql, admin: Person, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The error of the preview and of a dry-run apply of ``doc``: each the only one of its answer."""
    [previewed] = (await gql(PREVIEW, {"d": doc}, as_=admin))["errors"]
    [applied] = (await gql(APPLY, {"d": [doc], "dry": True}, as_=admin))["errors"]
    return previewed, applied


async def test_the_preview_shows_a_conflict_that_prefer_resolves_and_the_link_in_the_schema(
    gql: Gql, people: dict[str, Person]
) -> None:
    admin = people["team-admin"]
    await _services(gql, admin)
    clash = (await gql(PREVIEW, {"d": _lending()}, as_=admin))["data"]["composePreview"]
    assert clash["composes"] is False
    assert clash["conflicts"] == [
        'Member.tier: "Int" in service "members" vs "String" in service "lending" (or let one service\'s definition '
        "win: prefer: {Member: members} in the Product)"
    ]
    unrenamed = _lending(prefer={"Member": "members"})
    unrenamed["spec"]["sources"][2] = {"service": "directory"}
    conflicts = (await gql(PREVIEW, {"d": unrenamed}, as_=admin))["data"]["composePreview"]["conflicts"]
    assert any(c.startswith("Query.member:") and "directory" in c for c in conflicts), conflicts

    fine = await gql(PREVIEW, {"d": _lending(prefer={"Member": "members"}, links=[LINK])}, as_=admin)
    preview = fine["data"]["composePreview"]
    assert preview["composes"] is True and preview["conflicts"] == [], preview
    assert "directory_member(id: ID!): String" in preview["sdl"] and "directory_branches" in preview["sdl"]
    assert "borrower: Member" in preview["sdl"] and "tier: Int" in preview["sdl"]


async def test_wrong_stitching_is_refused_beside_its_field_as_apply_refuses_it(
    gql: Gql, people: dict[str, Person]
) -> None:
    admin = people["team-admin"]
    await _services(gql, admin)
    cases = {
        "spec.links[0].operation": _lending(prefer={"Member": "members"}, links=[LINK | {"operation": "memberById"}]),
        "spec.links[0].arguments.id": _lending(
            prefer={"Member": "members"}, links=[LINK | {"arguments": {"id": "borrowerId"}}]
        ),
        "spec.prefer.Member": _lending(prefer={"Member": "shelf"}),
        "spec.links[1].field": _lending(prefer={"Member": "members"}, links=[LINK, LINK]),
        "spec.sources[2].rootFieldPatterns": _lending() | {},
    }
    ghost = _lending(prefer={"Member": "ghost"})  # the unknown source first, as apply checks it
    ghost["spec"]["sources"].append({"service": "ghost"})
    cases["spec.sources[3].service"] = ghost
    cases["spec.sources[2].rootFieldPatterns"]["spec"]["sources"][2] = {
        "service": "directory",
        "rootFieldPatterns": {"(.*": "x"},
    }
    for field, doc in cases.items():
        previewed, applied = await _refusals(gql, admin, doc)
        assert codes({"errors": [previewed, applied]}) == ["INVALID", "INVALID"], (field, previewed, applied)
        assert previewed["extensions"]["location"]["field"] == field, (field, previewed)
        assert applied["extensions"]["location"]["field"] == field, (field, applied)
        assert previewed["extensions"]["detail"] == applied["extensions"]["detail"], field
    previewed, _ = await _refusals(gql, admin, cases["spec.links[0].operation"])
    assert previewed["extensions"]["detail"] == (
        'service "members" has no Query field or operation memberById (its Query fields: member)'
    )
    previewed, _ = await _refusals(gql, admin, cases["spec.prefer.Member"])
    assert previewed["extensions"]["detail"] == "'shelf' is not a source of this product (members, lending, directory)"


async def test_a_saved_version_reads_back_its_patterns_prefer_and_links_typed(
    gql: Gql, people: dict[str, Person], engine: Engine
) -> None:
    admin = people["team-admin"]
    await _services(gql, admin)
    linked = LINK | {"description": "Who borrowed the book.", "returns": "Member"}
    doc = _lending(prefer={"Member": "members"}, links=[linked])
    doc["spec"]["sources"][1]["typePatterns"] = {"(Loan)": "Lending\\1"}
    doc["spec"]["links"][0]["type"] = "LendingLoan"  # links name the product's types, after the patterns
    viewer_before = last_audit_id(engine)
    refused = await gql(APPLY, {"d": [doc]}, as_=people["viewer"])
    assert codes(refused) == ["FORBIDDEN"]
    assert [(e.action, e.outcome.value) for e in audit_after(engine, viewer_before)] == [("product.apply", "denied")]

    before = last_audit_id(engine)
    body = await gql(APPLY, {"d": [doc]}, as_=admin)
    assert "errors" not in body, body
    assert [(e.action, e.outcome.value) for e in audit_after(engine, before)] == [("product.apply", "allowed")]
    answer = await gql(VERSION, as_=people["team-member"])
    assert "errors" not in answer, answer
    [version] = answer["data"]["product"]["versions"]
    transforms = {s["service"]: s["transforms"] for s in version["sources"]}
    assert transforms["lending"]["typePatterns"] == [{"pattern": "(Loan)", "replacement": "Lending\\1"}]
    assert transforms["directory"]["rootFieldPatterns"] == [{"pattern": "(.*)", "replacement": "directory_\\1"}]
    assert transforms["members"] == {"typePatterns": [], "rootFieldPatterns": []}
    assert version["prefer"] == [{"type": "Member", "service": "members"}]
    assert version["links"] == [
        {
            "type": "LendingLoan",
            "field": "borrower",
            "service": "members",
            "operation": "member",
            "arguments": [{"argument": "id", "from": "memberId"}],
            "description": "Who borrowed the book.",
            "returns": "Member",
        }
    ]
