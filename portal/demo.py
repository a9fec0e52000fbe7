"""``loom up``: the embedded demo, one command on a fresh machine.

What it does, in order:

1. Binds a loopback port for every deployment of the library example (``portal/examples/library``): one demo
   replica (:mod:`portal.demo_services`) per service and cluster, on the example's own port where it gives an
   address, and on the port of :data:`KUBE_DEMO_PORTS` where it gives a Kubernetes reference. A busy port (or
   ``--free-ports``) falls back to a free one.
2. Migrates the database (default: SQLite under ``LOOM_DATA_DIR``) and creates the bootstrap admin on first start
   (its one-time password is printed once).
3. Seeds the database with the example as a platform admin, each deployment rewritten to the address of its local
   replica, so the portal's desired state is what really runs here. Only what is missing is created: a resource
   that exists already keeps what its owners changed since, except that the demo's deployments follow their
   replicas' addresses. A second ``loom up`` therefore changes nothing unless a port moved.
4. Creates (once) the application ``library-demo`` of the admin with approved subscriptions on plan ``basic`` to
   every product of the example, and issues a fresh API key for it (the previous ``loom up`` key is revoked).
5. Serves the portal with its embedded gateway (as ``loom serve`` does) and the replicas in one event loop, waits
   until the ``library`` product answers through the gateway, prints a banner, and runs until Ctrl-C or SIGTERM,
   then stops every server gracefully.

``loom up --check`` does the same, runs one query through the gateway across the three services (members, loans,
catalog), prints the result and the overdue loans joined with their members and books, and exits 0 (1 when the
result is wrong).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import shlex
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import uvicorn
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal import manifests
from portal.accounts import ensure_bootstrap_admin
from portal.applications import IssuedCredential, create_api_key, create_application, revoke_credential
from portal.audit import audit_scope
from portal.authorization import Actor
from portal.db import create_engine_for, migrate, redacted_url, session_scope
from portal.demo_services import DEMO_SERVICES, LIBRARY_EXAMPLE
from portal.errors import Invalid, LoomError
from portal.models import (
    Application,
    Credential,
    Membership,
    Product,
    Role,
    Subscription,
    SubscriptionState,
    User,
)
from portal.resources import Change, apply, get
from portal.server import build_app, server_settings
from portal.settings import Settings
from portal.subscriptions import approve, request as request_subscription

__all__ = [
    "CHECK_QUERY",
    "DEMO_APPLICATION",
    "DEMO_PLAN",
    "KUBE_DEMO_PORTS",
    "DemoError",
    "DemoState",
    "Replica",
    "demo_documents",
    "joined_overdue",
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

DEMO_APPLICATION = "library-demo"
DEMO_PLAN = "basic"
_KEY_NAME = "loom up"
_LOOPBACK = "127.0.0.1"
_READY_SECONDS = 60.0

CHECK_QUERY = """query LibraryCheck {
  members { id displayName tier }
  overdueLoans { id memberId isbn dueOn }
  listBooks(limit: 100) { isbn title format { __typename ... on Print { pages } ... on Ebook { sizeKb } } }
}"""
"""The ``--check`` query: one request that the gateway splits over members, loans and catalog."""


class DemoError(LoomError):
    """The demo cannot start (a port, a server, the gateway); the message says what to do."""


# --- the demo's replicas -------------------------------------------------------------------------------------------


@dataclass
class Replica:
    """One demo service replica standing in for one deployment (service x cluster), on a bound loopback socket."""

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
    """Bind a loopback socket for every deployment of the example (closed by the caller, or by its server)."""
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


def demo_documents(replicas: Sequence[Replica], *, max_bytes: int) -> list[manifests.Document]:
    """The example's resources with every deployment pointing at its local replica, validated as ``apply`` reads
    them (schema files are read beside the example)."""
    where = {(r.service, r.cluster): r.address for r in replicas}
    documents: list[manifests.Document] = []
    for name, raws in _example_documents():
        localized = []
        for raw in raws:
            if raw.get("kind") == "Service":
                raw = json.loads(json.dumps(raw))  # a deep copy of plain YAML data
                service = raw["metadata"]["name"]
                for deployment in raw["spec"].get("deployments", []):
                    deployment.pop("kube", None)
                    deployment["address"] = where[(service, deployment["cluster"])]
            localized.append(raw)
        documents += manifests.parse_documents(localized, source=name, base_dir=LIBRARY_EXAMPLE, max_bytes=max_bytes)
    return documents


# --- the desired state -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoState:
    """What preparing the database did: the apply's changes, the fresh API key (its only copy) and the products."""

    changes: list[Change]
    api_key: str
    products: list[str]
    new_admin: bool  # the bootstrap admin was created (and its one-time password printed) by this start


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
    *,
    max_bytes: int,
) -> list[manifests.Document]:
    """What to apply on this start: the example's resources that do not exist yet, and every existing demo service
    as it stands now with its demo deployments pointed at this start's replicas (changes by admins are kept)."""
    where = {(r.service, r.cluster): r.address for r in replicas}
    wanted: list[manifests.Document] = []
    for doc in documents:
        existing = [r for r in get(session, actor, doc.kind) if r["metadata"]["name"] == doc.name]
        if not existing:
            wanted.append(doc)
            continue
        if doc.kind != "Service":
            continue
        current = existing[0]
        for deployment in current["spec"].get("deployments", []):
            address = where.get((doc.name, deployment["cluster"]))
            if address is not None:
                deployment.pop("kube", None)
                deployment["address"] = address
        wanted += manifests.parse_documents([current], source="loom up", base_dir=LIBRARY_EXAMPLE, max_bytes=max_bytes)
    return wanted


