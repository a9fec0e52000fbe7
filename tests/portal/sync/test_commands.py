"""``loom status`` (local database and ``--server``), ``loom sync --once`` and ``loom render``, run through
``portal.cli.main`` in-process as a shell would run them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from portal.accounts import create_token, create_user
from portal.app import create_app
from portal.authorization import Actor
from portal.cli import main
from portal.models import ClusterSyncStatus, Lifecycle, SyncState, utcnow
from portal.settings import Settings
from tests._serving import serving
from tests.factories import make_cluster, make_deployment, make_product, make_service, make_team, make_user

FAILED_OVER = {
    "upstream": "loom-svc-members",
    "service": "members",
    "serving": "us-west",
    "endpoints": [
        {"cluster": "us-east", "address": "127.0.0.1:7301", "priority": 0, "healthy": False, "ejected": True},
        {"cluster": "us-west", "address": "127.0.0.12:15443", "priority": 1, "healthy": True, "ejected": False},
    ],
}


@pytest.fixture
def recorded(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Two clusters as the worker records them: us-east synced with members failed over, eu-central failed."""
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    with Session(engine) as session:
        team = make_team(session, "library")
        east = make_cluster(session, "us-east", residency="us", region="us-east-1")
        eu = make_cluster(session, "eu-central", residency="eu", region="eu-central-1")
        library = make_product(session, "library", team=team, lifecycle=Lifecycle.PUBLISHED, clusters=[east, eu])
        assert east.id is not None and eu.id is not None
        session.add_all(
            [
                ClusterSyncStatus(
                    cluster_id=east.id,
                    state=SyncState.SYNCED,
                    reachable=True,
                    versions={"envoy": "1.40.0"},
                    applied_generation=3,
                    observed_generation=3,
                    last_success_at=utcnow(),
                    upstreams=[FAILED_OVER],
                ),
                ClusterSyncStatus(
                    cluster_id=east.id,
                    product_id=library.id,
                    verdict="Accepted",
                    applied_generation=3,
                    upstreams=[FAILED_OVER],
                ),
                ClusterSyncStatus(
                    cluster_id=eu.id,
                    state=SyncState.FAILED,
                    reachable=False,
                    message="cannot reach the Kubernetes API of eu-central: connection refused",
                    observed_generation=3,
                ),
            ]
        )
        session.commit()
    return engine


