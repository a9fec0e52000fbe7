"""Stitching a product owner expresses in the Product resource: renames by pattern, which service's definition of a
shared type wins (``prefer``), and ``links`` between services that share no entity. Each is applied through
``apply`` (the code behind ``loom apply`` and the admin API), and the gateway built from the portal's snapshot
answers with real upstream services on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import build_schema
from sqlalchemy.engine import Engine

from portal.db import session_scope
from portal.errors import LoomError
from portal.manifests import parse_documents
from portal.resources import get
from portal.snapshot import build_snapshot
from stitcher.app import create_gateway_app
from stitcher.options import GatewayOptions, Timeouts
from stitcher.snapshot_source import StaticSnapshotSource
from tests._serving import serving
from tests.portal._apply import ADMIN, counts, run
from tests.stitcher.upstreams.app import GraphQLApp

MEMBERS_SDL = """
type Query {
  member(id: ID!): Member
  membersByIds(ids: [ID!]!): [Member]!
  status: Status!
}
"A library member."
type Member { id: ID! name: String! level: Int }
type Status { healthy: Boolean! since: String }
"""

# The loans service knows a borrower by id and has its own idea of a member's level, and of a status.
LOANS_SDL = """
type Query {
  loans: [Loan!]!
  loan(id: ID!): Loan
  status: Status!
}
type Loan { id: ID! memberId: ID! title: String! borrower: Member }
type Member { id: ID! level: String }
type Status { healthy: Int! }
"""

MEMBERS = {"m1": {"id": "m1", "name": "Ada", "level": 3}, "m2": {"id": "m2", "name": "Grace", "level": 5}}
LOANS = [
    {"id": "l1", "memberId": "m1", "title": "Dune"},
    {"id": "l2", "memberId": "m2", "title": "Emma"},
    {"id": "l3", "memberId": "m1", "title": "Ulysses"},
]


def members_app() -> GraphQLApp:
    root = {
        "member": lambda _info, id: MEMBERS.get(id),
        "membersByIds": lambda _info, ids: [MEMBERS.get(i) for i in ids],
        "status": lambda _info: {"healthy": True, "since": "2020"},
    }
    return GraphQLApp(build_schema(MEMBERS_SDL), root, cache=False)


def _loan(loan: dict[str, Any]) -> dict[str, Any]:
    return {**loan, "borrower": {"id": loan["memberId"], "level": "gold"}}


def loans_app() -> GraphQLApp:
    root = {
        "loans": lambda _info: [_loan(loan) for loan in LOANS],
        "loan": lambda _info, id: next((_loan(loan) for loan in LOANS if loan["id"] == id), None),
        "status": lambda _info: {"healthy": 1},
    }
    return GraphQLApp(build_schema(LOANS_SDL), root, cache=False)


@dataclass
class Upstreams:
    members: GraphQLApp
    loans: GraphQLApp
    members_url: str
    loans_url: str


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    members, loans = members_app(), loans_app()
    with serving(members, "members") as members_url, serving(loans, "loans") as loans_url:
        yield Upstreams(members, loans, members_url, loans_url)


def _meta(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, **more}


# members resolves a Member by id (merge configuration), so loans' borrowers get their other fields there.
MEMBER_ENTITY = {"Member": {"key": "id", "operation": "member"}}
# loans' root fields and its Status type are renamed, so they do not clash with members' own.
LOANS_APART = {
    "service": "loans",
    "typePatterns": {"Status": "LendingStatus"},
    "rootFieldPatterns": {"(.*)": "lending_\\1"},
}


def resources(up: Upstreams, product_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A cluster, a team, the two services (inline SDL, reached on loopback) and the product."""
    services = {
        "members": graphql_service(MEMBERS_SDL, f"{up.members_url}/graphql", MEMBER_ENTITY),
        "loans": graphql_service(LOANS_SDL, f"{up.loans_url}/graphql"),
    }
    return team_resources("library", services, "lending", product_spec)


def graphql_service(sdl: str, url: str, entities: dict[str, Any] | None = None) -> dict[str, Any]:
    """The spec of a GraphQL Service with inline SDL, deployed at ``url`` on the cluster ``here``."""
    spec = {"protocol": "graphql", "schema": {"sdl": sdl}, "deployments": [{"cluster": "here", "address": url}]}
    return {**spec, "entities": entities} if entities else spec


