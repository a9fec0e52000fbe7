"""A FAKE of the Kubernetes API server, for the kubernetes target's tests. It is not Kubernetes.

No Kubernetes API server can run on this machine, so the kubernetes target (``portal.sync.targets.kubernetes``)
is tested through its real client (lightkube, over real HTTP) against this small Starlette app served by uvicorn
on a free loopback port. It implements what the target and the tests use, with the semantics of the real API
server as documented (https://kubernetes.io/docs/reference/using-api/), and nothing else:

* namespaced custom resources of the kinds it is given (the Gloo kinds by default): GET, LIST (one namespace or
  all namespaces) with label selectors (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``), POST
  (create), PUT (update; ``409 Conflict`` on a stale ``metadata.resourceVersion``, 422 without one), PATCH as
  server-side apply (``application/apply-patch+yaml`` with ``fieldManager`` and ``force``) or as a JSON merge patch,
  DELETE, and 404 for what does not exist;
* server-side apply's field ownership, enough for conflicts between managers: ``metadata.managedFields`` per
  manager (leaf paths; lists are atomic), a ``409`` naming the conflicting manager and field unless ``force``,
  fields an applier stops sending are removed unless another manager owns them, a null in an applied object sets
  nothing, an update takes ownership of the fields it changes (what ``kubectl edit`` does);
* ``resourceVersion`` (one counter, bumped only by a real change) and ``metadata.generation``;
* watch (``?watch=true`` or ``?watch=1``): JSON lines of ``{"type": ADDED|MODIFIED|DELETED, "object": ...}``,
  from a ``resourceVersion`` or from the current state, with ``timeoutSeconds``;
* the status subresource (``.../<name>/status``: GET, PUT, merge PATCH) for kinds declared with one; without one
  (the real Gloo CRDs have none) the status is written through the object itself, as Gloo does;
* a switch that makes it refuse writes like Gloo's validating admission webhook (``reject``), a switch that makes
  it unreachable (``stop``; ``start`` again on the same port, state kept), a bearer token, optional TLS (for the
  in-cluster service-account path), and a record of every write request per object (``writes``, ``write_log``)
  so tests can assert "0 writes on a no-op pass".

Not implemented (the target does not use them): discovery, cluster-scoped kinds, ``dryRun``, field selectors,
pagination, strategic merge patch, finalizers and garbage collection, schema validation (the target validates
strictly before it writes), bookmarks and ``410 Gone``.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import ipaddress
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = [
    "GLOO_KINDS",
    "FakeKube",
    "Kind",
    "WriteRecord",
    "self_signed_certificate",
    "write_kubeconfig",
]

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
WEBHOOK = "gloo.gloo-system.svc"

Path_ = tuple[str, ...]  # a field path: ("spec", "kube", "servicePort")


@dataclass(frozen=True, slots=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


GLOO_KINDS = (
    Kind("gloo.solo.io", "v1", "Upstream", "upstreams"),
    Kind("gloo.solo.io", "v1", "UpstreamGroup", "upstreamgroups"),
    Kind("gateway.solo.io", "v1", "RouteTable", "routetables"),
    Kind("gateway.solo.io", "v1", "VirtualService", "virtualservices"),
    Kind("gateway.solo.io", "v1", "Gateway", "gateways"),
)


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One write request the fake received: ``object`` is ``Kind/namespace/name``; ``accepted`` False when it was
    refused (webhook, conflict, stale version, not found)."""

    operation: str  # apply, create, update, patch, delete, status
    object: str
    manager: str
    accepted: bool
    code: int


@dataclass(slots=True)
class _Managed:
    operation: str  # Apply or Update
    paths: set[Path_] = field(default_factory=set)
    time: str = ""


@dataclass(slots=True)
class _Stored:
    kind: Kind
    obj: dict[str, Any]
    managers: dict[str, _Managed]


