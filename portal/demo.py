"""``loom up``: the embedded demo, one command on a fresh machine: a portal, its sync worker, and a real local fleet.

What it starts, all on loopback, from the library example (``portal/examples/library``):

* **The portal** (with its embedded gateway and the sync worker, as ``loom serve`` runs them) in this process, on
  SQLite under ``LOOM_DATA_DIR`` unless ``LOOM_DATABASE_URL`` says otherwise.
* **One real Envoy per cluster** of the example (us-east, us-west: residency ``us``; eu-central: residency ``eu``).
  The example's clusters are localized to the ``local-envoy`` target: each gets a products listener, an internal
  listener, an admin port and a failover-gateway listener on loopback, and the sync worker starts and programs its
  Envoy (:class:`portal.sync.targets.local_envoy.LocalEnvoyTarget`; this module keeps each target to report its pid).
* **One gateway process per cluster** (``loom gateway --portal URL --cluster NAME``), authenticated as a gateway robot
  account of its own cluster (``demo-gateway-<cluster>``, a fresh token each start, passed in the environment, never
  on the command line), reaching services through its cluster's Envoy.
* **One process per service deployment** (:mod:`portal.demo_services`: members is a Federation subgraph, loans plain
  GraphQL, catalog REST/OpenAPI), each service in more than one cluster, on the example's own port where it gives an
  address and on :data:`KUBE_DEMO_PORTS` where it gives a Kubernetes reference. A busy port (or ``--free-ports``)
  falls back to a free one. A loan's ``member`` is resolved from the members service: a join across services.

Then it seeds (only what is missing: a resource that exists keeps what its owners changed, except that the demo's
deployments and clusters follow this start's ports) the example, the application ``library-demo`` with approved
subscriptions on plan ``basic`` and a fresh API key (the previous ``loom up`` key is revoked), waits until the
``library`` product answers a query across the three services through **every** cluster's Envoy, writes
``$LOOM_DATA_DIR/up.json`` (atomically; removed again on exit) and prints a banner:

.. code-block:: json

   {"portal": "http://127.0.0.1:PORT", "apiKey": "lk_...",
    "clusters": {"us-east": {"envoy": {"pid": 1, "listener": "http://127.0.0.1:P", "admin": "http://127.0.0.1:A"},
                             "gateway": {"pid": 2, "url": "http://127.0.0.1:G"},
                             "products": {"library": "http://127.0.0.1:P/products/library/graphql"}}},
    "services": [{"service": "members", "cluster": "us-east", "pid": 3, "url": "http://127.0.0.1:7301"}]}

That shape is a contract (extend it, rename nothing); scripts and tests use it to find and fault a replica. A replica
or gateway that dies is reported and left dead (that is a fault to fail over from, not a reason to stop). An Envoy
that dies is reported too; the sync worker starts it again the next time it applies to that cluster (a change of the
desired state, or its resync period, ``LOOM_SYNC_RESYNC_SECONDS``), and ``up.json`` then names its new pid.

Ctrl-C (SIGINT) or SIGTERM stops everything it started: the portal (whose sync worker stops the Envoys), then every
gateway and service process (SIGTERM to its process group, SIGKILL after a grace period), each reaped. Children
also get SIGTERM from the kernel should ``loom up`` itself die without ceremony (``PR_SET_PDEATHSIG``).

``loom up --check`` starts the same, runs one query across the three services through a cluster's Envoy, prints the
result and the overdue loans joined with their members and books, stops everything and exits 0 (1 when wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import errno
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import uvicorn
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal import manifests
from portal.accounts import create_token, ensure_bootstrap_admin, revoke_token
from portal.applications import IssuedCredential, create_api_key, create_application, revoke_credential
from portal.audit import audit_scope
from portal.authorization import Actor
from portal.db import create_engine_for, migrate, redacted_url, session_scope, writer
from portal.demo_services import DEMO_SERVICES, LIBRARY_EXAMPLE
from portal.errors import Invalid, LoomError
from portal.models import (
    Application,
    Credential,
    Membership,
    PersonalAccessToken,
    Product,
    Role,
    Subscription,
    SubscriptionState,
    User,
)
from portal.resources import Change, apply, get
from portal.robots import create_gateway_robot
from portal.server import build_app, end_watches, server_settings
from portal.settings import Settings
from portal.subscriptions import approve, request as request_subscription
from portal.sync.desired import ClusterSpec
from portal.sync.runner import envoy_dir, target_factory
from portal.sync.targets import Target
from portal.sync.targets.local_envoy import LocalEnvoyTarget
from stitcher.serving import uvicorn_server

__all__ = [
    "CHECK_QUERY",
    "DEMO_APPLICATION",
    "DEMO_CLUSTER_PORTS",
    "DEMO_PLAN",
    "KUBE_DEMO_PORTS",
    "UP_FILE",
    "ClusterPlan",
    "DemoError",
    "DemoState",
    "Replica",
    "demo_documents",
    "gateway_robot",
    "joined_overdue",
    "plan_clusters",
    "plan_replicas",
    "prepare_database",
    "up_command",
]

KUBE_DEMO_PORTS: Mapping[tuple[str, str, str, int], int] = {
    # (cluster, namespace, kube service, kube port) -> loopback port of the demo replica that stands in for it.
    # The last digit is the cluster (1 us-east, 2 us-west, 3 eu-central), as in the example's members addresses.
    ("us-east", "library", "loans", 8080): 7311,
    ("eu-central", "library", "loans", 8080): 7313,
    ("us-east", "library", "catalog", 8080): 7321,
    ("eu-central", "library", "catalog", 8080): 7323,
}
"""Where the demo runs the example's Kubernetes deployments: the one place that maps them to local addresses."""