def team_resources(
    team: str, services: dict[str, dict[str, Any]], product: str, product_spec: dict[str, Any]
) -> list[dict[str, Any]]:
    """A cluster ``here`` (loopback introspection allowed), ``team`` placed on it, its ``services`` (name -> spec)
    and its published ``product``."""
    head = {"apiVersion": "loom.dev/v1alpha1"}
    cluster = {
        "region": "local",
        "residency": "eu",
        "gloo": {"target": "gitops"},
        "introspection": {"allowLoopback": True},
    }
    return [
        {**head, "kind": "Cluster", "metadata": _meta("here"), "spec": cluster},
        {**head, "kind": "Team", "metadata": _meta(team), "spec": {"placements": [{"cluster": "here"}]}},
        *({**head, "kind": "Service", "metadata": _meta(name, team=team), "spec": s} for name, s in services.items()),
        {
            **head,
            "kind": "Product",
            "metadata": _meta(product, team=team),
            "spec": {"version": "1.0.0", "lifecycle": "published", **product_spec},
        },
    ]


def applied(engine: Engine, documents: list[dict[str, Any]]) -> None:
    run(engine, parse_documents(documents))


def refused(engine: Engine, documents: list[dict[str, Any]]) -> str:
    """The error of an apply that must change nothing."""
    before = counts(engine)
    with pytest.raises(LoomError) as info:
        run(engine, parse_documents(documents))
    assert counts(engine) == before
    return str(info.value)


@contextlib.asynccontextmanager
async def gateway(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway serving the portal's snapshot (products open, so no credentials are needed)."""
    with session_scope(engine) as session:
        snapshot = build_snapshot(session, issuer="http://portal.test")
    products = [p.model_copy(update={"auth_required": False}) for p in snapshot.products]
    source = StaticSnapshotSource(snapshot.model_copy(update={"products": products}))
    options = GatewayOptions(freeze_gc=False, timeouts=Timeouts(poll_interval_seconds=0.05))
    app = create_gateway_app(source=source, options=options)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        for _ in range(500):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.01)
        yield client


async def ask(client: httpx.AsyncClient, query: str, product: str = "lending") -> dict[str, Any]:
    answer = await client.post(f"/products/{product}/graphql", json={"query": query})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


# --- renames by pattern ---------------------------------------------------------------------------------------


async def test_pattern_renames_in_the_product_reach_the_gateway(engine: Engine, upstreams: Upstreams) -> None:
    loans = {
        "service": "loans",
        "typePatterns": {"(Loan|Status|Member)": "Lending\\1"},
        "rootFieldPatterns": {"(.*)": "lending_\\1"},
    }
    applied(engine, resources(upstreams, {"sources": [{"service": "members"}, loans]}))
    async with gateway(engine) as client:
        answer = await ask(client, "{ lending_loans { id title } lending_status { healthy } status { healthy } }")
        shape = await ask(client, '{ __type(name: "LendingLoan") { name } loan: __type(name: "Loan") { name } }')
    assert answer == {
        "data": {
            "lending_loans": [
                {"id": "l1", "title": "Dune"},
                {"id": "l2", "title": "Emma"},
                {"id": "l3", "title": "Ulysses"},
            ],
            "lending_status": {"healthy": 1},
            "status": {"healthy": True},
        }
    }
    assert shape == {"data": {"__type": {"name": "LendingLoan"}, "loan": None}}
    with session_scope(engine) as session:  # get prints them back as written
        printed = get(session, ADMIN, "Product", "lending")
    assert printed[0]["spec"]["sources"][1] == loans


@pytest.mark.parametrize(
    ("source", "where", "message"),
    [
        (
            {"typePatterns": {"(Loan": "X"}},
            "spec.sources[1].typePatterns",
            "'(Loan' is not a regular expression: missing ), unterminated subpattern at position 0",
        ),
        (
            {"rootFieldPatterns": {"(.*)": "lending_\\2"}},
            "spec.sources[1].rootFieldPatterns",
            "'(.*)': the replacement 'lending_\\\\2' refers to group 2, which the pattern does not have (it has 1)",
        ),
    ],
)
def test_a_bad_pattern_is_refused_at_apply_naming_it(
    engine: Engine, upstreams: Upstreams, source: dict[str, Any], where: str, message: str
) -> None:
    spec = {"sources": [{"service": "members"}, {"service": "loans", **source}]}
    error = refused(engine, resources(upstreams, spec))
    assert error == f"request: document 5 (Product/lending): {where}: {message}"


def test_a_pattern_giving_no_name_is_refused_by_composition(engine: Engine, upstreams: Upstreams) -> None:
    spec = {"sources": [{"service": "members"}, {"service": "loans", "typePatterns": {"Loan": "Loan-Item"}}]}
    error = refused(engine, resources(upstreams, spec))
    assert "type_patterns: Loan becomes 'Loan-Item', not a name" in error


# --- which service's definition of a shared type wins --------------------------------------------------------