def prepare_database(settings: Settings, engine: Engine, replicas: Sequence[Replica], out: TextIO) -> DemoState:
    """Migrate, create the bootstrap admin, apply the localized example and issue the demo's API key."""
    migrate(engine)
    with session_scope(engine) as session:
        new_admin = ensure_bootstrap_admin(session, settings, out) is not None
    documents = demo_documents(replicas, max_bytes=settings.auth.max_document_bytes)
    products = [doc.name for doc in documents if doc.kind == "Product"]
    actor = Actor.system("loom-up")
    with session_scope(engine) as session, audit_scope(via="cli"):
        documents = _missing_or_moved(session, actor, documents, replicas, max_bytes=settings.auth.max_document_bytes)
        changes = apply(session, actor, documents)
        session.commit()
        application = _demo_application(session, actor, settings)
        for product in products:
            _subscribe(session, actor, application, product)
        issued = _fresh_api_key(session, actor, application)
        session.commit()
    return DemoState(changes, issued.secret, products, new_admin)


# --- serving ------------------------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals alone: the demo handles them once for all its servers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: Any, *, quiet: bool) -> _Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    return _Server(config)


def _local_url(settings: Settings) -> str:
    """Where this process reaches its own portal (the public URL may be a proxy in front of it)."""
    host = settings.server.host
    host = {"0.0.0.0": _LOOPBACK, "::": "::1", "": _LOOPBACK}.get(host, host)  # noqa: S104 - a comparison
    return f"http://[{host}]:{settings.server.port}" if ":" in host else f"http://{host}:{settings.server.port}"


def _launch(server: _Server, sock: socket.socket, what: str) -> asyncio.Task[None]:
    return asyncio.create_task(server.serve(sockets=[sock]), name=f"loom-up {what}")


async def _started(server: _Server, task: asyncio.Task[None], what: str) -> None:
    while not server.started:
        if task.done():
            exc = task.exception()
            raise DemoError(f"{what} did not start: {exc or 'it stopped during start-up (see the log above)'}")
        await asyncio.sleep(0.02)


async def _query(client: httpx.AsyncClient, url: str, api_key: str) -> httpx.Response:
    return await client.post(
        url,
        json={"query": CHECK_QUERY},
        headers={"x-api-key": api_key, "accept": "application/graphql-response+json"},
    )


async def _wait_until_served(client: httpx.AsyncClient, url: str, api_key: str) -> dict[str, Any]:
    """The ``--check`` query's result, once the gateway serves the product to the demo key."""
    deadline = time.monotonic() + _READY_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            response = await _query(client, url, api_key)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        await asyncio.sleep(0.2)
    raise DemoError(f"the gateway did not serve {url} within {_READY_SECONDS:.0f} s (last answer: {last})")


def joined_overdue(data: Mapping[str, Any]) -> list[str]:
    """The overdue loans of a check result joined with their members (members) and books (catalog)."""
    members = {m["id"]: m for m in data["members"]}
    books = {b["isbn"]: b for b in data["listBooks"]}
    lines = []
    for loan in data["overdueLoans"]:
        member, book = members.get(loan["memberId"]), books.get(loan["isbn"])
        if member is None or book is None:
            raise DemoError(f"loan {loan['id']} refers to an unknown member or book: {loan}")
        lines.append(f"{member['displayName']} ({member['tier']}): {book['title']!r} was due {loan['dueOn']}")
    return lines


def _check(result: Mapping[str, Any], out: TextIO) -> int:
    print("loom: check: " + json.dumps(result, separators=(",", ":")), file=out)
    data = result.get("data")
    if result.get("errors") or not isinstance(data, dict):
        print(f"loom: check FAILED: the gateway answered errors: {result.get('errors')}", file=out)
        return 1
    try:
        lines = joined_overdue(data)
    except DemoError as exc:
        print(f"loom: check FAILED: {exc}", file=out)
        return 1
    if not (data["members"] and data["listBooks"] and lines):
        print("loom: check FAILED: members, books and overdue loans must all be there", file=out)
        return 1
    for line in lines:
        print(f"loom: check: overdue: {line}", file=out)
    print("loom: check passed: members + loans + catalog through the gateway", file=out)
    return 0