@dataclass(frozen=True, slots=True)
class _Event:
    rv: int
    type: str
    kind: Kind
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Rejection:
    kind: str | None
    name: str | None
    operations: frozenset[str]
    message: str
    code: int


class _ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.causes = code, reason, message, causes or []

    def response(self, kind: Kind | None = None, name: str | None = None) -> JSONResponse:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if kind is not None or self.causes:
            details: dict[str, Any] = {}
            if kind is not None:
                details.update(group=kind.group, kind=kind.plural)
            if name:
                details["name"] = name
            if self.causes:
                details["causes"] = self.causes
            body["details"] = details
        return JSONResponse(body, status_code=self.code)


class FakeKube:
    """The fake API server's state and app; ``start``/``stop`` (or ``with fake.serving():``) run it on loopback."""

    def __init__(
        self,
        kinds: Iterable[Kind] = GLOO_KINDS,
        *,
        token: str = "fake-token",
        tls: tuple[Path, Path] | None = None,  # (certificate, key) to serve HTTPS
    ) -> None:
        self.kinds = {k.plural: k for k in kinds}
        self.token = token
        self._tls = tls
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str, str], _Stored] = {}
        self._rv = 0
        self._events: list[_Event] = []
        self._write_log: list[WriteRecord] = []
        self._rejections: list[_Rejection] = []
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._socket: socket.socket | None = None
        self.app = self._build_app()

    # -- what tests read -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the fake API server was never started")
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def write_log(self) -> list[WriteRecord]:
        with self._lock:
            return list(self._write_log)

    @property
    def writes(self) -> Counter[str]:
        """Write requests per object (``Kind/namespace/name``) on the object itself, refused ones included; status
        subresource writes are not counted here (they are Gloo's, see ``write_log``)."""
        with self._lock:
            return Counter(r.object for r in self._write_log if r.operation != "status")

    def clear_writes(self) -> None:
        with self._lock:
            self._write_log.clear()

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._objects.get((self._plural_of(kind), namespace, name))
            return copy.deepcopy(stored.obj) if stored else None

    def names(self, kind: str) -> set[str]:
        """``namespace/name`` of every object of ``kind``."""
        plural = self._plural_of(kind)
        with self._lock:
            return {f"{ns}/{name}" for (p, ns, name) in self._objects if p == plural}

    def managers(self, kind: str, namespace: str, name: str) -> dict[str, set[Path_]]:
        with self._lock:
            stored = self._objects[(self._plural_of(kind), namespace, name)]
            return {m: set(v.paths) for m, v in stored.managers.items()}

    # -- switches ------------------------------------------------------------------------------------------

    def reject(
        self,
        message: str,
        *,
        kind: str | None = None,
        name: str | None = None,
        operations: Iterable[str] = ("CREATE", "UPDATE"),
        code: int = 400,
    ) -> None:
        """Refuse matching writes as Gloo's validating admission webhook does (the message gets its prefix)."""
        with self._lock:
            self._rejections.append(_Rejection(kind, name, frozenset(operations), message, code))

    def accept_all(self) -> None:
        with self._lock:
            self._rejections.clear()

    # -- running -------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on loopback (the port of the previous start, if any, so clients find it again); gives the URL."""
        if self._thread is not None:
            raise RuntimeError("the fake API server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port or 0))
        self._port = sock.getsockname()[1]
        config: dict[str, Any] = {}
        if self._tls:
            config.update(ssl_certfile=str(self._tls[0]), ssl_keyfile=str(self._tls[1]))
        self._stopping = False
        server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on", **config))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:  # waits on uvicorn's own flag: a condition, not a guess
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the fake API server did not start")
            time.sleep(0.01)
        self._server, self._thread, self._socket = server, thread, sock
        return self.url

    def stop(self) -> None:
        """Make the API server unreachable: open watches end, the port refuses connections. State is kept."""
        if self._thread is None or self._server is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._stop_watches(), loop).result(timeout=10)
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():  # uvicorn still waits on a client's open connection (close the client first)
            raise RuntimeError("the fake API server did not stop within 10 s: a client kept a connection open")
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = None

    @contextmanager
    def serving(self) -> Iterator[str]:
        url = self.start()
        try:
            yield url
        finally:
            self.stop()

    async def _stop_watches(self) -> None:
        self._stopping = True
        await self._notify()

    # -- the app -------------------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        base = "/apis/{group}/{version}"
        item = base + "/namespaces/{namespace}/{plural}/{name}"
        routes = [
            Route(base + "/{plural}", self._collection, methods=["GET"]),
            Route(base + "/namespaces/{namespace}/{plural}", self._collection, methods=["GET", "POST"]),
            Route(item, self._item, methods=["GET", "PUT", "PATCH", "DELETE"]),
            Route(item + "/status", self._status, methods=["GET", "PUT", "PATCH"]),
        ]

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            self._changed = asyncio.Condition()
            yield

        return Starlette(routes=routes, lifespan=lifespan)

    def _authorized(self, request: Request) -> None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            raise _ApiError(401, "Unauthorized", "Unauthorized")

    def _kind(self, request: Request) -> Kind:
        params = request.path_params
        kind = self.kinds.get(params["plural"])
        if kind is None or kind.group != params["group"] or kind.version != params["version"]:
            raise _ApiError(404, "NotFound", "the server could not find the requested resource")
        return kind

    async def _collection(self, request: Request) -> Response:
        kind: Kind | None = None
        try:
            self._authorized(request)
            kind = self._kind(request)
            namespace = request.path_params.get("namespace")
            if request.method == "POST":
                assert namespace is not None
                return await self._create(request, kind, namespace)
            query = request.query_params
            selector = _Selector.parse(query.get("labelSelector", ""))
            if query.get("watch") in ("1", "true"):
                since = query.get("resourceVersion") or None
                timeout = float(query["timeoutSeconds"]) if "timeoutSeconds" in query else None
                lines = self._watch(kind, namespace, selector, None if since in (None, "0") else int(since), timeout)
                return StreamingResponse(lines, media_type="application/json")
            with self._lock:
                items = [
                    copy.deepcopy(s.obj)
                    for (plural, ns, _), s in sorted(self._objects.items())
                    if plural == kind.plural and namespace in (None, ns) and selector.matches(_labels(s.obj))
                ]
                rv = str(self._rv)
            return JSONResponse(
                {
                    "apiVersion": kind.api_version,
                    "kind": f"{kind.kind}List",
                    "metadata": {"resourceVersion": rv},
                    "items": items,
                }
            )
        except _ApiError as exc:
            return exc.response(kind)

    async def _item(self, request: Request) -> Response:
        kind: Kind | None = None
        name = request.path_params["name"]
        try:
            self._authorized(request)
            kind = self._kind(request)
            namespace = request.path_params["namespace"]
            key = (kind.plural, namespace, name)
            if request.method == "GET":
                with self._lock:
                    stored = self._objects.get(key)
                    if stored is None:
                        raise _not_found(kind, name)
                    return JSONResponse(copy.deepcopy(stored.obj))
            manager = request.query_params.get("fieldManager") or _default_manager(request)
            if request.query_params.get("dryRun"):
                raise _ApiError(400, "BadRequest", "this fake API server does not implement dryRun")
            operation = {"PUT": "update", "DELETE": "delete"}.get(request.method, "patch")
            if request.method == "PATCH" and request.headers.get("content-type", "").split(";")[0] == APPLY:
                operation = "apply"
            try:
                if operation == "delete":
                    result, code = self._delete(kind, namespace, name, manager)
                else:
                    body = await _body(request, yaml_allowed=operation == "apply")
                    if operation == "apply":
                        force = request.query_params.get("force") in ("true", "1")
                        result, code = self._apply(kind, namespace, name, body, manager, force)
                    elif operation == "update":
                        result, code = self._update(kind, namespace, name, body, manager, status=False)
                    else:
                        self._content_type(request)
                        result, code = self._merge(kind, namespace, name, body, manager, status=False)
            except _ApiError as exc:
                self._record(operation, kind, namespace, name, manager, exc.code)
                raise
            self._record(operation, kind, namespace, name, manager, code)
            await self._notify()
            return JSONResponse(result, status_code=code)
        except _ApiError as exc:
            return exc.response(kind, name)

    async def _status(self, request: Request) -> Response:
        kind: Kind | None = None
        name = request.path_params["name"]
        try:
            self._authorized(request)
            kind = self._kind(request)
            if not kind.status_subresource:
                raise _ApiError(404, "NotFound", "the server could not find the requested resource")
            namespace = request.path_params["namespace"]
            if request.method == "GET":
                with self._lock:
                    stored = self._objects.get((kind.plural, namespace, name))
                    if stored is None:
                        raise _not_found(kind, name)
                    return JSONResponse(copy.deepcopy(stored.obj))
            manager = request.query_params.get("fieldManager") or _default_manager(request)
            body = await _body(request, yaml_allowed=False)
            try:
                if request.method == "PUT":
                    result, code = self._update(kind, namespace, name, body, manager, status=True)
                else:
                    self._content_type(request)
                    result, code = self._merge(kind, namespace, name, body, manager, status=True)
            except _ApiError as exc:
                self._record("status", kind, namespace, name, manager, exc.code)
                raise
            self._record("status", kind, namespace, name, manager, code)
            await self._notify()
            return JSONResponse(result, status_code=code)
        except _ApiError as exc:
            return exc.response(kind, name)

    @staticmethod
    def _content_type(request: Request) -> None:
        media = request.headers.get("content-type", "").split(";")[0]
        if media != MERGE:
            raise _ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format ({media}) - accepted media types include: "
                f"{MERGE}, {APPLY}",
            )

    async def _create(self, request: Request, kind: Kind, namespace: str) -> Response:
        body = await _body(request, yaml_allowed=False)
        name = str(_meta(body).get("name") or "")
        manager = request.query_params.get("fieldManager") or _default_manager(request)
        try:
            with self._lock:
                self._check_identity(kind, namespace, name, body)
                if (kind.plural, namespace, name) in self._objects:
                    raise _ApiError(409, "AlreadyExists", f'{kind.plural}.{kind.group} "{name}" already exists')
                self._admit("CREATE", kind, name, body)
                obj = _fresh(kind, namespace, name)
                _merge_into(obj, _without_status(body) if kind.status_subresource else _writable(body))
                managed = {manager: _Managed("Update", _leaves(_writable(body)))}
                result = self._store(kind, namespace, name, None, obj, managed)
        except _ApiError as exc:
            self._record("create", kind, namespace, name, manager, exc.code)
            raise
        self._record("create", kind, namespace, name, manager, 201)
        await self._notify()
        return JSONResponse(result, status_code=201)

    # -- the semantics ----------------------------------------------------------------------------------------

    def _apply(
        self, kind: Kind, namespace: str, name: str, body: dict[str, Any], manager: str, force: bool
    ) -> tuple[dict[str, Any], int]:
        with self._lock:
            self._check_identity(kind, namespace, name, body)
            stored = self._objects.get((kind.plural, namespace, name))
            if stored is not None:
                self._check_version(kind, name, body, stored, required=False)
            config = _without_nulls(_writable(body))  # a null in an apply configuration sets nothing
            if kind.status_subresource:
                config.pop("status", None)  # the main resource ignores status when the subresource exists
            new_paths = _leaves(config)
            live = copy.deepcopy(stored.obj) if stored else _fresh(kind, namespace, name)
            managers = copy.deepcopy(stored.managers) if stored else {}
            conflicts: list[tuple[str, Path_]] = []
            for other, managed in managers.items():
                if other == manager:
                    continue
                for path in new_paths:
                    owned = [q for q in managed.paths if _overlap(path, q)]
                    if owned and _value(live, path) != _value(config, path):
                        conflicts.append((other, path))
                        if force:
                            managed.paths.difference_update(owned)
            if conflicts and not force:
                causes = [
                    {
                        "type": "FieldManagerConflict",
                        "message": f'conflict with "{other}"',
                        "field": "." + ".".join(path),
                    }
                    for other, path in conflicts
                ]
                listed = "\n".join(
                    f'* conflict with "{other}" using {kind.api_version}: .{".".join(path)}'
                    for other, path in conflicts
                )
                raise _ApiError(409, "Conflict", f"Apply failed with {len(conflicts)} conflicts: {listed}", causes)
            self._admit("UPDATE" if stored else "CREATE", kind, name, _merged(live, config))
            previous = managers.get(manager, _Managed("Apply")).paths
            still_owned = {q for m, v in managers.items() if m != manager for q in v.paths}
            for path in previous - new_paths:
                if not any(_overlap(path, q) for q in still_owned):
                    _remove(live, path)
            _merge_into(live, config)
            managers[manager] = _Managed("Apply", new_paths)
            managers = {m: v for m, v in managers.items() if v.paths}
            result = self._store(kind, namespace, name, stored, live, managers)
            return result, 200 if stored else 201

    def _update(
        self, kind: Kind, namespace: str, name: str, body: dict[str, Any], manager: str, *, status: bool
    ) -> tuple[dict[str, Any], int]:
        with self._lock:
            self._check_identity(kind, namespace, name, body)
            stored = self._objects.get((kind.plural, namespace, name))
            if stored is None:
                raise _not_found(kind, name)
            self._check_version(kind, name, body, stored, required=True)
            new = copy.deepcopy(stored.obj)
            if status:  # the subresource writes the status and nothing else
                new["status"] = copy.deepcopy(body.get("status", {}))
            else:
                new = _fresh(kind, namespace, name) | {"metadata": copy.deepcopy(stored.obj["metadata"])}
                for key in ("labels", "annotations"):
                    _meta(new).pop(key, None)
                    if _meta(body).get(key):
                        _meta(new)[key] = copy.deepcopy(_meta(body)[key])
                _merge_into(new, {k: v for k, v in _writable(body).items() if k != "metadata"})
                if kind.status_subresource and "status" in stored.obj:
                    new["status"] = copy.deepcopy(stored.obj["status"])
                elif kind.status_subresource:
                    new.pop("status", None)
                self._admit("UPDATE", kind, name, new)
            return self._store_changes(kind, namespace, name, stored, new, manager), 200

    def _merge(
        self, kind: Kind, namespace: str, name: str, patch: dict[str, Any], manager: str, *, status: bool
    ) -> tuple[dict[str, Any], int]:
        with self._lock:
            stored = self._objects.get((kind.plural, namespace, name))
            if stored is None:
                raise _not_found(kind, name)
            if status:
                patch = {"status": patch.get("status", {})}
            else:
                patch = {k: v for k, v in patch.items() if not (k == "status" and kind.status_subresource)}
            self._check_version(kind, name, patch, stored, required=False)
            new = _merge_patch(copy.deepcopy(stored.obj), patch)
            _meta(new).update(
                {k: stored.obj["metadata"][k] for k in ("name", "namespace", "uid") if k in stored.obj["metadata"]}
            )
            if not status:
                self._admit("UPDATE", kind, name, new)
            return self._store_changes(kind, namespace, name, stored, new, manager), 200

    def _delete(self, kind: Kind, namespace: str, name: str, manager: str) -> tuple[dict[str, Any], int]:
        with self._lock:
            stored = self._objects.get((kind.plural, namespace, name))
            if stored is None:
                raise _not_found(kind, name)
            self._admit("DELETE", kind, name, stored.obj)
            del self._objects[(kind.plural, namespace, name)]
            self._rv += 1
            self._events.append(_Event(self._rv, "DELETED", kind, stored.obj, None))
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": kind.group, "kind": kind.plural},
            }, 200

    def _store_changes(
        self, kind: Kind, namespace: str, name: str, stored: _Stored, new: dict[str, Any], manager: str
    ) -> dict[str, Any]:
        """An update or merge patch: the fields it changes become ``manager``'s, fields it removes nobody's."""
        before, after = _leaf_values(_writable(stored.obj)), _leaf_values(_writable(new))
        changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
        removed = set(before) - set(after)
        managers = copy.deepcopy(stored.managers)
        for managed in managers.values():
            managed.paths = {q for q in managed.paths if not any(_overlap(q, p) for p in changed | removed)}
        if changed:
            mine = managers.setdefault(manager, _Managed("Update"))
            mine.operation = "Update"
            mine.paths |= changed
        managers = {m: v for m, v in managers.items() if v.paths}
        return self._store(kind, namespace, name, stored, new, managers)

    def _store(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        stored: _Stored | None,
        obj: dict[str, Any],
        managers: dict[str, _Managed],
    ) -> dict[str, Any]:
        """Keep ``obj``; a new resourceVersion (and an event) only when something really changed."""
        meta = _meta(obj)
        old_managers = {m: (v.operation, v.paths) for m, v in (stored.managers if stored else {}).items()}
        new_managers = {m: (v.operation, v.paths) for m, v in managers.items()}
        if stored is not None and _content(stored.obj) == _content(obj) and old_managers == new_managers:
            return copy.deepcopy(stored.obj)
        self._rv += 1
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for m, v in managers.items():
            if stored is None or old_managers.get(m) != (v.operation, v.paths) or not v.time:
                v.time = now
        meta["resourceVersion"] = str(self._rv)
        meta["managedFields"] = [
            {
                "manager": m,
                "operation": v.operation,
                "apiVersion": kind.api_version,
                "time": v.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": _fields_v1(v.paths),
            }
            for m, v in sorted(managers.items())
        ]
        if stored is None:
            meta.update(uid=f"uid-{self._rv}", generation=1, creationTimestamp=now)
        else:
            ignored = {"metadata", "status"} if kind.status_subresource else {"metadata"}
            spec_changed = {k: v for k, v in stored.obj.items() if k not in ignored} != {
                k: v for k, v in obj.items() if k not in ignored
            }
            meta["generation"] = int(stored.obj["metadata"].get("generation", 1)) + (1 if spec_changed else 0)
        self._objects[(kind.plural, namespace, name)] = _Stored(kind, obj, managers)
        self._events.append(
            _Event(self._rv, "MODIFIED" if stored else "ADDED", kind, stored.obj if stored else None, obj)
        )
        return copy.deepcopy(obj)

    def _check_identity(self, kind: Kind, namespace: str, name: str, body: Mapping[str, Any]) -> None:
        meta = _meta(body)
        if body.get("apiVersion") != kind.api_version or body.get("kind") != kind.kind:
            raise _ApiError(
                400,
                "BadRequest",
                f"the object is {body.get('apiVersion')}/{body.get('kind')}, the URL names {kind.api_version}/"
                f"{kind.kind}",
            )
        if not name or meta.get("name") != name:
            raise _ApiError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the URL")
        if meta.get("namespace", namespace) != namespace:
            raise _ApiError(
                400,
                "BadRequest",
                "the namespace of the object does not match the namespace of the URL",
            )
        if not _DNS_SUBDOMAIN.fullmatch(name):
            raise _ApiError(
                422,
                "Invalid",
                f'{kind.kind}.{kind.group} "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase '
                "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
            )

    @staticmethod
    def _check_version(kind: Kind, name: str, body: Mapping[str, Any], stored: _Stored, *, required: bool) -> None:
        sent = _meta(body).get("resourceVersion")
        if sent is None and required:
            raise _ApiError(
                422,
                "Invalid",
                f'{kind.kind}.{kind.group} "{name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must '
                "be specified for an update",
            )
        if sent is not None and str(sent) != stored.obj["metadata"]["resourceVersion"]:
            raise _ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.plural}.{kind.group} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )

    def _admit(self, operation: str, kind: Kind, name: str, obj: Mapping[str, Any]) -> None:
        for rule in self._rejections:
            if operation in rule.operations and rule.kind in (None, kind.kind) and rule.name in (None, name):
                raise _ApiError(
                    rule.code,
                    "BadRequest" if rule.code == 400 else "Forbidden",
                    f'admission webhook "{WEBHOOK}" denied the request: {rule.message}',
                )

    def _record(self, operation: str, kind: Kind, namespace: str, name: str, manager: str, code: int) -> None:
        with self._lock:
            self._write_log.append(WriteRecord(operation, f"{kind.kind}/{namespace}/{name}", manager, code < 400, code))

    def _plural_of(self, kind: str) -> str:
        for k in self.kinds.values():
            if kind in (k.kind, k.plural):
                return k.plural
        raise KeyError(kind)

    # -- watch ----------------------------------------------------------------------------------------------

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    async def _watch(
        self, kind: Kind, namespace: str | None, selector: _Selector, since: int | None, seconds: float | None
    ) -> AsyncIterator[bytes]:
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        with self._lock:
            cursor = self._rv if since is None else since
            initial = (
                [
                    ("ADDED", copy.deepcopy(s.obj))
                    for (plural, ns, _), s in sorted(self._objects.items())
                    if plural == kind.plural and namespace in (None, ns) and selector.matches(_labels(s.obj))
                ]
                if since is None
                else []
            )
        for type_, obj in initial:
            yield _line(type_, obj)
        while not self._stopping:
            with self._lock:
                pending = [e for e in self._events if e.rv > cursor]
            for event in pending:
                cursor = event.rv
                seen = _seen(event, kind, namespace, selector)
                if seen is not None:
                    yield _line(*seen)
            if pending:
                continue
            async with self._changed:
                if self._rv == cursor and not self._stopping:
                    remaining = None if deadline is None else deadline - loop.time()
                    if remaining is not None and remaining <= 0:
                        return
                    try:
                        await asyncio.wait_for(self._changed.wait(), remaining)
                    except TimeoutError:
                        return