def test_a_conflict_over_a_shared_type_suggests_prefer(engine: Engine, upstreams: Upstreams) -> None:
    error = refused(engine, resources(upstreams, {"sources": [{"service": "members"}, LOANS_APART]}))
    assert (
        'Member.level: "Int" in service "members" vs "String" in service "loans" (or let one service\'s definition '
        "win: prefer: {Member: members} in the Product)" in error
    )


async def test_the_preferred_definition_wins_and_the_gateway_fetches_it_there(
    engine: Engine, upstreams: Upstreams
) -> None:
    spec = {"sources": [{"service": "members"}, LOANS_APART], "prefer": {"Member": "members"}}
    applied(engine, resources(upstreams, spec))
    async with gateway(engine) as client:
        answer = await ask(client, '{ lending_loan(id: "l2") { title borrower { id name level } } }')
        level = await ask(client, '{ __type(name: "Member") { fields { name type { name } } } }')
    # loans' level (a String) left the product: the level comes from members, with the name, in one entity fetch
    assert answer == {
        "data": {"lending_loan": {"title": "Emma", "borrower": {"id": "m2", "name": "Grace", "level": 5}}}
    }
    fields = {f["name"]: f["type"]["name"] for f in level["data"]["__type"]["fields"]}
    assert fields == {"id": None, "name": None, "level": "Int"}
    with session_scope(engine) as session:
        assert get(session, ADMIN, "Product", "lending")[0]["spec"]["prefer"] == {"Member": "members"}


@pytest.mark.parametrize(
    ("prefer", "where", "message"),
    [
        ({"Member": "catalog"}, "spec.prefer.Member", "'catalog' is not a source of this product (members, loans)"),
        ({"Ghost": "members"}, "spec.prefer.Ghost", "no source defines a type Ghost (names are the product's)"),
        ({"Loan": "members"}, "spec.prefer.Loan", 'service "members" does not define Loan (defined by "loans")'),
    ],
)
def test_a_prefer_that_does_not_fit_is_refused_naming_it(
    engine: Engine, upstreams: Upstreams, prefer: dict[str, str], where: str, message: str
) -> None:
    spec = {"sources": [{"service": "members"}, LOANS_APART], "prefer": prefer, "lifecycle": "draft"}
    error = refused(engine, resources(upstreams, spec))
    assert error == f"request: document 5 (Product/lending): {where}: {message}"


# --- links between services that share no entity -------------------------------------------------------------

LINKS = [
    {
        "type": "Loan",
        "field": "member",
        "service": "members",
        "operation": "member",
        "arguments": {"id": "memberId"},
        "returns": "Member",
    },
    {
        "type": "Loan",
        "field": "holder",
        "service": "members",
        "operation": "membersByIds",
        "arguments": {"ids": "memberId"},
        "description": "Who holds the book now.",
    },
]


async def test_links_join_services_through_the_gateway(engine: Engine, upstreams: Upstreams) -> None:
    spec = {"sources": [{"service": "members"}, LOANS_APART], "prefer": {"Member": "members"}, "links": LINKS}
    applied(engine, resources(upstreams, spec))
    before = len(upstreams.members.bodies)
    async with gateway(engine) as client:
        answer = await ask(client, "{ lending_loans { title member { name } holder { id level } h: holder { name } } }")
        described = await ask(client, '{ __type(name: "Loan") { fields { name description } } }')
    ada, grace = {"name": "Ada"}, {"name": "Grace"}
    assert answer == {
        "data": {
            "lending_loans": [
                {"title": "Dune", "member": ada, "holder": {"id": "m1", "level": 3}, "h": ada},
                {"title": "Emma", "member": grace, "holder": {"id": "m2", "level": 5}, "h": grace},
                {"title": "Ulysses", "member": ada, "holder": {"id": "m1", "level": 3}, "h": ada},
            ]
        }
    }
    sent = upstreams.members.bodies[before:]
    # two links, so two entity fetches of one request each: member() once per distinct id, membersByIds once with
    # every id (each response key of the link field a call of its own)
    assert len(sent) == 2
    queries = sorted(body["query"] for body in sent)
    assert queries[0].count("member(id:") == 2 and "membersByIds" not in queries[0]
    assert queries[1].count("membersByIds(ids:") == 2
    fields = {f["name"]: f["description"] for f in described["data"]["__type"]["fields"]}
    assert fields["holder"] == "Who holds the book now."
    assert fields["member"] == "Linked by the product: member(id: Loan.memberId) of service members"
    with session_scope(engine) as session:
        assert get(session, ADMIN, "Product", "lending")[0]["spec"]["links"] == LINKS


