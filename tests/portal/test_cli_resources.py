"""``loom apply|get|delete`` on the local database (SQLite and PostgreSQL, from ``LOOM_DATABASE_URL``) and against a
real portal server (uvicorn on loopback) with ``--server --token``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from graphql import build_schema, graphql_sync
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.accounts import create_token, create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.cli import main
from portal.models import AuditEvent, Cluster
from portal.settings import Settings
from tests._serving import serving
from tests.portal._apply import LIBRARY, library_copy


@pytest.fixture
def local_db(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI reads the database from the environment, as it does for people."""
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    return engine


def loom(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_apply_get_round_trip_and_delete(local_db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = loom(capsys, "apply", "-f", str(LIBRARY), "--dry-run")
    assert code == 0 and "cluster/us-east created (dry run)" in out
    with Session(local_db) as session:
        assert session.exec(select(Cluster)).all() == []

    code, out, _ = loom(capsys, "apply", "-f", str(LIBRARY))
    assert code == 0
    assert out.splitlines()[0] == "cluster/us-east created" and "product/library-eu created (version 1.0.0)" in out

    dumped = tmp_path / "all.yaml"
    texts = []
    for kind in ("clusters", "teams", "plans", "services", "products"):
        code, out, _ = loom(capsys, "get", kind, "-o", "yaml")
        assert code == 0
        texts.append(out)
    dumped.write_text("---\n".join(texts))
    code, out, _ = loom(capsys, "apply", "-f", str(dumped))
    assert code == 0 and len(out.splitlines()) == 12
    assert all(line.endswith(" unchanged") for line in out.splitlines()), out

    code, out, _ = loom(capsys, "get", "plan", "basic", "-o", "json")
    assert code == 0 and '"per": "minute"' in out

    code, _, err = loom(capsys, "delete", "cluster", "us-west")
    assert code == 1
    assert err.startswith("loom: error: Cluster 'us-west' is still used by a deployment of service 'members'")
    code, out, _ = loom(capsys, "delete", "product", "library-eu")
    assert (code, out) == (0, "product/library-eu deleted\n")
    code, _, err = loom(capsys, "get", "product", "library-eu")
    assert code == 1 and err.strip() == "loom: error: Product 'library-eu' not found"


def test_bad_document_exits_non_zero_naming_the_field(
    local_db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library_copy(tmp_path / "lib")
    bad = tmp_path / "lib" / "services.yaml"
    bad.write_text(bad.read_text().replace("protocol: graphql", "protocol: grpc"))
    code, out, err = loom(capsys, "apply", "-f", str(LIBRARY / "clusters.yaml"), "-f", str(bad))
    assert code == 1 and out == ""
    assert err.startswith("loom: error: services.yaml: document 2 (Service/loans): spec.protocol: Input should be")
    with Session(local_db) as session:
        assert session.exec(select(Cluster)).all() == []
    code, _, err = loom(capsys, "get", "gadgets")
    assert code == 1 and "unknown kind 'gadgets'" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: loom.dev/v1alpha1\nkind: Team\nmetadata: {name: [x\n")
    code, out, err = loom(capsys, "apply", "-f", str(LIBRARY / "clusters.yaml"), "-f", str(broken))
    assert code == 1 and out == ""
    assert err.startswith("loom: error: broken.yaml: malformed YAML at line") and len(err.splitlines()) == 1
    with Session(local_db) as session:
        assert session.exec(select(Cluster)).all() == []


@pytest.mark.parametrize("text", ["", "# nothing here yet\n", "---\n---\n"])
def test_a_file_without_resources_is_an_error(
    local_db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text(text)
    code, out, err = loom(capsys, "apply", "-f", str(LIBRARY / "clusters.yaml"), "-f", str(empty))
    assert code == 1 and out == ""
    assert err.startswith(f"loom: error: {empty} holds no resources"), err
    with Session(local_db) as session:
        assert session.exec(select(Cluster)).all() == []
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "openapi.yaml").write_text("openapi: 3.0.3\n")  # YAML, but no resource
    code, _, err = loom(capsys, "apply", "-f", str(folder))
    assert code == 1 and f"{folder} holds no resources" in err


def test_local_apply_audits_a_placement_refusal(
    local_db: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``loom apply`` without ``--server`` acts as a platform admin, and placements bind it too: the refusal is in
    the audit log (channel ``apply``), and nothing else changed."""
    library_copy(tmp_path / "lib")
    services = tmp_path / "lib" / "services.yaml"
    services.write_text(services.read_text().replace("namespace: library", "namespace: finance", 1))
    code, out, err = loom(capsys, "apply", "-f", str(tmp_path / "lib"))
    assert code == 1 and out == ""
    assert "is not granted namespace 'finance'" in err
    with Session(local_db) as session:
        assert session.exec(select(Cluster)).all() == []
        events = session.exec(select(AuditEvent)).all()
    assert [(e.actor, e.action, e.outcome.value, e.via) for e in events] == [
        ("loom-apply", "service.publish", "denied", "apply")
    ]
    assert "not granted namespace 'finance'" in events[0].summary["reason"]


@pytest.fixture
def portal_url(engine: Engine, settings: Settings) -> Iterator[str]:
    """The real portal app served by uvicorn on a free loopback port, on this test's database."""
    with serving(create_app(settings, engine=engine), "the portal") as url:
        yield url


def token_for(engine: Engine, name: str, role: str, team: str | None = None) -> str:
    with Session(engine, expire_on_commit=False) as session:
        user = create_user(session, Actor.system("test"), name=name, role=role, team=team)
        token = create_token(session, Actor.system("test"), user, name="cli").token
        session.commit()
    return token


def test_apply_get_delete_through_the_server(
    engine: Engine, portal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = token_for(engine, "root", "platform-admin")
    remote = ("--server", portal_url, "--token", admin)
    code, out, err = loom(capsys, "apply", "-f", str(LIBRARY), "--dry-run", *remote)
    assert code == 0, err
    assert "service/catalog created (version 1) (dry run)" in out
    code, out, err = loom(capsys, "apply", "-f", str(LIBRARY), *remote)
    assert code == 0, err
    assert "service/catalog created (version 1)" in out
    code, out, err = loom(capsys, "get", "service", "members", "-o", "yaml", *remote)
    assert code == 0, err
    assert "name: members" in out and '@key(fields: "id")' in out
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "cluster.apply")).all()
        assert {(e.actor, e.target_name) for e in events} == {
            ("root", "us-east"),
            ("root", "us-west"),
            ("root", "eu-central"),
        }

    member = token_for(engine, "mia", "team-member", "identity")
    code, _, err = loom(
        capsys, "apply", "-f", str(LIBRARY / "clusters.yaml"), "--server", portal_url, "--token", member
    )
    assert code == 1 and "FORBIDDEN" in err and "cluster.apply" in err
    code, _, err = loom(
        capsys,
        "apply",
        "-f",
        str(LIBRARY / "teams.yaml"),
        "-f",
        str(LIBRARY / "clusters.yaml"),
        *remote[:2],
        "--token",
        member,
    )
    # the server numbers the documents of the whole request; the message names the file and the document in it
    assert code == 1 and "FORBIDDEN: clusters.yaml: document 1 (Cluster/us-east)" in err, err
    assert "request: document" not in err
    code, _, err = loom(capsys, "delete", "service", "loans", "--server", portal_url, "--token", member)
    assert code == 1 and "FORBIDDEN" in err
    code, _, err = loom(capsys, "apply", "-f", str(LIBRARY), "--server", portal_url, "--token", "loom_pat_bogus")
    assert code == 1 and "UNAUTHENTICATED" in err


def _graphql_upstream() -> Starlette:
    """A GraphQL service that answers the standard introspection query."""
    schema = build_schema("type Query { hello: String }")

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"data": graphql_sync(schema, body["query"]).data})

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])


def introspecting_resources(tmp_path: Path, upstream: str) -> Path:
    """A demo cluster (loopback allowed), a team and a service whose schema is fetched from its deployment."""
    path = tmp_path / "introspected.yaml"
    path.write_text(
        f"""\
apiVersion: loom.dev/v1alpha1
kind: Cluster
metadata: {{name: demo}}
spec: {{region: local, residency: eu, gloo: {{target: local-envoy}}}}
---
apiVersion: loom.dev/v1alpha1
kind: Team
metadata: {{name: hello}}
spec: {{placements: [{{cluster: demo}}]}}
---
apiVersion: loom.dev/v1alpha1
kind: Service
metadata: {{name: greeter, team: hello}}
spec:
  protocol: graphql
  schema: {{introspect: {{cluster: demo, path: /graphql}}}}
  deployments: [{{cluster: demo, address: "{upstream}"}}]
"""
    )
    return path


def test_apply_fetches_introspected_schemas_locally_and_through_the_server(
    engine: Engine,
    database_url: str,
    portal_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Fetching is an async step of each caller (the CLI, the admin API) before the synchronous apply."""
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    with serving(_graphql_upstream(), "the upstream") as upstream:
        resources = introspecting_resources(tmp_path, upstream)
        code, out, err = loom(capsys, "apply", "-f", str(resources), "--dry-run")
        assert code == 0, err
        assert out.splitlines()[-1] == "service/greeter created (version 1) (dry run)"
        admin = token_for(engine, "root", "platform-admin")
        code, out, err = loom(capsys, "apply", "-f", str(resources), "--server", portal_url, "--token", admin)
        assert code == 0, err
        assert out.splitlines()[-1] == "service/greeter created (version 1)"
        code, out, err = loom(capsys, "apply", "-f", str(resources))  # locally: the same schema, unchanged
        assert code == 0, err
        assert out.splitlines()[-1] == "service/greeter unchanged"
    code, out, _ = loom(capsys, "get", "service", "greeter", "-o", "json")
    assert code == 0 and "hello: String" in out
