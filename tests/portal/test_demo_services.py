"""The demo's upstream services through their real ASGI apps (httpx.ASGITransport): they serve the library
example's own schemas, their data joins, and bad requests get the errors the schemas and the OpenAPI spec describe."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from datetime import date
from typing import Any

import httpx
import pytest
import yaml
from graphql import build_schema, get_introspection_query, graphql_sync, parse

from portal.demo_services import BOOKS, LIBRARY_EXAMPLE, MEMBERS, catalog_app, loans_app, members_app

TODAY = date(2026, 3, 1)


async def _post(app: Any, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        return await client.post("/graphql", json={"query": query, "variables": variables or {}})


async def _get(app: Any, path: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        return await client.get(path, params=params)


async def test_every_service_answers_its_health_check() -> None:
    for name, app in (("members", members_app()), ("loans", loans_app()), ("catalog", catalog_app())):
        response = await _get(app, "/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "service": name}


async def test_members_is_a_federation_subgraph_of_the_example_sdl() -> None:
    app = members_app()
    sdl = (await _post(app, "{ _service { sdl } }")).json()["data"]["_service"]["sdl"]
    assert sdl == (LIBRARY_EXAMPLE / "members.graphql").read_text()
    entities = await _post(
        app,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id displayName tier } } }",
        {"r": [{"__typename": "Member", "id": "m2"}, {"__typename": "Member", "id": "nobody"}]},
    )
    assert entities.json() == {
        "data": {"_entities": [{"id": "m2", "displayName": "Grace Hopper", "tier": "PLUS"}, None]}
    }
    members = (await _post(app, '{ members(first: 2) { id } member(id: "m4") { joinedYear } }')).json()["data"]
    assert members == {"members": [{"id": "m1"}, {"id": "m2"}], "member": {"joinedYear": None}}


async def test_loans_serves_the_example_schema_with_overdue_loans_relative_to_today() -> None:
    app = loans_app(today=TODAY)
    introspection = (await _post(app, get_introspection_query())).json()["data"]
    example = graphql_sync(build_schema((LIBRARY_EXAMPLE / "loans.graphql").read_text()), get_introspection_query())
    assert introspection == example.data
    data = (
        await _post(
            app,
            '{ loansByMemberIds(memberIds: ["m2", "m4"]) { id dueOn returned } overdueLoans { id dueOn } }',
        )
    ).json()["data"]
    assert data["loansByMemberIds"] == [
        [{"id": "l3", "dueOn": "2026-02-19", "returned": False}, {"id": "l4", "dueOn": "2026-01-30", "returned": True}],
        [],
    ]
    # l4 is past due but returned; l1 and l5 are due later.
    assert data["overdueLoans"] == [{"id": "l2", "dueOn": "2026-02-26"}, {"id": "l3", "dueOn": "2026-02-19"}]


async def test_the_data_joins_loans_reference_existing_members_and_books() -> None:
    loans = await _post(loans_app(), '{ loansByMemberIds(memberIds: ["m1", "m2", "m3"]) { memberId isbn } }')
    rows = [loan for per_member in loans.json()["data"]["loansByMemberIds"] for loan in per_member]
    assert len(rows) == 5
    catalog = catalog_app()
    for row in rows:
        assert any(member["id"] == row["memberId"] for member in MEMBERS)
        assert (await _get(catalog, f"/books/{row['isbn']}")).status_code == 200


async def test_a_loan_knows_its_member_by_id_only_the_members_subgraph_has_the_rest() -> None:
    data = (await _post(loans_app(), '{ loan(id: "l3") { memberId member { id } } }')).json()["data"]
    assert data == {"loan": {"memberId": "m2", "member": {"id": "m2"}}}
    member_fields = build_schema((LIBRARY_EXAMPLE / "loans.graphql").read_text()).type_map["Member"].fields  # type: ignore[attr-defined]
    assert set(member_fields) == {"id"}  # the key: the product fetches displayName etc. from members' _entities


def test_a_service_runs_as_a_process_on_an_inherited_socket_and_stops_on_sigterm() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.demo_services", "catalog", "--fd", str(sock.fileno())],
            pass_fds=[sock.fileno()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    try:  # our copy is closed: only the child listens; the kernel queues connections until it serves them
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60, trust_env=False)
        assert health.json() == {"status": "ok", "service": "catalog"}
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output


def test_a_service_process_that_cannot_listen_says_why() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "portal.demo_services", "members", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.startswith("demo members: cannot listen: ") and "Address already in use" in result.stderr


async def test_graphql_bad_requests_are_graphql_errors() -> None:
    app = loans_app()
    assert (await _post(app, "{ loan(id: 1) { nope } }")).status_code == 400
    broken = await _post(app, "{ loan(")
    assert broken.status_code == 400
    assert "Syntax Error" in broken.json()["errors"][0]["message"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        not_json = await client.post("/graphql", content=b"{", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        assert "not JSON" in not_json.json()["errors"][0]["message"]
        assert (await client.get("/graphql")).status_code == 405


def _response_schema(path: str, method: str, status: str) -> Any:
    spec = yaml.safe_load((LIBRARY_EXAMPLE / "catalog.openapi.yaml").read_text())
    return spec["paths"][path][method]["responses"][status]


async def test_catalog_books_follow_the_openapi_spec() -> None:
    app = catalog_app()
    books = (await _get(app, "/books")).json()
    assert [b["isbn"] for b in books] == [b["isbn"] for b in BOOKS]
    required = {"isbn", "title"}
    allowed = {"isbn", "title", "authors", "format", "published"}
    for book in books:
        assert required <= book.keys() <= allowed
        assert book["format"]["kind"] in ("print", "ebook")
    computing = (await _get(app, "/books", subject="computing", limit=2)).json()
    assert [b["title"] for b in computing] == ["Introduction to Algorithms", "The C Programming Language"]
    dune = (await _get(app, "/books/9780441172719")).json()
    assert dune["format"] == {"kind": "print", "pages": 412}
    assert _response_schema("/books/{isbn}", "get", "404")  # the spec declares the 404 the service gives
    missing = await _get(app, "/books/0000000000")
    assert (missing.status_code, missing.json()) == (404, {"title": "no book with isbn 0000000000", "status": 404})


@pytest.mark.parametrize(("limit", "reason"), [("many", "must be an integer"), ("101", "between 0 and 100")])
async def test_catalog_refuses_a_bad_limit(limit: str, reason: str) -> None:
    response = await _get(catalog_app(), "/books", limit=limit)
    assert response.status_code == 400
    assert reason in response.json()["title"]


async def test_catalog_places_holds_in_a_queue_per_book() -> None:
    app = catalog_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        first = await client.post("/holds", json={"isbn": "9780441172719", "memberId": "m3"})
        second = await client.post("/holds", json={"isbn": "9780441172719", "memberId": "m4"})
        other = await client.post("/holds", json={"isbn": "9780131103627", "memberId": "m4"})
        assert first.status_code == 201
        assert first.json() == {"id": "h1", "isbn": "9780441172719", "memberId": "m3", "position": 1}
        assert (second.json()["position"], other.json()["position"]) == (2, 1)
        unknown = await client.post("/holds", json={"isbn": "nope", "memberId": "m4"})
        assert unknown.status_code == 404
        incomplete = await client.post("/holds", json={"isbn": "9780441172719"})
        assert (incomplete.status_code, incomplete.json()["title"]) == (400, "isbn and memberId are required strings")
        assert (await client.get("/holds")).status_code == 405
        assert (await client.get("/nowhere")).status_code == 404
    # Holds live in one app: a fresh catalog starts an empty queue.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=catalog_app()), base_url="http://demo") as client:
        fresh = await client.post("/holds", json={"isbn": "9780441172719", "memberId": "m1"})
        assert fresh.json()["position"] == 1


def test_the_demo_ships_the_library_example_schemas() -> None:
    for name in ("members.graphql", "loans.graphql"):
        parse((LIBRARY_EXAMPLE / name).read_text())
    documents = [
        d
        for f in sorted(LIBRARY_EXAMPLE.glob("*.yaml"))
        if f.name != "catalog.openapi.yaml"
        for d in yaml.safe_load_all(f.read_text())
    ]
    assert {d["metadata"]["name"] for d in documents if d["kind"] == "Service"} == {"members", "loans", "catalog"}
