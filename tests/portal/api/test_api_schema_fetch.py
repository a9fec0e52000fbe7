"""``apply`` through the admin API fetches a deployment's schema under the same size limit as a schema in a file
(``LOOM_AUTH_MAX_DOCUMENT_BYTES``), from a real upstream on loopback, and a refusal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import build_schema, graphql_sync
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.app import create_app
from portal.models import ServiceVersion
from portal.settings import Settings
from tests._serving import serving
from tests.portal.api.conftest import Person

APPLY = "mutation($d: JSON!) { apply(documents: $d) { kind name action } }"
# About 6 KB of introspection: far over the 2,000-byte limit below, far under the default.
SDL = "type Query {\n" + "".join(f"  field{i}: String\n" for i in range(60)) + "}"


def _upstream() -> Starlette:
    schema = build_schema(SDL)

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"data": graphql_sync(schema, body["query"]).data})

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])


def _documents(upstream: str) -> list[dict[str, Any]]:
    api = "loom.dev/v1alpha1"
    return [
        {
            "apiVersion": api,
            "kind": "Cluster",
            "metadata": {"name": "eu"},
            "spec": {
                "region": "r1",
                "residency": "eu",
                "gloo": {"target": "gitops"},
                "introspection": {"allowLoopback": True},
            },
        },
        {
            "apiVersion": api,
            "kind": "Service",
            "metadata": {"name": "wide", "team": "alpha"},
            "spec": {
                "protocol": "graphql",
                "schema": {"introspect": {"cluster": "eu", "path": "/graphql"}},
                "deployments": [{"cluster": "eu", "address": upstream}],
            },
        },
    ]


async def _apply(settings: Settings, engine: Engine, person: Person, documents: list[dict[str, Any]]) -> Any:
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),  # the app's HTTP client, which the fetch goes through
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal.test") as client,
    ):
        response = await client.post(
            "/api/graphql",
            json={"query": APPLY, "variables": {"d": documents}},
            headers={"authorization": f"Bearer {person.token}"},
        )
        return response.json()


@pytest.fixture
def upstream() -> Iterator[str]:
    with serving(_upstream(), "the wide upstream") as url:
        yield url


def _versions(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(ServiceVersion)).one()


async def test_a_fetched_schema_over_the_document_limit_is_refused_and_stores_nothing(
    settings: Settings, engine: Engine, people: dict[str, Person], upstream: str
) -> None:
    small = settings.model_copy(update={"auth": settings.auth.model_copy(update={"max_document_bytes": 2000})})
    before = _versions(engine)
    body = await _apply(small, engine, people["platform-admin"], _documents(upstream))
    [error] = body["errors"]
    assert "2000" in error["message"] and error["extensions"]["location"]["field"] == "spec.schema.introspect"
    assert _versions(engine) == before
    body = await _apply(settings, engine, people["platform-admin"], _documents(upstream))  # the default limit
    assert "errors" not in body, body
    assert [(c["kind"], c["name"]) for c in body["data"]["apply"]][-1] == ("Service", "wide")