def loom(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_table_says_what_each_cluster_does(recorded: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = loom(capsys, "status")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "CLUSTER",
        "REGION",
        "RESIDENCY",
        "STATE",
        "REACHABLE",
        "VERSIONS",
        "GENERATION",
        "LAST",
        "SYNC",
    ]
    east = next(line for line in lines if line.startswith("us-east "))
    assert east.split()[1:6] == ["us-east-1", "us", "synced", "yes", "envoy"]
    eu = next(line for line in lines if line.startswith("eu-central "))
    assert eu.split()[3:5] == ["failed", "no"] and eu.endswith("never")
    assert "  eu-central: cannot reach the Kubernetes API of eu-central: connection refused" in lines
    product = next(line for line in lines if line.startswith("library "))
    assert product.split()[:4] == ["library", "us-east", "Accepted", "3"]
    assert "members: failed over to us-west" in product


def test_status_filters_and_refuses_unknown_names(recorded: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = loom(capsys, "status", "library", "--cluster", "us-east", "-o", "yaml")
    document = yaml.safe_load(out)
    assert code == 0 and [c["cluster"] for c in document["clusters"]] == ["us-east"]
    assert [p["product"] for p in document["clusters"][0]["products"]] == ["library"]
    code, _, err = loom(capsys, "status", "--cluster", "mars")
    assert code == 1 and "no cluster named 'mars'" in err
    code, _, err = loom(capsys, "status", "nope")
    assert code == 1 and "no product named 'nope'" in err


@pytest.fixture
def portal_url(recorded: Engine, settings: Settings) -> Iterator[str]:
    with serving(create_app(settings, engine=recorded), "the portal") as url:
        yield url


def test_status_through_the_server_is_the_same_document_as_locally(
    recorded: Engine, portal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(recorded, expire_on_commit=False) as session:
        admin = create_user(session, Actor.system("test"), name="root", role="platform-admin")
        consumer = make_user(session, "carl")  # no role: a consumer
        tokens = {u.name: create_token(session, Actor.system("test"), u, name="cli").token for u in (admin, consumer)}
        session.commit()
    code, local, err = loom(capsys, "status", "-o", "json")
    assert code == 0, err
    code, remote, err = loom(capsys, "status", "-o", "json", "--server", portal_url, "--token", tokens["root"])
    assert code == 0, err
    assert json.loads(remote) == json.loads(local)
    assert json.loads(local)["clusters"][1]["upstreams"][0]["failedOver"] is True
    code, _, err = loom(capsys, "status", "--server", portal_url, "--token", tokens["carl"])
    assert code == 1 and "FORBIDDEN" in err


def test_sync_once_programs_every_cluster_then_a_second_pass_writes_nothing(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Gitops clusters (files in the data directory): while us-east's failover target us-west has no failover
    gateway, us-east is refused with the reason and the command exits 1; once it has one, us-east is synced, and
    a second pass writes nothing."""
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "data"))
    with Session(engine) as session:
        team = make_team(session, "library")
        east = make_cluster(session, "us-east", residency="us", region="us-east-1")
        west = make_cluster(session, "us-west", residency="us", region="us-west-2")
        members = make_service(session, "members", team=team)
        make_deployment(session, members, east, address="http://10.0.0.1:7301")
        make_deployment(session, members, west, address="http://10.0.0.2:7301")
        make_product(session, "library", team=team, lifecycle=Lifecycle.PUBLISHED, sources=[members], clusters=[east])
        session.commit()
        code, out, err = loom(capsys, "sync", "--once")
        assert code == 1 and "cluster/us-east failed (refused)" in err
        assert "set spec.gloo.failoverGateway on Cluster/us-west" in err
        assert not (tmp_path / "data" / "gitops" / "us-east").exists()
        west.gloo = {**west.gloo, "failoverGateway": {"host": "10.0.1.1", "port": 15443}}
        session.add(west)
        session.commit()
    code, out, err = loom(capsys, "sync", "--once")
    assert code == 0, err
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert set(lines) == {"cluster/us-east", "cluster/us-west"}  # us-west too: it exports members to us-east
    assert lines["cluster/us-east"].startswith("synced (generation ") and " 0 writes" not in lines["cluster/us-east"]
    files = sorted(p.name for p in (tmp_path / "data" / "gitops" / "us-east").iterdir())
    assert any("virtualservice" in name.lower() for name in files), files
    code, out, err = loom(capsys, "sync", "--once")
    assert code == 0 and [line.endswith(", 0 writes)") for line in out.splitlines()] == [True, True], (out, err)
    code, out, _ = loom(capsys, "status", "--cluster", "us-east")
    assert out.splitlines()[1].split()[3] == "synced"


LIBRARY_EXAMPLE = Path(__file__).resolve().parents[3] / "portal" / "examples" / "library"


def test_render_prints_what_a_cluster_would_get_without_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")  # never used
    code, out, err = loom(capsys, "render", "-f", str(LIBRARY_EXAMPLE), "--cluster", "us-east")
    assert code == 0, err
    objects = list(yaml.safe_load_all(out))
    assert {o["kind"] for o in objects} >= {"Upstream", "VirtualService", "RouteTable"}
    assert all(o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "loom" for o in objects)
    assert all(o["metadata"]["labels"]["loom.dev/cluster"] == "us-east" for o in objects)
    code, out, err = loom(
        capsys, "render", "-f", str(LIBRARY_EXAMPLE), "--cluster", "us-east", "--target", "envoy", "-o", "json"
    )
    assert code == 0, err
    config = json.loads(out)
    assert config["node"]["cluster"] == "us-east" and config["static_resources"]["listeners"]


def test_render_refuses_what_it_cannot_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = loom(capsys, "render", "-f", str(LIBRARY_EXAMPLE), "--cluster", "mars")
    assert code == 1 and "no cluster named 'mars' in these files (clusters: eu-central, us-east, us-west)" in err
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    code, _, err = loom(capsys, "render", "-f", str(empty), "--cluster", "us-east")
    assert code == 1 and "holds no resources" in err
    copy = tmp_path / "library"
    shutil.copytree(LIBRARY_EXAMPLE, copy)
    clusters = list(yaml.safe_load_all((copy / "clusters.yaml").read_text()))
    for cluster in clusters:
        cluster["spec"]["gloo"].pop("failoverGateway", None)
    (copy / "clusters.yaml").write_text(yaml.safe_dump_all(clusters))
    code, _, err = loom(capsys, "render", "-f", str(copy), "--cluster", "us-east")
    assert code == 1 and "cluster us-east cannot be rendered" in err and "failoverGateway" in err