def _banner(settings: Settings, prepared: DemoState, replicas: Sequence[Replica]) -> str:
    base = settings.public_url.rstrip("/")
    product_url = f"{base}/products/library/graphql"
    body = json.dumps({"query": "{ members { id displayName } overdueLoans { memberId isbn dueOn } }"})
    curl = (
        f"curl -s {product_url} -H 'x-api-key: {prepared.api_key}' -H 'content-type: application/json' "
        f"-d {shlex.quote(body)}"
    )
    admin = settings.auth.bootstrap_admin
    lines = [
        "",
        f"Loom demo is up (database {redacted_url(settings.database_url)}).",
        f"  portal      {base}   admin API {base}/api/graphql",
        f"  sign in     {base}/login as user {admin!r} with "
        + (
            "the one-time password printed above"
            if prepared.new_admin
            else "the password printed by the first `loom up` (or LOOM_AUTH_BOOTSTRAP_PASSWORD)"
        ),
        *[f"  GraphiQL    {base}/products/{name}/graphql" for name in prepared.products],
        f"  API key     {prepared.api_key}",
        f"              application {DEMO_APPLICATION!r}, plan {DEMO_PLAN!r}; shown once, a new one each `loom up`;",
        "              in GraphiQL paste it into the x-api-key header (Headers, below the query)",
        f"  try         {curl}",
        f"  REST        {base}/products/library/rest/catalog/books (the catalog passed through; same API key)",
        f"  OpenAPI     {base}/products/library/openapi.json",
        *[
            f"  {'services' if i == 0 else '':<11} {r.service} in {r.cluster}: {r.address} (for {r.stands_for})"
            for i, r in enumerate(replicas)
        ],
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


async def _serve(
    settings: Settings,
    engine: Engine,
    portal_socket: socket.socket,
    replicas: Sequence[Replica],
    *,
    check: bool,
    prepared: DemoState,
    out: TextIO,
) -> int:
    servers: list[_Server] = []
    tasks: list[asyncio.Task[None]] = []
    portal: _Server | None = None
    portal_task: asyncio.Task[None] | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    body = asyncio.current_task()
    serving = False  # past start-up and the banner: waiting for a signal or a server to stop

    def on_signal() -> None:
        if stop.is_set():  # a second Ctrl-C: stop waiting for open connections
            for server in [*servers, *([portal] if portal is not None else [])]:
                server.force_exit = True
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
            server = _server(DEMO_SERVICES[replica.service](), quiet=True)
            what = f"the {replica.service} replica of {replica.cluster}"
            servers.append(server)
            tasks.append(_launch(server, replica.socket, what))
            await _started(server, tasks[-1], what)
        portal = _server(build_app(settings, engine), quiet=False)
        portal_task = _launch(portal, portal_socket, "the portal")
        await _started(portal, portal_task, "the portal")
        url = f"{_local_url(settings)}/products/library/graphql"
        async with httpx.AsyncClient(timeout=15.0) as client:
            result = await _wait_until_served(client, url, prepared.api_key)
        print(_banner(settings, prepared, replicas), file=out, flush=True)
        if check:
            status = _check(result, out)
        else:
            serving = True
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([stopped, portal_task, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not stop.is_set():
                status = 1
                print("loom: error: a demo server stopped unexpectedly; stopping the others", file=sys.stderr)
        print("loom: stopping the demo ...", file=out, flush=True)
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
        print("loom: interrupted; stopping the demo ...", file=out, flush=True)
        status = 130
    finally:
        # The portal (and its gateway) first, so nothing calls a replica that is already gone.
        if portal is not None and portal_task is not None:
            portal.should_exit = True
            await asyncio.wait([portal_task], timeout=10)
        for server in servers:
            server.should_exit = True
        if tasks:
            await asyncio.wait(tasks, timeout=10)
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
        replicas = plan_replicas(free_ports=bool(getattr(args, "free_ports", False)))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine_for(settings)
        prepared = prepare_database(settings, engine, replicas, out)
        for change in prepared.changes:
            if change.action != "unchanged":
                print(f"loom: {change.line()}", file=out)
        try:
            return asyncio.run(
                _serve(settings, engine, portal_socket, replicas, check=bool(args.check), prepared=prepared, out=out)
            )
        except SystemExit as exc:  # uvicorn exits when an app's lifespan fails to start
            raise DemoError(f"a demo server failed to start (exit {exc.code}); see the log above") from exc
    except Invalid as exc:
        raise DemoError(f"the library example does not apply: {exc}") from exc
    finally:
        portal_socket.close()
        for replica in replicas:
            replica.socket.close()
        if engine is not None:
            engine.dispose()