DEMO_CLUSTER_PORTS: Mapping[str, Mapping[str, int]] = {
    # The ports each cluster's Envoy and gateway prefer (a busy one, or --free-ports, takes a free one instead).
    # The failover gateway listener is the example's own failoverGateway address.
    "us-east": {"listener": 7401, "internal": 7411, "admin": 7421, "gateway": 7431},
    "us-west": {"listener": 7402, "internal": 7412, "admin": 7422, "gateway": 7432},
    "eu-central": {"listener": 7403, "internal": 7413, "admin": 7423, "gateway": 7433},
}
"""Where the demo runs each cluster of the example: its Envoy's listeners and admin API, and its gateway."""

DEMO_APPLICATION = "library-demo"
DEMO_PLAN = "basic"
UP_FILE = "up.json"
_KEY_NAME = "loom up"
_ROBOT_LABEL = "gateway"  # the name of the robot token loom up issues
_LOOPBACK = "127.0.0.1"
_READY_SECONDS = 120.0
_STOP_GRACE = 5.0
_POLL = 0.1

CHECK_QUERY = """query LibraryCheck {
  members { id displayName tier }
  overdueLoans { id memberId isbn dueOn member { id displayName tier } }
  listBooks(limit: 100) { isbn title format { __typename ... on Print { pages } ... on Ebook { sizeKb } } }
}"""
"""The ``--check`` query: one request that the gateway splits over members, loans and catalog, with each overdue
loan's ``member`` resolved from the members service (the join)."""


class DemoError(LoomError):
    """The demo cannot start (a port, a server, a process, an Envoy); the message says what to do."""


# --- ports -----------------------------------------------------------------------------------------------------------


