"""``loom up``: the embedded demo as real processes.

One ``loom up`` runs for the module (a temp LOOM_DATA_DIR, a free portal port, every other port free too, so a
running demo never collides): its ``up.json`` is waited for (a condition: the file appears), the library product is
queried through every cluster's own Envoy with the demo's API key (a loan joined with its member across services),
one service process is killed (traffic fails over, the demo goes on), then SIGINT, and every pid ``up.json`` named
must be gone. A second start on the same data directory, ``loom up --check``, keeps the state and serves a fresh
key. The rest are in-process tests of the pieces (ports, localized resources, the seeded database).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    UP_FILE,
    ClusterPlan,
    DemoError,
    Replica,
    demo_documents,
    gateway_robot,
    joined_overdue,
    plan_clusters,
    plan_replicas,
    prepare_database,
)
from portal.demo_services import BOOKS, LIBRARY_EXAMPLE, LOANS, MEMBERS
from portal.manifests import Cluster, Service, parse_documents
from portal.models import (
    Application,
    Credential,
    PersonalAccessToken,
    Plan,
    Product,
    Subscription,
    SubscriptionState,
    User,
)
from portal.resources import apply, get
from portal.settings import Settings

pytestmark = pytest.mark.slow

BOUND = 180.0  # seconds any condition below may take on a loaded machine before the test gives up
CLUSTERS = ("us-east", "us-west", "eu-central")
JOIN = "{ overdueLoans { id memberId member { id displayName tier } } }"


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


def _until(condition: Callable[[], Any], what: str, *, alive: subprocess.Popen[bytes] | None = None, log: Path) -> Any:
    """Poll ``condition`` until it answers something truthy, within BOUND seconds; fail at once if ``alive``
    exited."""
    deadline = time.monotonic() + BOUND
    while True:
        value = condition()
        if value:
            return value
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"loom up exited ({alive.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND:g} s: {what}:\n{log.read_text()}")
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pids(description: dict[str, Any]) -> dict[str, int]:
    pids = {}
    for name, cluster in description["clusters"].items():
        pids[f"envoy {name}"] = cluster["envoy"]["pid"]
        pids[f"gateway {name}"] = cluster["gateway"]["pid"]
    for service in description["services"]:
        pids[f"{service['service']} {service['cluster']}"] = service["pid"]
    return pids


def _rest_of_line(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if line.strip().startswith(label))
    return line.split(label, 1)[1].strip()


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    port: int
    description: dict[str, Any]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """`loom up` on a fresh data directory, run from outside the repository, until its up.json is there."""
    root = tmp_path_factory.mktemp("demo")
    data_dir, log, port = root / ".loom", root / "up.log", _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            _loom_up(port=port), cwd=root, env=_environment(data_dir), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        up_file = data_dir / UP_FILE
        _until(up_file.exists, "up.json was written", alive=process, log=log)
        yield Up(process, data_dir, log, port, json.loads(up_file.read_text()))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _query(url: str, key: str, query: str = JOIN) -> httpx.Response:
    return httpx.post(url, json={"query": query}, headers={"x-api-key": key}, timeout=30, trust_env=False)


def _assert_joined(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    members = {m["id"]: m for m in MEMBERS}
    overdue = [(id_, member) for id_, member, _isbn, due, returned in LOANS if due < 0 and not returned]
    loans = body["data"]["overdueLoans"]
    assert [(loan["id"], loan["memberId"]) for loan in loans] == overdue
    for loan in loans:  # the member comes from the members service, joined on the loan's member id
        member = members[loan["memberId"]]
        assert loan["member"] == {"id": member["id"], "displayName": member["displayName"], "tier": member["tier"]}


def test_up_json_describes_every_process_it_started(up: Up) -> None:
    described = up.description
    assert described["portal"] == f"http://127.0.0.1:{up.port}"
    assert described["apiKey"].startswith("lk_")
    assert set(described["clusters"]) == set(CLUSTERS)
    for name, cluster in described["clusters"].items():
        listener = cluster["envoy"]["listener"]
        assert listener.startswith("http://127.0.0.1:") and cluster["envoy"]["admin"].startswith("http://127.0.0.1:")
        assert cluster["products"]["library"] == f"{listener}/products/library/graphql"
        assert cluster["envoy"]["failover"].startswith("http://127.0.0.")  # its failover gateway listener
        assert ("library-eu" in cluster["products"]) == (name == "eu-central")  # offered there only
        info = httpx.get(f"{cluster['envoy']['admin']}/server_info", timeout=10, trust_env=False).json()
        assert info["command_line_options"]["config_path"].endswith(f"envoy/{name}/bootstrap.json")
        assert httpx.get(f"{cluster['gateway']['url']}/healthz", timeout=10, trust_env=False).status_code == 200
    # us-west runs no loans: its Envoy reaches the loans of the other clusters through their failover gateways.
    west = httpx.get(
        f"{described['clusters']['us-west']['envoy']['admin']}/clusters",
        params={"format": "json"},
        timeout=10,
        trust_env=False,
    ).json()
    addresses = {
        f"{host['address']['socket_address']['address']}:{host['address']['socket_address']['port_value']}"
        for status in west["cluster_statuses"]
        for host in status.get("host_statuses", [])
    }
    for other in ("us-east", "eu-central"):
        assert described["clusters"][other]["envoy"]["failover"].removeprefix("http://") in addresses, other
    services = {(s["service"], s["cluster"]) for s in described["services"]}
    assert services == {
        ("members", "us-east"), ("members", "us-west"), ("members", "eu-central"),
        ("loans", "us-east"), ("loans", "eu-central"), ("catalog", "us-east"), ("catalog", "eu-central"),
    }  # fmt: skip
    for service in described["services"]:
        health = httpx.get(f"{service['url']}/healthz", timeout=10, trust_env=False)
        assert health.json() == {"status": "ok", "service": service["service"]}
    pids = _pids(described)
    assert len(set(pids.values())) == len(pids) == 3 + 3 + 7
    assert all(_running(pid) for pid in pids.values()), pids
    # Every process is a child of `loom up` (none was left to another parent).
    for what, pid in pids.items():
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert ppid == up.process.pid, what


def test_the_product_answers_through_every_clusters_envoy_with_loans_joined_to_members(up: Up) -> None:
    key = up.description["apiKey"]
    for name, cluster in up.description["clusters"].items():
        _assert_joined(_query(cluster["products"]["library"], key))
        rest = httpx.get(
            f"{cluster['envoy']['listener']}/products/library/rest/catalog/books/9780553293357",
            headers={"x-api-key": key},
            timeout=30,
            trust_env=False,
        )
        assert (rest.status_code, rest.json()["title"]) == (200, "Foundation"), name
        assert _query(cluster["products"]["library"], "lk_nobody_nothing").status_code == 401
    eu = _query(up.description["clusters"]["eu-central"]["products"]["library-eu"], key, "{ members { id } }")
    assert eu.status_code == 200 and len(eu.json()["data"]["members"]) == len(MEMBERS)


def test_a_killed_service_leaves_the_rest_running_and_traffic_fails_over(up: Up) -> None:
    [loans_east] = [s for s in up.description["services"] if (s["service"], s["cluster"]) == ("loans", "us-east")]
    os.kill(loans_east["pid"], signal.SIGKILL)
    _until(lambda: f"(pid {loans_east['pid']}) exited" in up.log.read_text(), "the death was reported", log=up.log)
    assert up.process.poll() is None
    # us-east's Envoy fails over to the loans of eu-central (the library product has no residency).
    _assert_joined(_query(up.description["clusters"]["us-east"]["products"]["library"], up.description["apiKey"]))
    others = {what: pid for what, pid in _pids(up.description).items() if pid != loans_east["pid"]}
    assert all(_running(pid) for pid in others.values()), others


def test_sigint_stops_every_process_it_started_even_the_crashed_ones(up: Up) -> None:
    pids = _pids(up.description)
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=BOUND) == 0, up.log.read_text()
    assert [what for what, pid in pids.items() if _running(pid)] == []
    assert not (up.data_dir / UP_FILE).exists()  # it described processes that are gone
    assert "loom: stopping the demo" in up.log.read_text()


def test_a_second_start_checks_through_an_envoy_keeps_the_state_and_serves_a_fresh_key(up: Up) -> None:
    if up.process.poll() is None:  # run alone: the first demo must be stopped (one sync worker per data dir)
        up.process.send_signal(signal.SIGINT)
        up.process.wait(timeout=BOUND)
    old_key = up.description["apiKey"]
    result = subprocess.run(
        _loom_up("--check", port=_free_port()),
        cwd=up.data_dir.parent,
        env=_environment(up.data_dir),
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    check = json.loads(_rest_of_line(output, "loom: check:"))
    assert "errors" not in check
    data = check["data"]
    assert data["members"] == [{"id": m["id"], "displayName": m["displayName"], "tier": m["tier"]} for m in MEMBERS]
    assert [book["isbn"] for book in data["listBooks"]] == [book["isbn"] for book in BOOKS]
    dune = next(book for book in data["listBooks"] if book["title"] == "Dune")
    assert dune["format"] == {"__typename": "Print", "pages": 412}  # the REST oneOf became a union
    names = {m["id"]: m["displayName"] for m in MEMBERS}
    titles = {b["isbn"]: b["title"] for b in BOOKS}
    overdue = [(member, isbn) for _id, member, isbn, due, returned in LOANS if due < 0 and not returned]
    joined = [line.split("overdue: ", 1)[1] for line in output.splitlines() if "check: overdue:" in line]
    assert len(joined) == len(overdue)
    for line, (member, isbn) in zip(joined, overdue, strict=True):
        assert line.startswith(names[member]) and repr(titles[isbn]) in line
    assert "loom: check passed: members + loans + catalog through the Envoy of us-east" in output
    assert "created the bootstrap admin" not in output  # the admin exists already
    assert "/login as user 'admin' with the password printed by the first `loom up`" in output
    # The same example again: only the demo's addresses moved (free ports); nothing was created twice.
    applied = [line for line in output.splitlines() if line.startswith("loom: ") and "/" in line.split()[1]]
    assert applied and all(line.split()[1].split("/")[0] in ("cluster", "service") for line in applied), applied
    assert all(" updated " in line for line in applied), applied
    new_key = _rest_of_line(output, "API key").split()[0]
    assert new_key != old_key
    assert not (up.data_dir / UP_FILE).exists()
    engine = create_engine_for(f"sqlite:///{up.data_dir / 'loom.db'}")
    try:
        with session_scope(engine) as session:
            application = session.exec(select(Application).where(col(Application.name) == DEMO_APPLICATION)).one()
            rows = session.exec(
                select(Product.name, Plan.name, Subscription.state)
                .join(Product, col(Product.id) == col(Subscription.product_id))
                .join(Plan, col(Plan.id) == col(Subscription.plan_id))
                .where(col(Subscription.application_id) == application.id)
            ).all()
            keys = session.exec(
                select(Credential).where(col(Credential.application_id) == application.id).order_by(col(Credential.id))
            ).all()
            robots = session.exec(select(User).where(col(User.robot).is_(True)).order_by(col(User.name))).all()
            live_robot_tokens = session.exec(
                select(PersonalAccessToken).where(
                    col(PersonalAccessToken.user_id).in_([r.id for r in robots]),
                    col(PersonalAccessToken.revoked_at).is_(None),
                )
            ).all()
    finally:
        engine.dispose()
    assert sorted(rows) == [
        ("library", DEMO_PLAN, SubscriptionState.APPROVED),
        ("library-eu", DEMO_PLAN, SubscriptionState.APPROVED),
    ]
    assert [k.revoked_at is None for k in keys] == [False, True]  # the first start's key was revoked
    assert keys[1].prefix is not None and f"_{keys[1].prefix}_" in new_key
    assert keys[1].secret_hash not in output  # only the key itself is shown, never its hash
    assert sorted(r.name for r in robots) == sorted(gateway_robot(c) for c in CLUSTERS)
    assert len(live_robot_tokens) == len(CLUSTERS)  # one live token per gateway robot: the first ones revoked


def test_a_killed_loom_up_leaves_no_process_behind(up: Up) -> None:
    """`loom up` itself dies without ceremony (SIGKILL: no handler runs): the kernel stops its children
    (PR_SET_PDEATHSIG), so nothing it started keeps running."""
    if up.process.poll() is None:  # run alone: the first demo must be stopped (one sync worker per data dir)
        up.process.send_signal(signal.SIGINT)
        up.process.wait(timeout=BOUND)
    log = up.data_dir.parent / "killed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _loom_up(port=_free_port()),
            cwd=up.data_dir.parent,
            env=_environment(up.data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        up_file = up.data_dir / UP_FILE
        _until(up_file.exists, "up.json was written", alive=process, log=log)
        pids = _pids(json.loads(up_file.read_text()))
    finally:
        process.kill()
        process.wait()
    _until(
        lambda: not [what for what, pid in pids.items() if _running(pid)],
        f"every process of the killed loom up is gone ({pids})",
        log=log,
    )


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` now."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_ctrl_c_while_starting_stops_what_was_started_so_far(up: Up) -> None:
    """SIGINT before the demo is ready (its first processes run, the rest is still starting): everything started
    so far is stopped and reaped. Every child ever seen is collected until `loom up` exits."""
    if up.process.poll() is None:  # run alone: the first demo must be stopped (one sync worker per data dir)
        up.process.send_signal(signal.SIGINT)
        up.process.wait(timeout=BOUND)
    log = up.data_dir.parent / "interrupted.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _loom_up(port=_free_port()),
            cwd=up.data_dir.parent,
            env=_environment(up.data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seen: set[int] = set()
    try:

        def started() -> bool:
            seen.update(_children(process.pid))
            return bool(seen)

        _until(started, "loom up started its first process", alive=process, log=log)
        process.send_signal(signal.SIGINT)
        while process.poll() is None:
            seen.update(_children(process.pid))
        assert process.wait(timeout=BOUND) in (0, 130), log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [pid for pid in seen if _running(pid)] == [], log.read_text()
    assert not (up.data_dir / UP_FILE).exists()


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


@pytest.fixture
def planned() -> list[ClusterPlan]:
    return plan_clusters(free_ports=True)


def _example(kind: str) -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(LIBRARY_EXAMPLE.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == kind
    ]


def test_every_deployment_of_the_example_gets_its_own_replica_address(
    bound: list[Replica], planned: list[ClusterPlan]
) -> None:
    documents = demo_documents(bound, max_bytes=1 << 20, clusters=planned)
    services = [doc.resource for doc in documents if isinstance(doc.resource, Service)]
    example = _example("Service")
    expected = [(d["metadata"]["name"], dep["cluster"]) for d in example for dep in d["spec"]["deployments"]]
    assert [(r.service, r.cluster) for r in bound] == expected
    addresses = {(s.metadata.name, dep.cluster): dep.address for s in services for dep in s.spec.deployments}
    assert addresses == {(r.service, r.cluster): r.address for r in bound}
    assert all(dep.kube is None for s in services for dep in s.spec.deployments)
    assert len({r.port for r in bound}) == len(bound)
    # Every service is deployed in more than one cluster (something to fail over to).
    assert all(len(d["spec"]["deployments"]) > 1 for d in example)
    # KUBE_DEMO_PORTS names exactly the example's Kubernetes deployments: no stale or missing entry.
    kube = {
        (dep["cluster"], dep["kube"]["namespace"], dep["kube"]["service"], dep["kube"]["port"])
        for d in example
        for dep in d["spec"]["deployments"]
        if "kube" in dep
    }
    assert kube == set(KUBE_DEMO_PORTS)


def test_every_cluster_of_the_example_becomes_a_local_envoy_on_ports_of_its_own(
    bound: list[Replica], planned: list[ClusterPlan]
) -> None:
    example = {d["metadata"]["name"]: d for d in _example("Cluster")}
    assert [p.name for p in planned] == list(example) == ["us-east", "us-west", "eu-central"]
    assert len({example[c]["spec"]["region"] for c in example}) == 3
    assert {example[c]["spec"]["residency"] for c in example} == {"us", "eu"}
    documents = demo_documents(bound, max_bytes=1 << 20, clusters=planned)
    clusters = {doc.name: doc.resource for doc in documents if isinstance(doc.resource, Cluster)}
    ports = [p for plan in planned for p in (plan.listener, plan.internal, plan.admin, plan.gateway)]
    assert len(set(ports)) == len(ports)
    assert len({(p.failover_host, p.failover_port) for p in planned}) == len(planned)
    for plan in planned:
        written = clusters[plan.name].spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert written["gloo"]["target"] == "local-envoy"
        assert written["gloo"]["proxy"] == {
            "listener": f"127.0.0.1:{plan.listener}",
            "internal": f"127.0.0.1:{plan.internal}",
            "admin": f"127.0.0.1:{plan.admin}",
        }
        assert written["gloo"]["failoverGateway"] == {"host": plan.failover_host, "port": plan.failover_port}
        assert written["gateway"] == {"address": f"http://127.0.0.1:{plan.gateway}"}
        # what the example says otherwise is kept
        original = example[plan.name]["spec"]
        assert (written["region"], written["residency"]) == (original["region"], original["residency"])


@pytest.mark.postgres
def test_preparing_twice_changes_nothing_and_replaces_the_keys(
    settings: Settings, engine: Engine, bound: list[Replica], planned: list[ClusterPlan]
) -> None:
    """The demo's desired state in-process, on SQLite and PostgreSQL: a second start applies nothing new, reuses
    the application, its subscriptions and the gateway robots, revokes the old keys and tokens; a renamed bootstrap
    admin still finds the owner."""
    first_out, second_out = io.StringIO(), io.StringIO()
    first = prepare_database(settings, engine, bound, first_out, planned)
    renamed = settings.model_copy(update={"auth": settings.auth.model_copy(update={"bootstrap_admin": "root"})})
    second = prepare_database(renamed, engine, bound, second_out, planned)
    assert first.new_admin and "one-time password" in first_out.getvalue()
    assert not second.new_admin and second_out.getvalue() == ""
    assert {c.action for c in first.changes} == {"created"}
    assert {c.action for c in second.changes} == {"unchanged"}
    assert first.products == second.products == ["library", "library-eu"]
    assert first.offered == {"library": ("us-east", "us-west", "eu-central"), "library-eu": ("eu-central",)}
    assert set(first.gateway_tokens) == set(second.gateway_tokens) == {p.name for p in planned}
    assert not set(first.gateway_tokens.values()) & set(second.gateway_tokens.values())
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
        robots = session.exec(select(User).where(col(User.robot).is_(True))).all()
        assert sorted(r.name for r in robots) == sorted(gateway_robot(p.name) for p in planned)
        tokens = session.exec(
            select(PersonalAccessToken).where(col(PersonalAccessToken.user_id).in_([r.id for r in robots]))
        ).all()
        live = [t.prefix for t in tokens if t.revoked_at is None]
        assert len(tokens) == 2 * len(planned) and len(live) == len(planned)
        assert all(any(f"{prefix}_" in token for prefix in live) for token in second.gateway_tokens.values())


@pytest.mark.postgres
def test_a_restart_keeps_what_admins_changed(
    settings: Settings, engine: Engine, bound: list[Replica], planned: list[ClusterPlan]
) -> None:
    """`loom up` seeds what is missing; it does not put the example back over an admin's later change."""
    prepare_database(settings, engine, bound, io.StringIO(), planned)
    actor = Actor.system("test")
    with session_scope(engine) as session:
        [product] = get(session, actor, "Product", "library")
        product["spec"]["version"] = "1.1.0"
        product["spec"]["rest"] = [
            {"method": "GET", "path": "/members/{id}", "operation": "query($id: ID!) { member(id: $id) { id } }"}
        ]
        apply(session, actor, parse_documents([product], source="admin", base_dir=LIBRARY_EXAMPLE, max_bytes=10**6))
        session.commit()
    again = prepare_database(settings, engine, bound, io.StringIO(), planned)
    assert {(c.kind, c.name) for c in again.changes} == {
        *(("Service", n) for n in ("members", "loans", "catalog")),
        *(("Cluster", p.name) for p in planned),
    }
    assert {c.action for c in again.changes} == {"unchanged"}
    with session_scope(engine) as session:
        [after] = get(session, actor, "Product", "library")
    assert after["spec"]["version"] == "1.1.0"
    assert [route["path"] for route in after["spec"]["rest"]] == ["/members/{id}"]


def test_a_loan_that_joins_no_member_fails_the_check() -> None:
    ada = {"id": "m1", "displayName": "Ada", "tier": "PATRON"}
    data: dict[str, Any] = {
        "members": [ada],
        "listBooks": [{"isbn": "1", "title": "One"}],
        "overdueLoans": [{"id": "l1", "memberId": "m1", "isbn": "1", "dueOn": "2026-01-01", "member": ada}],
    }
    assert joined_overdue(data) == ["Ada (PATRON): 'One' was due 2026-01-01"]
    data["overdueLoans"].append({"id": "l2", "memberId": "m9", "isbn": "1", "dueOn": "2026-01-02", "member": ada})
    with pytest.raises(DemoError, match="loan l2 does not join a member and a book"):
        joined_overdue(data)
    data["overdueLoans"][1] = {"id": "l3", "memberId": "m1", "isbn": "9", "dueOn": "2026-01-02", "member": ada}
    with pytest.raises(DemoError, match="loan l3 does not join"):
        joined_overdue(data)