async def test_a_self_link_is_applied_and_served(engine: Engine, upstreams: Upstreams) -> None:
    """A link from a type to its own service's operation returning that type (refused before): ``Loan.again`` is
    ``lending_loan(id: <the loan's id>)`` of loans, one more call per level."""
    again = {
        "type": "Loan",
        "field": "again",
        "service": "loans",
        "operation": "lending_loan",
        "arguments": {"id": "id"},
    }
    spec = {"sources": [{"service": "members"}, LOANS_APART], "prefer": {"Member": "members"}, "links": [again]}
    applied(engine, resources(upstreams, spec))
    before = len(upstreams.loans.bodies)
    async with gateway(engine) as client:
        answer = await ask(client, "{ lending_loans { title again { id again { title } } } }")
    assert answer == {
        "data": {
            "lending_loans": [
                {"title": t, "again": {"id": i, "again": {"title": t}}}
                for i, t in (("l1", "Dune"), ("l2", "Emma"), ("l3", "Ulysses"))
            ]
        }
    }
    assert len(upstreams.loans.bodies) - before == 3  # the loans, then one call per level (each with every id)


def _link(**changes: Any) -> list[dict[str, Any]]:
    return [{**LINKS[0], **changes}]


@pytest.mark.parametrize(
    ("links", "where", "message"),
    [
        (
            _link(service="catalog"),
            "spec.links[0].service",
            "'catalog' is not a source of this product (members, loans)",
        ),
        (
            _link(type="Book"),
            "spec.links[0].type",
            "no source defines an object type or interface Book (names are the product's)",
        ),
        (
            _link(field="title"),
            "spec.links[0].field",
            'Loan.title exists already (in service "loans"); choose a free name for the link',
        ),
        (
            _link(operation="memberById"),
            "spec.links[0].operation",
            'service "members" has no Query field or operation memberById (its Query fields: member, membersByIds, '
            "status)",
        ),
        (
            _link(arguments={"memberId": "memberId"}),
            "spec.links[0].arguments.memberId",
            "Query.member of service 'members' has no argument memberId (arguments: id)",
        ),
        (_link(arguments={"id": "borrowerId"}), "spec.links[0].arguments.id", "Loan has no field borrowerId"),
        (
            _link(arguments={"id": "borrower"}),
            "spec.links[0].arguments.id",
            "Loan.borrower is Member; a link passes scalar or enum fields",
        ),
        ([LINKS[0], LINKS[0]], "spec.links[1].field", "Loan.member is linked twice"),
        (
            _link(returns="Status"),
            "spec.links[0].returns",
            "Query.member of service 'members' returns Member, not Status",
        ),
    ],
)
def test_a_link_that_does_not_fit_is_refused_naming_it(
    engine: Engine, upstreams: Upstreams, links: list[dict[str, Any]], where: str, message: str
) -> None:
    spec = {"sources": [{"service": "members"}, LOANS_APART], "prefer": {"Member": "members"}, "links": links}
    error = refused(engine, resources(upstreams, {**spec, "lifecycle": "draft"}))
    assert error == f"request: document 5 (Product/lending): {where}: {message}"


# --- the same through the admin API --------------------------------------------------------------------------

APPLY = "mutation($d: JSON!) { apply(documents: $d) { kind name action } }"


def _admin_token(engine: Engine) -> str:
    from sqlmodel import Session

    from portal.accounts import create_token, create_user
    from portal.authorization import Actor

    with Session(engine) as session:
        user = create_user(session, Actor.system("test-setup"), name="root", role="platform-admin")
        token = create_token(session, Actor.system("test-setup"), user, name="test").token
        session.commit()
    return token


async def test_the_admin_api_applies_links_and_names_a_bad_one(
    engine: Engine, upstreams: Upstreams, client: httpx.AsyncClient
) -> None:
    headers = {"authorization": f"Bearer {_admin_token(engine)}"}
    spec = {"sources": [{"service": "members"}, LOANS_APART], "prefer": {"Member": "members"}}
    bad = resources(upstreams, {**spec, "links": _link(operation="memberById")})
    refused = (
        await client.post("/api/graphql", json={"query": APPLY, "variables": {"d": bad}}, headers=headers)
    ).json()
    assert refused["data"] is None
    assert refused["errors"][0]["message"].startswith(
        'request: document 5 (Product/lending): spec.links[0].operation: service "members" has no Query field or '
        "operation memberById"
    )
    good = resources(upstreams, {**spec, "links": LINKS})
    applied_now = (
        await client.post("/api/graphql", json={"query": APPLY, "variables": {"d": good}}, headers=headers)
    ).json()
    assert "errors" not in applied_now, applied_now
    async with gateway(engine) as served:
        answer = await ask(served, '{ lending_loan(id: "l1") { member { name } } }')
    assert answer == {"data": {"lending_loan": {"member": {"name": "Ada"}}}}