@dataclass
class Replica:
    """One demo service replica standing in for one deployment (service x cluster), on a bound loopback socket
    (handed to the replica's process, which serves on it)."""

    service: str
    cluster: str
    stands_for: str  # the example's address or Kubernetes reference, for the banner
    socket: socket.socket

    @property
    def port(self) -> int:
        port: int = self.socket.getsockname()[1]
        return port

    @property
    def address(self) -> str:
        return f"http://{_LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class ClusterPlan:
    """Where one cluster of the demo runs: its Envoy's products, internal and admin ports, its failover gateway
    listener (``failover_host:failover_port``) and its gateway's port."""

    name: str
    listener: int
    internal: int
    admin: int
    gateway: int
    failover_host: str
    failover_port: int

    @property
    def listener_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.listener}"

    @property
    def admin_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.admin}"

    @property
    def gateway_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.gateway}"

    def product_url(self, product: str) -> str:
        return f"{self.listener_url}/products/{product}/graphql"

    def gloo(self, written: Mapping[str, Any]) -> dict[str, Any]:
        """The cluster's ``spec.gloo`` as the demo runs it: a local Envoy on these ports."""
        return {
            **{k: v for k, v in written.items() if k not in ("kubeContext",)},
            "target": "local-envoy",
            "failoverGateway": {"host": self.failover_host, "port": self.failover_port},
            "proxy": {
                "listener": f"{_LOOPBACK}:{self.listener}",
                "internal": f"{_LOOPBACK}:{self.internal}",
                "admin": f"{_LOOPBACK}:{self.admin}",
            },
        }


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _bind_preferred(port: int, *, free_ports: bool) -> socket.socket:
    if not free_ports:
        try:
            return _bind(_LOOPBACK, port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise DemoError(f"cannot bind {_LOOPBACK}:{port} for a demo service: {exc.strerror}") from exc
    return _bind(_LOOPBACK, 0)


def _ephemeral() -> range:
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def _is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _port_for(host: str, preferred: int | None, taken: set[tuple[str, int]]) -> int:
    """``preferred`` when nobody listens there, else a free port outside the kernel's ephemeral range (a port that
    a server we start binds later: an outgoing connection, e.g. an Envoy health check, must not take it first)."""
    if preferred is not None and (host, preferred) not in taken and _is_free(host, preferred):
        taken.add((host, preferred))
        return preferred
    ephemeral = _ephemeral()
    for _ in range(1000):
        port = random.randint(10_000, 64_999)
        if port in ephemeral or (host, port) in taken or not _is_free(host, port):
            continue
        taken.add((host, port))
        return port
    raise DemoError(f"no free port on {host} outside the ephemeral range: stop something that listens there")


def _example_documents() -> list[tuple[str, list[dict[str, Any]]]]:
    """The example's resource files as plain data (schema files are not resources)."""
    files = []
    for path in sorted(LIBRARY_EXAMPLE.glob("*.yaml")):
        raws = [raw for raw in yaml.safe_load_all(path.read_text(encoding="utf-8")) if raw is not None]
        if raws and all(isinstance(raw, dict) and "apiVersion" in raw for raw in raws):
            files.append((path.name, raws))
    return files


def _preferred_port(service: str, deployment: Mapping[str, Any]) -> tuple[int, str]:
    cluster = str(deployment["cluster"])
    if "address" in deployment:
        url = urlsplit(str(deployment["address"]))
        if url.hostname not in (_LOOPBACK, "localhost") or url.port is None:
            raise DemoError(f"the demo runs loopback addresses only; service {service!r} has {deployment['address']}")
        return url.port, str(deployment["address"])
    kube = deployment["kube"]
    key = (cluster, str(kube["namespace"]), str(kube["service"]), int(kube["port"]))
    if key not in KUBE_DEMO_PORTS:
        raise DemoError(
            f"no demo port for the Kubernetes deployment {key} of service {service!r}: add it to KUBE_DEMO_PORTS"
        )
    return KUBE_DEMO_PORTS[key], f"kube {kube['service']}.{kube['namespace']}:{kube['port']} in {cluster}"


def plan_replicas(*, free_ports: bool = False) -> list[Replica]:
    """Bind a loopback socket for every deployment of the example (closed by the caller once handed over)."""
    replicas: list[Replica] = []
    try:
        for _name, raws in _example_documents():
            for raw in raws:
                if raw.get("kind") != "Service":
                    continue
                service = str(raw["metadata"]["name"])
                if service not in DEMO_SERVICES:
                    raise DemoError(f"the example's service {service!r} has no demo app in portal.demo_services")
                for deployment in raw["spec"].get("deployments", []):
                    port, stands_for = _preferred_port(service, deployment)
                    sock = _bind_preferred(port, free_ports=free_ports)
                    replicas.append(Replica(service, str(deployment["cluster"]), stands_for, sock))
    except BaseException:
        for replica in replicas:
            replica.socket.close()
        raise
    return replicas


def plan_clusters(*, free_ports: bool = False) -> list[ClusterPlan]:
    """Ports for every cluster of the example: :data:`DEMO_CLUSTER_PORTS` and the example's failover gateway
    addresses where they are free (unless ``free_ports``), free ports outside the ephemeral range otherwise."""
    taken: set[tuple[str, int]] = set()
    plans = []
    for _name, raws in _example_documents():
        for raw in raws:
            if raw.get("kind") != "Cluster":
                continue
            name = str(raw["metadata"]["name"])
            preferred = {} if free_ports else DEMO_CLUSTER_PORTS.get(name, {})
            failover = (raw.get("spec", {}).get("gloo") or {}).get("failoverGateway") or {}
            host = str(failover.get("host") or _LOOPBACK)
            if not host.startswith("127."):
                host = _LOOPBACK
            ports = {what: _port_for(_LOOPBACK, preferred.get(what), taken) for what in DEMO_CLUSTER_PORTS["us-east"]}
            failover_port = _port_for(host, None if free_ports else failover.get("port"), taken)
            plans.append(ClusterPlan(name, failover_host=host, failover_port=failover_port, **ports))
    return plans


def demo_documents(
    replicas: Sequence[Replica], *, max_bytes: int, clusters: Sequence[ClusterPlan] = ()
) -> list[manifests.Document]:
    """The example's resources with every deployment pointing at its local replica and every planned cluster made a
    ``local-envoy`` cluster on its ports with its gateway's address, validated as ``apply`` reads them (schema files
    are read beside the example)."""
    documents: list[manifests.Document] = []
    for name, raws in _example_documents():
        localized = [_localized(json.loads(json.dumps(raw)), replicas, clusters) for raw in raws]  # deep copies
        documents += manifests.parse_documents(localized, source=name, base_dir=LIBRARY_EXAMPLE, max_bytes=max_bytes)
    return documents


def _localized(raw: dict[str, Any], replicas: Sequence[Replica], clusters: Sequence[ClusterPlan]) -> dict[str, Any]:
    """A resource (plain data, changed in place) with the demo's addresses: a Service's deployments at their
    replicas, a Cluster on its local Envoy and gateway."""
    name = raw["metadata"]["name"]
    if raw.get("kind") == "Service":
        where = {(r.service, r.cluster): r.address for r in replicas}
        for deployment in raw["spec"].get("deployments", []):
            address = where.get((name, deployment["cluster"]))
            if address is not None:
                deployment.pop("kube", None)
                deployment["address"] = address
    elif raw.get("kind") == "Cluster":
        plan = next((c for c in clusters if c.name == name), None)
        if plan is not None:
            raw["spec"]["gloo"] = plan.gloo(raw["spec"].get("gloo") or {})
            raw["spec"]["gateway"] = {"address": plan.gateway_url}
    return raw


# --- the desired state -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoState:
    """What preparing the database did: the apply's changes, the fresh API key (its only copy) and the products."""

    changes: list[Change]
    api_key: str
    products: list[str]
    new_admin: bool  # the bootstrap admin was created (and its one-time password printed) by this start
    gateway_tokens: Mapping[str, str] = field(default_factory=dict)  # cluster -> its gateway robot's fresh token
    offered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # product -> the clusters offering it


def _owner(session: Session, settings: Settings) -> User:
    """The bootstrap admin, or (when it was renamed or removed) the oldest platform admin."""
    user = session.exec(select(User).where(col(User.name) == settings.auth.bootstrap_admin)).first()
    if user is not None:
        return user
    admin = session.exec(
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(col(Membership.role) == Role.PLATFORM_ADMIN)
        .order_by(col(User.id))
    ).first()
    if admin is None:  # ensure_bootstrap_admin made one
        raise DemoError("the database has no platform admin to own the demo application")
    return admin


def _demo_application(session: Session, actor: Actor, settings: Settings) -> Application:
    owner = _owner(session, settings)
    existing = session.exec(
        select(Application).where(col(Application.owner_id) == owner.id, col(Application.name) == DEMO_APPLICATION)
    ).first()
    if existing is not None:
        return existing
    return create_application(
        session, actor, name=DEMO_APPLICATION, owner=owner, description="the consumer application of `loom up`"
    )


def _subscribe(session: Session, actor: Actor, application: Application, product: str) -> None:
    live = session.exec(
        select(Subscription)
        .join(Product, col(Product.id) == col(Subscription.product_id))
        .where(
            col(Subscription.application_id) == application.id,
            col(Product.name) == product,
            col(Subscription.state).in_([SubscriptionState.REQUESTED, SubscriptionState.APPROVED]),
        )
    ).first()
    assert application.id is not None
    subscription = live or request_subscription(session, actor, application.id, product, DEMO_PLAN)
    if subscription.state is SubscriptionState.REQUESTED:
        assert subscription.id is not None
        approve(session, actor, subscription.id)


def _fresh_api_key(session: Session, actor: Actor, application: Application) -> IssuedCredential:
    """A new key each start (its text exists only now); the keys of earlier starts are revoked."""
    old = session.exec(
        select(Credential).where(
            col(Credential.application_id) == application.id,
            col(Credential.name) == _KEY_NAME,
            col(Credential.revoked_at).is_(None),
        )
    ).all()
    for credential in old:
        assert credential.id is not None
        revoke_credential(session, actor, credential.id)
    return create_api_key(session, actor, application, name=_KEY_NAME)


def _missing_or_moved(
    session: Session,
    actor: Actor,
    documents: Sequence[manifests.Document],
    replicas: Sequence[Replica],
    clusters: Sequence[ClusterPlan],
    *,
    max_bytes: int,
) -> list[manifests.Document]:
    """What to apply on this start: the example's resources that do not exist yet, and every existing demo service
    and cluster as it stands now with its demo addresses pointed at this start's replicas, Envoys and gateways
    (other changes by admins are kept)."""
    wanted: list[manifests.Document] = []
    for doc in documents:
        existing = [r for r in get(session, actor, doc.kind) if r["metadata"]["name"] == doc.name]
        if not existing:
            wanted.append(doc)
            continue
        if doc.kind not in ("Service", "Cluster"):
            continue
        current = _localized(existing[0], replicas, clusters)
        wanted += manifests.parse_documents([current], source="loom up", base_dir=LIBRARY_EXAMPLE, max_bytes=max_bytes)
    return wanted


def gateway_robot(cluster: str) -> str:
    """The name of the gateway robot account ``loom up`` runs a cluster's gateway as."""
    return f"demo-gateway-{cluster}"


def _gateway_token(session: Session, actor: Actor, cluster: str) -> str:
    """A fresh token of the cluster's gateway robot (created on first start); earlier tokens are revoked."""
    name = gateway_robot(cluster)
    robot = session.exec(select(User).where(col(User.name) == name)).first()
    if robot is None:
        return create_gateway_robot(session, actor, name, [cluster]).token
    old = session.exec(
        select(PersonalAccessToken).where(
            col(PersonalAccessToken.user_id) == robot.id, col(PersonalAccessToken.revoked_at).is_(None)
        )
    ).all()
    for token in old:
        revoke_token(session, actor, token.prefix)
    return create_token(session, actor, robot, name=_ROBOT_LABEL).token


def prepare_database(
    settings: Settings,
    engine: Engine,
    replicas: Sequence[Replica],
    out: TextIO,
    clusters: Sequence[ClusterPlan] = (),
) -> DemoState:
    """Migrate, create the bootstrap admin, apply the localized example, issue the demo's API key and a token for
    the gateway robot of every planned cluster."""
    migrate(engine)
    with session_scope(writer(engine)) as session:
        new_admin = ensure_bootstrap_admin(session, settings, out) is not None
    max_bytes = settings.auth.max_document_bytes
    documents = demo_documents(replicas, max_bytes=max_bytes, clusters=clusters)
    products = [doc.name for doc in documents if doc.kind == "Product"]
    actor = Actor.system("loom-up")
    with session_scope(writer(engine)) as session, audit_scope(via="cli"):
        documents = _missing_or_moved(session, actor, documents, replicas, clusters, max_bytes=max_bytes)
        changes = apply(session, actor, documents)
        session.commit()
        application = _demo_application(session, actor, settings)
        for product in products:
            _subscribe(session, actor, application, product)
        issued = _fresh_api_key(session, actor, application)
        tokens = {plan.name: _gateway_token(session, actor, plan.name) for plan in clusters}
        offered = {
            r["metadata"]["name"]: tuple((r["spec"].get("routing") or {}).get("clusters") or ())
            for r in get(session, actor, "Product")
            if r["metadata"]["name"] in products
        }
        session.commit()
    return DemoState(changes, issued.secret, products, new_admin, tokens, offered)


# --- processes -------------------------------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
_PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


@dataclass
class _Child:
    """A process ``loom up`` started: a demo service replica or a cluster's gateway, in a process group of its own
    (so a signal reaches whatever it started, and a Ctrl-C in the terminal reaches only ``loom up``, which stops
    the children in order)."""

    role: str  # "service" | "gateway"
    name: str  # the service's name, or "gateway"
    cluster: str
    url: str
    log: Path
    popen: subprocess.Popen[bytes]
    reported: bool = False  # its unexpected exit was said once

    @property
    def what(self) -> str:
        return (
            f"the {self.name} replica of {self.cluster}" if self.role == "service" else f"the gateway of {self.cluster}"
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, limit: int = 1500) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:].strip()

    async def stop(self, grace: float) -> None:
        """SIGTERM to its process group, SIGKILL when it has not exited after ``grace`` seconds; returns once it is
        reaped."""
        if self.popen.poll() is not None:
            return
        _signal_group(self.popen.pid, signal.SIGTERM)
        if not await asyncio.to_thread(self._wait, grace):
            _signal_group(self.popen.pid, signal.SIGKILL)
            await asyncio.to_thread(self._wait, None)

    def _wait(self, timeout: float | None) -> bool:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _spawn(
    command: Sequence[str],
    *,
    log: Path,
    environment: Mapping[str, str],
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("wb") as out:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and modules, no shell
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(environment),
                pass_fds=tuple(pass_fds),
                start_new_session=True,
                preexec_fn=_die_with_parent if _PRCTL is not None else None,
            )
    except OSError as exc:
        raise DemoError(f"cannot start {command[0]}: {exc}") from exc


