"""``loom up``: the embedded demo as a real process (a temp LOOM_DATA_DIR, a free portal port, the demo services
on free ports so a running demo never collides), the library example localized onto the demo replicas, and the
joined result of one query through the gateway across members, loans and catalog."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from portal.authorization import Actor
from portal.db import create_engine_for, session_scope
from portal.demo import (
    DEMO_APPLICATION,
    DEMO_PLAN,
    KUBE_DEMO_PORTS,
    DemoError,
    Replica,
    demo_documents,
    joined_overdue,
    plan_replicas,
    prepare_database,
)
from portal.demo_services import BOOKS, LIBRARY_EXAMPLE, LOANS, MEMBERS
from portal.manifests import Service, parse_documents
from portal.models import Application, Credential, Plan, Product, Subscription, SubscriptionState, User
from portal.resources import apply, get
from portal.settings import Settings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(data_dir: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    environment["LOOM_DATA_DIR"] = str(data_dir)
    return environment


def _loom_up(*extra: str, port: int) -> list[str]:
    return [sys.executable, "-m", "portal.cli", "up", "--port", str(port), "--free-ports", *extra]


def _rest_of_line(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if line.strip().startswith(label))
    return line.split(label, 1)[1].strip()


def _field(output: str, label: str) -> str:
    return _rest_of_line(output, label).split()[0]


@dataclass(frozen=True)
class FirstRun:
    data_dir: Path
    port: int
    output: str
    returncode: int


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """`loom up --check` on a fresh data directory, run from outside the repository."""
    root = tmp_path_factory.mktemp("demo")
    port = _free_port()
    result = subprocess.run(
        _loom_up("--check", port=port),
        cwd=root,
        env=_environment(root / ".loom"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return FirstRun(root / ".loom", port, result.stdout + result.stderr, result.returncode)


def test_check_joins_members_loans_and_catalog_through_the_gateway(first_run: FirstRun) -> None:
    assert first_run.returncode == 0, first_run.output
    assert "created the bootstrap admin 'admin' with the one-time password" in first_run.output
    assert (
        f"sign in     http://127.0.0.1:{first_run.port}/login as user 'admin' with the one-time password printed above"
        in first_run.output
    )
    result = json.loads(_rest_of_line(first_run.output, "loom: check:"))
    assert "errors" not in result
    data = result["data"]
    assert data["members"] == [{"id": m["id"], "displayName": m["displayName"], "tier": m["tier"]} for m in MEMBERS]
    overdue = [(id_, member, isbn) for id_, member, isbn, due, returned in LOANS if due < 0 and not returned]
    assert [(loan["id"], loan["memberId"], loan["isbn"]) for loan in data["overdueLoans"]] == overdue
    assert [book["isbn"] for book in data["listBooks"]] == [book["isbn"] for book in BOOKS]
    dune = next(book for book in data["listBooks"] if book["title"] == "Dune")
    assert dune["format"] == {"__typename": "Print", "pages": 412}  # the REST oneOf became a union
    # The joined lines: every overdue loan with its member's name and its book's title.
    names = {m["id"]: m["displayName"] for m in MEMBERS}
    titles = {b["isbn"]: b["title"] for b in BOOKS}
    joined = [line.split("overdue: ", 1)[1] for line in first_run.output.splitlines() if "check: overdue:" in line]
    assert len(joined) == len(overdue)
    for line, (_id, member, isbn) in zip(joined, overdue, strict=True):
        assert line.startswith(names[member]) and repr(titles[isbn]) in line
    assert "loom: check passed" in first_run.output
    assert f"GraphiQL    http://127.0.0.1:{first_run.port}/products/library/graphql" in first_run.output


def test_the_database_holds_the_localized_example_and_the_demo_subscriptions(first_run: FirstRun) -> None:
    assert first_run.returncode == 0, first_run.output
    engine = create_engine_for(f"sqlite:///{first_run.data_dir / 'loom.db'}")
    try:
        with session_scope(engine) as session:
            application = session.exec(select(Application).where(col(Application.name) == DEMO_APPLICATION)).one()
            rows = session.exec(
                select(Product.name, Plan.name, Subscription.state)
                .join(Product, col(Product.id) == col(Subscription.product_id))
                .join(Plan, col(Plan.id) == col(Subscription.plan_id))
                .where(col(Subscription.application_id) == application.id)
            ).all()
            keys = session.exec(select(Credential).where(col(Credential.application_id) == application.id)).all()
    finally:
        engine.dispose()
    assert sorted(rows) == [
        ("library", DEMO_PLAN, SubscriptionState.APPROVED),
        ("library-eu", DEMO_PLAN, SubscriptionState.APPROVED),
    ]
    assert [(k.prefix is not None, k.revoked_at is None) for k in keys] == [(True, True)]
    assert keys[0].secret_hash not in first_run.output  # only the key itself is shown, never its hash


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], seconds: float = 90) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        output = path.read_text()
        if text in output:
            return output
        assert process.poll() is None, output
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} within {seconds} s:\n{path.read_text()}")


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_second_up_keeps_the_state_serves_a_fresh_key_and_stops_on_sigterm(first_run: FirstRun) -> None:
    assert first_run.returncode == 0, first_run.output
    old_key = _field(first_run.output, "API key")
    port = _free_port()
    log = first_run.data_dir.parent / "second.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            _loom_up(port=port),
            cwd=first_run.data_dir.parent,
            env=_environment(first_run.data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            output = _wait_for(log, "Ctrl-C stops everything.", process)
            key = _field(output, "API key")
            url = f"http://127.0.0.1:{port}/products/library/graphql"
            fields = 'member(id: "m2") { displayName } loan(id: "l3") { isbn } getBook(isbn: "9780262046305") { title }'
            query = {"query": "{ " + fields + " }"}
            answer = httpx.post(url, json=query, headers={"x-api-key": key}, timeout=15)
            stale = httpx.post(url, json=query, headers={"x-api-key": old_key}, timeout=15)
            rest = httpx.get(_field(output, "REST") + "/9780553293357", headers={"x-api-key": key}, timeout=15)
            replicas = [int(port) for port in re.findall(r" in [a-z-]+: http://127\.0\.0\.1:(\d+) ", output)]
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "data": {
            "member": {"displayName": "Grace Hopper"},
            "loan": {"isbn": "9780262046305"},
            "getBook": {"title": "Introduction to Algorithms"},
        }
    }
    assert (rest.status_code, rest.json()["title"]) == (200, "Foundation")  # the catalog, passed through
    assert stale.status_code == 401  # the first run's key was revoked when this run issued its own
    assert key != old_key
    assert "created the bootstrap admin" not in output  # the admin exists already
    assert "/login as user 'admin' with the password printed by the first `loom up`" in output
    # The same example again: only the deployments moved (free ports); nothing was created twice.
    applied = [line for line in output.splitlines() if line.startswith("loom: ") and "/" in line.split()[1]]
    assert applied and all(line.endswith("updated (deployments)") for line in applied), applied
    assert returncode == 0, log.read_text()
    assert "loom: stopping the demo" in log.read_text()
    assert len(replicas) == 7
    assert all(_refused(p) for p in [port, *replicas])


def test_a_busy_portal_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            _loom_up(port=port),
            cwd=tmp_path,
            env=_environment(tmp_path / ".loom"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"loom: error: cannot serve the portal on 127.0.0.1:{port} (Address already in use): "
        "pass --port with a free port"
    ]
    assert not (tmp_path / ".loom").exists()  # nothing was created


@pytest.fixture
def bound() -> Iterator[list[Replica]]:
    replicas = plan_replicas(free_ports=True)
    yield replicas
    for replica in replicas:
        replica.socket.close()


def test_every_deployment_of_the_example_gets_its_own_replica_address(bound: list[Replica]) -> None:
    documents = demo_documents(bound, max_bytes=1 << 20)
    services = [doc.resource for doc in documents if isinstance(doc.resource, Service)]
    example = [
        doc
        for path in sorted(LIBRARY_EXAMPLE.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "Service"
    ]
    expected = [(d["metadata"]["name"], dep["cluster"]) for d in example for dep in d["spec"]["deployments"]]
    assert [(r.service, r.cluster) for r in bound] == expected
    addresses = {(s.metadata.name, dep.cluster): dep.address for s in services for dep in s.spec.deployments}
    assert addresses == {(r.service, r.cluster): r.address for r in bound}
    assert all(dep.kube is None for s in services for dep in s.spec.deployments)
    assert len({r.port for r in bound}) == len(bound)
    # KUBE_DEMO_PORTS names exactly the example's Kubernetes deployments: no stale or missing entry.
    kube = {
        (dep["cluster"], dep["kube"]["namespace"], dep["kube"]["service"], dep["kube"]["port"])
        for d in example
        for dep in d["spec"]["deployments"]
        if "kube" in dep
    }
    assert kube == set(KUBE_DEMO_PORTS)


@pytest.mark.postgres
def test_preparing_twice_changes_nothing_and_replaces_the_key(
    settings: Settings, engine: Engine, bound: list[Replica]
) -> None:
    """The demo's desired state in-process, on SQLite and PostgreSQL: a second start applies nothing new, reuses
    the application and its subscriptions, revokes the old key; a renamed bootstrap admin still finds the owner."""
    first_out, second_out = io.StringIO(), io.StringIO()
    first = prepare_database(settings, engine, bound, first_out)
    renamed = settings.model_copy(update={"auth": settings.auth.model_copy(update={"bootstrap_admin": "root"})})
    second = prepare_database(renamed, engine, bound, second_out)
    assert first.new_admin and "one-time password" in first_out.getvalue()
    assert not second.new_admin and second_out.getvalue() == ""
    assert {c.action for c in first.changes} == {"created"}
    assert {c.action for c in second.changes} == {"unchanged"}
    assert first.products == second.products == ["library", "library-eu"]
    with session_scope(engine) as session:
        applications = session.exec(select(Application).where(col(Application.name) == DEMO_APPLICATION)).all()
        assert len(applications) == 1
        owner = session.get(User, applications[0].owner_id)
        assert owner is not None and owner.name == "admin"
        subscriptions = session.exec(select(Subscription)).all()
        assert sorted(s.state for s in subscriptions) == [SubscriptionState.APPROVED] * 2
        keys = session.exec(select(Credential).order_by(col(Credential.id))).all()
        assert [k.revoked_at is not None for k in keys] == [True, False]
        assert keys[1].prefix is not None and f"_{keys[1].prefix}_" in second.api_key


@pytest.mark.postgres
def test_a_restart_keeps_what_admins_changed(settings: Settings, engine: Engine, bound: list[Replica]) -> None:
    """`loom up` seeds what is missing; it does not put the example back over an admin's later change."""
    prepare_database(settings, engine, bound, io.StringIO())
    actor = Actor.system("test")
    with session_scope(engine) as session:
        [product] = get(session, actor, "Product", "library")
        product["spec"]["version"] = "1.1.0"
        product["spec"]["rest"] = [
            {"method": "GET", "path": "/members/{id}", "operation": "query($id: ID!) { member(id: $id) { id } }"}
        ]
        apply(session, actor, parse_documents([product], source="admin", base_dir=LIBRARY_EXAMPLE, max_bytes=10**6))
        session.commit()
    again = prepare_database(settings, engine, bound, io.StringIO())
    assert {(c.kind, c.name) for c in again.changes} == {("Service", n) for n in ("members", "loans", "catalog")}
    assert {c.action for c in again.changes} == {"unchanged"}
    with session_scope(engine) as session:
        [after] = get(session, actor, "Product", "library")
    assert after["spec"]["version"] == "1.1.0"
    assert [route["path"] for route in after["spec"]["rest"]] == ["/members/{id}"]


def test_a_loan_that_joins_nothing_fails_the_check() -> None:
    data = {
        "members": [{"id": "m1", "displayName": "Ada", "tier": "PATRON"}],
        "listBooks": [{"isbn": "1", "title": "One"}],
        "overdueLoans": [{"id": "l1", "memberId": "m1", "isbn": "1", "dueOn": "2026-01-01"}],
    }
    assert joined_overdue(data) == ["Ada (PATRON): 'One' was due 2026-01-01"]
    data["overdueLoans"].append({"id": "l2", "memberId": "m9", "isbn": "1", "dueOn": "2026-01-02"})
    with pytest.raises(DemoError, match="loan l2 refers to an unknown member or book"):
        joined_overdue(data)