# -- helpers -----------------------------------------------------------------------------------------------

_MISSING = object()
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_BOOKKEEPING = ("resourceVersion", "managedFields", "uid", "generation", "creationTimestamp")


def _line(type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode() + b"\n"


def _seen(event: _Event, kind: Kind, namespace: str | None, selector: _Selector) -> tuple[str, dict[str, Any]] | None:
    """What a watcher of ``kind`` in ``namespace`` with ``selector`` sees of ``event`` (objects leaving the
    selection are DELETED for it, objects entering it ADDED)."""
    if event.kind != kind:
        return None

    def visible(obj: dict[str, Any] | None) -> bool:
        return obj is not None and namespace in (None, _meta(obj).get("namespace")) and selector.matches(_labels(obj))

    was, now = visible(event.old), visible(event.new)
    if now and event.new is not None:
        return ("MODIFIED" if was else "ADDED"), copy.deepcopy(event.new)
    if was and event.old is not None:
        return "DELETED", copy.deepcopy(event.old)
    return None


def _not_found(kind: Kind, name: str) -> _ApiError:
    return _ApiError(404, "NotFound", f'{kind.plural}.{kind.group} "{name}" not found')


def _default_manager(request: Request) -> str:
    """What the API server calls a manager that names none: its user agent up to the first ``/``."""
    return request.headers.get("user-agent", "unknown").split("/")[0] or "unknown"


async def _body(request: Request, *, yaml_allowed: bool) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = yaml.safe_load(raw) if yaml_allowed else json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise _ApiError(400, "BadRequest", f"the request body is not valid: {exc}") from exc
    if not isinstance(body, dict):
        raise _ApiError(400, "BadRequest", "the request body must be an object")
    return body


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def _fresh(kind: Kind, namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": name, "namespace": namespace}}


def _writable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a manager can own: everything but identity and bookkeeping; of metadata only labels and
    annotations."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    meta = _meta(obj)
    kept = {k: copy.deepcopy(meta[k]) for k in ("labels", "annotations") if meta.get(k)}
    if kept:
        out["metadata"] = kept
    return out


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _without_status(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = _writable(obj)
    out.pop("status", None)
    return out


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = {k: v for k, v in _meta(obj).items() if k not in _BOOKKEEPING}
    return out


def _leaves(obj: Mapping[str, Any], prefix: Path_ = ()) -> set[Path_]:
    """Leaf paths of ``obj``: a list, a scalar or an empty map is a leaf (lists are atomic)."""
    out: set[Path_] = set()
    for key, value in obj.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            out |= _leaves(value, path)
        else:
            out.add(path)
    return out


def _leaf_values(obj: Mapping[str, Any]) -> dict[Path_, Any]:
    return {path: _value(obj, path) for path in _leaves(obj)}


def _overlap(a: Path_, b: Path_) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _value(obj: Any, path: Path_) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _remove(obj: dict[str, Any], path: Path_) -> None:
    parents = []
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents):  # a map left empty by the removal goes too
        if parent[key] == {} and key != "metadata":
            del parent[key]


def _merge_into(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and value and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _merged(live: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(live))
    _merge_into(out, config)
    return out


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_patch(target.get(key), value)
    return target


def _fields_v1(paths: Iterable[Path_]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


class _Selector:
    """A parsed label selector (the set-based grammar of the API server)."""

    _REQUIREMENT = re.compile(
        r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
        r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
        r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*"
    )

    def __init__(self, requirements: list[Callable[[Mapping[str, str]], bool]]) -> None:
        self._requirements = requirements

    @classmethod
    def parse(cls, text: str) -> _Selector:
        requirements: list[Callable[[Mapping[str, str]], bool]] = []
        for part in _split_selector(text):
            match = cls._REQUIREMENT.fullmatch(part)
            if match is None or not part.strip():
                raise _ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
            requirements.append(cls._requirement(match))
        return cls(requirements)

    @staticmethod
    def _requirement(match: re.Match[str]) -> Callable[[Mapping[str, str]], bool]:
        if match["not"]:
            absent = match["absent"]
            return lambda labels: absent not in labels
        key = match["key"]
        if match["op"] in ("=", "=="):
            value = match["value"]
            return lambda labels: labels.get(key) == value
        if match["op"] == "!=":
            value = match["value"]
            return lambda labels: labels.get(key) != value
        if match["setop"]:
            values = {v.strip() for v in match["values"].split(",") if v.strip()}
            if match["setop"] == "in":
                return lambda labels: labels.get(key) in values
            return lambda labels: labels.get(key) not in values
        return lambda labels: key in labels

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement(labels) for requirement in self._requirements)


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip() or parts:
        parts.append(current)
    return parts


# -- kubeconfig and TLS ------------------------------------------------------------------------------------------


def write_kubeconfig(path: Path, contexts: Mapping[str, FakeKube], *, current: str | None = None) -> Path:
    """A kubeconfig with one context (and cluster and user) per fake API server."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": fake.url}} for name, fake in contexts.items()],
        "users": [{"name": name, "user": {"token": fake.token}} for name, fake in contexts.items()],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}} for name in contexts
        ],
    }
    if current is not None:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the certificate is its own CA), for a fake served over HTTPS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