def _child_environment(settings: Settings, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_GATEWAY_TOKEN")}
    environment["LOOM_DATA_DIR"] = str(settings.data_dir.resolve())
    environment.update(extra)
    return environment


def _start_service(settings: Settings, replica: Replica, logs: Path) -> _Child:
    fd, url = replica.socket.fileno(), replica.address
    log = logs / f"{replica.service}-{replica.cluster}.log"
    popen = _spawn(
        [sys.executable, "-m", "portal.demo_services", replica.service, "--fd", str(fd)],
        log=log,
        environment=_child_environment(settings),
        pass_fds=[fd],
    )
    replica.socket.close()  # the child serves on its copy
    return _Child("service", replica.service, replica.cluster, url, log, popen)


def _start_gateway(settings: Settings, plan: ClusterPlan, portal_url: str, token: str, logs: Path) -> _Child:
    log = logs / f"gateway-{plan.name}.log"
    command = [
        sys.executable, "-m", "portal.cli", "gateway", "--portal", portal_url, "--cluster", plan.name,
        "--host", _LOOPBACK, "--port", str(plan.gateway),
    ]  # fmt: skip
    # The token goes in the environment: a command line is readable by every local user (ps).
    popen = _spawn(command, log=log, environment=_child_environment(settings, LOOM_GATEWAY_TOKEN=token))
    return _Child("gateway", "gateway", plan.name, plan.gateway_url, log, popen)


class _Envoys:
    """The sync worker's targets for ``loom up``: a :class:`LocalEnvoyTarget` per local-envoy cluster, kept so the
    demo knows each Envoy's pid (the worker starts and restarts them); other targets as ``loom serve`` makes them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._default = target_factory(settings)
        self.targets: dict[str, LocalEnvoyTarget] = {}

    def __call__(self, cluster: ClusterSpec) -> Target:
        if cluster.target != "local-envoy":
            return self._default(cluster)
        target = LocalEnvoyTarget(cluster, envoy_dir(self._settings) / cluster.name)
        self.targets[cluster.name] = target
        return target

    def pid(self, cluster: str) -> int | None:
        target = self.targets.get(cluster)
        return target.pid if target is not None else None

    async def aclose(self) -> None:
        """Stop every Envoy still running (the worker stops them when it stops; this is the safety net)."""
        for target in list(self.targets.values()):
            with contextlib.suppress(Exception):
                await target.aclose()


# --- serving ------------------------------------------------------------------------------------------------------


def _local_url(settings: Settings) -> str:
    """Where this process reaches its own portal (the public URL may be a proxy in front of it)."""
    host = settings.server.host
    host = {"0.0.0.0": _LOOPBACK, "::": "::1", "": _LOOPBACK}.get(host, host)  # noqa: S104 - a comparison
    return f"http://[{host}]:{settings.server.port}" if ":" in host else f"http://{host}:{settings.server.port}"


async def _query(client: httpx.AsyncClient, url: str, api_key: str) -> httpx.Response:
    return await client.post(
        url,
        json={"query": CHECK_QUERY},
        headers={"x-api-key": api_key, "accept": "application/graphql-response+json"},
    )


def _problem(result: Mapping[str, Any]) -> str | None:
    """What is wrong with a check result, or None when members, loans (joined with their members) and books are
    all there."""
    data = result.get("data")
    if result.get("errors") or not isinstance(data, dict):
        return f"the gateway answered errors: {result.get('errors')}"
    try:
        lines = joined_overdue(data)
    except DemoError as exc:
        return str(exc)
    if not (data.get("members") and data.get("listBooks") and lines):
        return "members, books and overdue loans must all be there"
    return None


@dataclass
class _Fleet:
    """Everything ``loom up`` runs beside its own event loop."""

    settings: Settings
    envoys: _Envoys
    clusters: Sequence[ClusterPlan]
    services: list[_Child] = field(default_factory=list)
    gateways: list[_Child] = field(default_factory=list)

    @property
    def children(self) -> list[_Child]:
        return [*self.gateways, *self.services]

    def dead(self) -> list[_Child]:
        return [c for c in self.children if c.popen.poll() is not None]

    def check_alive(self) -> None:
        """Raise when a process died while the demo was starting (its log says why)."""
        for child in self.dead():
            raise DemoError(
                f"{child.what} (pid {child.pid}) exited with status {child.popen.returncode} while the demo was "
                f"starting; its log ({child.log}) ends: {child.log_tail() or '(empty)'}"
            )

    async def stop(self) -> None:
        await asyncio.gather(*(child.stop(_STOP_GRACE) for child in self.children))
        await self.envoys.aclose()


async def _wait_for_services(client: httpx.AsyncClient, fleet: _Fleet, deadline: float) -> None:
    pending = list(fleet.services)
    while pending:
        fleet.check_alive()
        still = []
        for child in pending:
            try:
                healthy = (await client.get(f"{child.url}/healthz")).status_code == 200
            except httpx.TransportError:
                healthy = False
            if not healthy:
                still.append(child)
        pending = still
        if pending and time.monotonic() > deadline:
            raise DemoError(f"{pending[0].what} does not answer {pending[0].url}/healthz; see {pending[0].log}")
        if pending:
            await asyncio.sleep(_POLL)


async def _wait_through_envoys(
    client: httpx.AsyncClient, fleet: _Fleet, api_key: str, deadline: float
) -> dict[str, dict[str, Any]]:
    """Each cluster's answer to the check query through its own Envoy, once every one of them is right."""
    results: dict[str, dict[str, Any]] = {}
    last: dict[str, str] = {}
    while len(results) < len(fleet.clusters):
        fleet.check_alive()
        for plan in fleet.clusters:
            if plan.name in results:
                continue
            try:
                response = await _query(client, plan.product_url("library"), api_key)
            except httpx.TransportError as exc:
                last[plan.name] = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code != 200:
                last[plan.name] = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            body: dict[str, Any] = response.json()
            problem = _problem(body)
            if problem is None:
                results[plan.name] = body
            else:
                last[plan.name] = problem
        if len(results) < len(fleet.clusters):
            if time.monotonic() > deadline:
                waiting = [p for p in fleet.clusters if p.name not in results]
                detail = "; ".join(f"{p.name}: {last.get(p.name, 'no answer yet')}" for p in waiting)
                raise DemoError(
                    f"the library product is not served through every cluster's Envoy within {_READY_SECONDS:.0f} s "
                    f"({detail}); `loom status` says what each cluster is doing, the logs are in "
                    f"{fleet.settings.data_dir / 'logs'}"
                )
            await asyncio.sleep(_POLL * 2)
    return results


def up_description(settings: Settings, prepared: DemoState, fleet: _Fleet) -> dict[str, Any]:
    """``up.json``: everything ``loom up`` started (the shape is a contract: extend it, rename nothing)."""
    gateways = {g.cluster: g for g in fleet.gateways}
    clusters = {}
    for plan in fleet.clusters:
        gateway = gateways.get(plan.name)
        clusters[plan.name] = {
            "envoy": {
                "pid": fleet.envoys.pid(plan.name),
                "listener": plan.listener_url,
                "admin": plan.admin_url,
                "internal": f"http://{_LOOPBACK}:{plan.internal}",  # the gateway's way to services
                "failover": f"http://{plan.failover_host}:{plan.failover_port}",  # other clusters fail over here
            },
            "gateway": {"pid": gateway.pid if gateway else None, "url": plan.gateway_url},
            "products": {
                product: plan.product_url(product)
                for product in prepared.products
                if plan.name in prepared.offered.get(product, ())
            },
        }
    return {
        "portal": _local_url(settings),
        "apiKey": prepared.api_key,
        "clusters": clusters,
        "services": [{"service": s.name, "cluster": s.cluster, "pid": s.pid, "url": s.url} for s in fleet.services],
        "pid": os.getpid(),
        "logs": str((settings.data_dir / "logs").resolve()),
    }


def _write_atomically(path: Path, body: Mapping[str, Any]) -> None:
    """Readers see the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def joined_overdue(data: Mapping[str, Any]) -> list[str]:
    """The overdue loans of a check result with their members (resolved from the members service through the
    loan's ``member``, and consistent with its ``memberId``) and books (catalog)."""
    books = {b["isbn"]: b for b in data["listBooks"]}
    lines = []
    for loan in data["overdueLoans"]:
        member, book = loan.get("member"), books.get(loan["isbn"])
        if not member or member.get("id") != loan["memberId"] or not member.get("displayName") or book is None:
            raise DemoError(f"loan {loan['id']} does not join a member and a book: {loan}")
        lines.append(f"{member['displayName']} ({member['tier']}): {book['title']!r} was due {loan['dueOn']}")
    return lines


def _check(cluster: str, result: Mapping[str, Any], out: TextIO) -> int:
    print("loom: check: " + json.dumps(result, separators=(",", ":")), file=out)
    problem = _problem(result)
    if problem is not None:
        print(f"loom: check FAILED: {problem}", file=out)
        return 1
    for line in joined_overdue(result["data"]):
        print(f"loom: check: overdue: {line}", file=out)
    print(f"loom: check passed: members + loans + catalog through the Envoy of {cluster}", file=out)
    return 0


def _banner(settings: Settings, prepared: DemoState, fleet: _Fleet) -> str:
    base = settings.public_url.rstrip("/")
    first = fleet.clusters[0].product_url("library")
    body = json.dumps({"query": "{ overdueLoans { dueOn member { displayName } } }"})
    curl = (
        f"curl -s {first} -H 'x-api-key: {prepared.api_key}' -H 'content-type: application/json' -d {shlex.quote(body)}"
    )
    admin = settings.auth.bootstrap_admin
    description = up_description(settings, prepared, fleet)
    lines = [
        "",
        f"Loom demo is up (database {redacted_url(settings.database_url)}).",
        f"  portal      {base}   admin API {base}/api/graphql   fleet: {base}/api/graphql or `loom status`",
        f"  sign in     {base}/login as user {admin!r} with "
        + (
            "the one-time password printed above"
            if prepared.new_admin
            else "the password printed by the first `loom up` (or LOOM_AUTH_BOOTSTRAP_PASSWORD)"
        ),
        f"  API key     {prepared.api_key}",
        f"              application {DEMO_APPLICATION!r}, plan {DEMO_PLAN!r}; shown once, a new one each `loom up`;",
        "              in GraphiQL paste it into the x-api-key header (Headers, below the query)",
    ]
    for name, cluster in description["clusters"].items():
        lines.append(
            f"  {name:<11} Envoy {cluster['envoy']['listener']} (pid {cluster['envoy']['pid']}, admin "
            f"{cluster['envoy']['admin']}), gateway {cluster['gateway']['url']} (pid {cluster['gateway']['pid']})"
        )
        lines += [f"              {product}: {url}" for product, url in cluster["products"].items()]
    lines += [
        f"  try         {curl}",
        f"  REST        {fleet.clusters[0].listener_url}/products/library/rest/catalog/books (same API key)",
        *[
            f"  {'services' if i == 0 else '':<11} {s.name} in {s.cluster}: {s.url} (pid {s.pid})"
            for i, s in enumerate(fleet.services)
        ],
        f"  described   {settings.data_dir.resolve() / UP_FILE}   logs {settings.data_dir.resolve() / 'logs'}",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


async def _supervise(fleet: _Fleet, stop: asyncio.Event, write: Callable[[], None], out: TextIO) -> None:
    """Until ``stop``: say once when a replica or gateway dies (it stays dead: a fault to fail over from), and
    rewrite ``up.json`` when the sync worker restarted an Envoy (its pid changed)."""
    pids = {plan.name: fleet.envoys.pid(plan.name) for plan in fleet.clusters}
    while not stop.is_set():
        for name, pid in pids.items():
            if pid is not None and fleet.envoys.pid(name) is None:
                pids[name] = None
                print(
                    f"loom: the Envoy of {name} (pid {pid}) exited; the sync worker starts it again when it next "
                    "applies to that cluster",
                    file=out,
                    flush=True,
                )
        for child in fleet.dead():
            if not child.reported:
                child.reported = True
                print(
                    f"loom: {child.what} (pid {child.pid}) exited with status {child.popen.returncode}; "
                    f"the others go on (its log: {child.log})",
                    file=out,
                    flush=True,
                )
        now = {plan.name: fleet.envoys.pid(plan.name) for plan in fleet.clusters}
        if any(pid is not None and pid != pids[name] for name, pid in now.items()):
            pids = now
            write()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.25)


async def _serve(
    settings: Settings,
    engine: Engine,
    portal_socket: socket.socket,
    replicas: Sequence[Replica],
    clusters: Sequence[ClusterPlan],
    *,
    check: bool,
    prepared: DemoState,
    out: TextIO,
) -> int:
    envoys = _Envoys(settings)
    fleet = _Fleet(settings, envoys, clusters)
    logs = settings.data_dir / "logs"
    up_file = settings.data_dir / UP_FILE
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    body = asyncio.current_task()
    serving = False  # past start-up and the banner: waiting for a signal
    portal: uvicorn.Server | None = None
    portal_task: asyncio.Task[None] | None = None

    def on_signal() -> None:
        if stop.is_set():  # a second Ctrl-C: stop waiting for the portal's open connections
            if portal is not None:
                portal.force_exit = True
            return
        stop.set()
        if not serving and body is not None:  # still starting (or checking): abandon that, then stop
            body.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers off the main thread
            loop.add_signal_handler(sig, on_signal)
    status = 0
    try:
        for replica in replicas:
            fleet.services.append(_start_service(settings, replica, logs))
        app = build_app(settings, engine, sync_targets=envoys)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
            server_header=False,
        )
        # Signals are the demo's to handle, once for everything it runs; held snapshot watches end as it stops.
        portal = uvicorn_server(config, on_shutdown=end_watches(app), handle_signals=False)
        portal_task = asyncio.create_task(portal.serve(sockets=[portal_socket]), name="loom-up portal")
        while not portal.started:
            if portal_task.done():
                exc = portal_task.exception()
                raise DemoError(f"the portal did not start: {exc or 'it stopped during start-up (see the log above)'}")
            await asyncio.sleep(0.02)
        portal_url = _local_url(settings)
        for plan in clusters:
            fleet.gateways.append(_start_gateway(settings, plan, portal_url, prepared.gateway_tokens[plan.name], logs))
        deadline = time.monotonic() + _READY_SECONDS
        async with httpx.AsyncClient(timeout=15.0, trust_env=False) as client:
            await _wait_for_services(client, fleet, deadline)
            results = await _wait_through_envoys(client, fleet, prepared.api_key, deadline)

        def write() -> None:
            _write_atomically(up_file, up_description(settings, prepared, fleet))

        write()
        print(_banner(settings, prepared, fleet), file=out, flush=True)
        if check:
            first = clusters[0].name
            status = _check(first, results[first], out)
        else:
            serving = True
            supervisor = asyncio.create_task(_supervise(fleet, stop, write, out))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([stopped, portal_task], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            supervisor.cancel()
            if not stop.is_set():
                status = 1
                print("loom: error: the portal stopped unexpectedly; stopping everything", file=sys.stderr)
        print("loom: stopping the demo ...", file=out, flush=True)
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
        print("loom: interrupted; stopping the demo ...", file=out, flush=True)
        status = 130
    finally:
        up_file.unlink(missing_ok=True)  # it describes processes that are about to be gone
        # The portal first (its sync worker stops the Envoys), then the gateways and the replicas.
        if portal is not None and portal_task is not None:
            portal.should_exit = True
            await asyncio.wait([portal_task], timeout=15)
        await fleet.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return status


def up_command(args: argparse.Namespace) -> int:
    """``loom up [--check] [--host H] [--port P] [--free-ports]``."""
    settings = server_settings(args)
    out = sys.stdout
    try:
        portal_socket = _bind(settings.server.host, settings.server.port)
    except OSError as exc:
        raise DemoError(
            f"cannot serve the portal on {settings.server.host}:{settings.server.port} ({exc.strerror}): "
            "pass --port with a free port"
        ) from exc
    replicas: list[Replica] = []
    engine: Engine | None = None
    try:
        if settings.server.port == 0:  # the URL must name the real port
            port = portal_socket.getsockname()[1]
            settings = settings.model_copy(update={"server": settings.server.model_copy(update={"port": port})})
        # The sync worker runs in this process: loom up is the embedded mode, whatever LOOM_SYNC_ENABLED says.
        settings = settings.model_copy(update={"sync": settings.sync.model_copy(update={"enabled": True})})
        free_ports = bool(getattr(args, "free_ports", False))
        replicas = plan_replicas(free_ports=free_ports)
        clusters = plan_clusters(free_ports=free_ports)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # A file left by a demo that was killed describes processes that are gone: nobody may wait on it.
        (settings.data_dir / UP_FILE).unlink(missing_ok=True)
        engine = create_engine_for(settings)
        prepared = prepare_database(settings, engine, replicas, out, clusters)
        for change in prepared.changes:
            if change.action != "unchanged":
                print(f"loom: {change.line()}", file=out)
        try:
            return asyncio.run(
                _serve(
                    settings,
                    engine,
                    portal_socket,
                    replicas,
                    clusters,
                    check=bool(args.check),
                    prepared=prepared,
                    out=out,
                )
            )
        except SystemExit as exc:  # uvicorn exits when an app's lifespan fails to start
            raise DemoError(f"the portal failed to start (exit {exc.code}); see the log above") from exc
    except Invalid as exc:
        raise DemoError(f"the library example does not apply: {exc}") from exc
    finally:
        portal_socket.close()
        for replica in replicas:
            replica.socket.close()
        if engine is not None:
            engine.dispose()
