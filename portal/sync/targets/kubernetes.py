"""The kubernetes target: one cluster's Gloo objects, written through its Kubernetes API.

A pass (``apply``) renders the routing model with the Gloo renderer, then:

1. **Checks everything before the first write.** A model with problems, an object of a kind this target does not
   know, a bad name, two objects with one name, or an object the strict CRD validator refuses: nothing is written
   (``InvalidDesiredState`` / ``ConfigRejected``), so a schema error never leaves a cluster half-applied.
2. **Reads what is there**: one LIST per Gloo kind across namespaces, by our labels
   (``app.kubernetes.io/managed-by: loom``, ``loom.dev/cluster: <cluster>``), and a GET for each object about to
   be created, to refuse taking over an object of that name that Loom did not create.
3. **Writes only what differs**, with server-side apply as field manager ``loom``, in dependency order (Upstreams
   and UpstreamGroups before the RouteTables, VirtualServices and Gateways that name them). An object differs when
   a field we set is missing or different in the cluster, or when what we apply changed (the
   ``loom.dev/applied`` annotation is a hash of it, so a field we stopped setting is removed too). A pass with
   nothing to do writes nothing; the :class:`~portal.sync.targets.ApplyReport` counts the writes.
4. **Prunes** the objects carrying our labels that are no longer desired, in reverse dependency order, after every
   apply succeeded. Objects without our labels are never touched.

**Force.** An apply first goes without ``force``. A conflict means another manager changed a field we set: a person
(``kubectl edit``) or a controller (Gloo Federation writing ``spec.failover`` on an Upstream, say). The objects we
write are ours (our name, our labels, we refuse to adopt others'), and the portal's desired state is what they must
say, so we then apply again with ``force`` and take the fields back, as the Kubernetes docs advise controllers to
do for objects they own. The conflict is not silent: ``last_conflicts`` names the manager and fields, and a
controller that keeps fighting shows up as writes on every pass. Fields that other managers set and we do not
(Gloo's status, discovery's annotations) stay theirs.

**Rejections.** Gloo's validating admission webhook answers 4xx with its message; that is ``ConfigRejected``
with the message and the object. Writes are in dependency order and stop at the first refusal; the objects before
it were written, the refused one keeps what it had, nothing is pruned, and the next pass completes the rest once
the cause is fixed (level-triggered; ``last_report`` says how far it got). A server-side dry run of the whole set
first would not make it atomic: Gloo's webhook validates each object against the current snapshot, so a dry run
of a RouteTable whose new Upstream is not written yet is refused.

**Status.** ``observe`` reads ``status.statuses.<gloo namespace>`` (state as ``Accepted``/``Rejected``/
``Warning``/``Pending`` or as the integers 0-3; also the older top-level ``status: {state, reason}`` layout and
``subresourceStatuses``) into one verdict per product: the worst state of its objects (those labelled
``loom.dev/product: <product>`` and the shared ones without a product label). ``watch`` yields a new observation
whenever Gloo (or anyone) changes an owned object. The Kubernetes API does not expose Envoy's health, and the
gateway-proxy's admin port is not reachable from outside the cluster, so ``Observation.upstreams`` is empty for
this target: the API gives the Upstreams' acceptance, which is in the verdicts.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from portal.sync.desired import ClusterSpec
from portal.sync.errors import ClusterUnreachable, ConfigRejected, InvalidDesiredState
from portal.sync.gloo_gateways import listener_problems
from portal.sync.model import ClusterRouting
from portal.sync.targets._base import ApplyReport, Observation, ProductVerdict, VerdictState
from portal.sync.targets._kube import SERVICE_ACCOUNT_DIR, KubeApiError, KubeClient, ObjectKind

__all__ = [
    "APPLIED_ANNOTATION",
    "CLUSTER_LABEL",
    "FIELD_MANAGER",
    "GENERATION_LABEL",
    "GLOO_KINDS",
    "MANAGED_BY_LABEL",
    "PRODUCT_LABEL",
    "KubernetesTarget",
    "Renderer",
    "Validator",
    "verdict_of",
]

FIELD_MANAGER = "loom"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
CLUSTER_LABEL = "loom.dev/cluster"
PRODUCT_LABEL = "loom.dev/product"
GENERATION_LABEL = "loom.dev/generation"  # the generation an object was last written at: not compared
APPLIED_ANNOTATION = "loom.dev/applied"  # a hash of what Loom applied, so a field it stops setting is removed

# In dependency order: what a kind names is applied before it (and deleted after it).
GLOO_KINDS = (
    ObjectKind("gloo.solo.io", "v1", "Upstream", "upstreams"),
    ObjectKind("gloo.solo.io", "v1", "UpstreamGroup", "upstreamgroups"),
    ObjectKind("gateway.solo.io", "v1", "RouteTable", "routetables"),
    ObjectKind("gateway.solo.io", "v1", "VirtualService", "virtualservices"),
    ObjectKind("gateway.solo.io", "v1", "Gateway", "gateways"),
)

_GATEWAY = next(k for k in GLOO_KINDS if k.kind == "Gateway")

Renderer = Callable[[ClusterRouting], Sequence[Mapping[str, Any]]]
# Checks a cluster's whole set (each object, then the rules across them: a route naming an Upstream that is not
# there, a RouteTable nobody delegates to, a domain claimed twice); raises ConfigRejected naming the object.
Validator = Callable[[Sequence[Mapping[str, Any]]], None]

_STATES: tuple[VerdictState, ...] = ("Pending", "Accepted", "Rejected", "Warning")  # solo-kit's enum order
_SEVERITY: dict[VerdictState, int] = {"Accepted": 0, "Pending": 1, "Warning": 2, "Rejected": 3}
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_REFUSALS = (400, 403, 404, 405, 409, 413, 415, 422)  # the cluster said no; anything else may pass later

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Desired:
    kind: ObjectKind
    obj: dict[str, Any]

    @property
    def key(self) -> tuple[ObjectKind, str, str]:
        return self.kind, self.obj["metadata"]["namespace"], self.obj["metadata"]["name"]

    @property
    def ref(self) -> str:
        return _ref(self.kind, self.obj)


class KubernetesTarget:
    """The Gloo objects of ``cluster``, through the Kubernetes API of its ``kube_context`` (or, without one, the
    cluster this process runs in, with its service account).

    ``render`` is the Gloo renderer and ``validate`` the strict CRD validator of the whole set; ``client`` replaces
    the connection made from the cluster's settings (``kubeconfig``: default ``$KUBECONFIG``, then
    ``~/.kube/config``)."""

    kind = "kubernetes"

    def __init__(
        self,
        cluster: ClusterSpec,
        *,
        render: Renderer,
        validate: Validator,
        client: KubeClient | None = None,
        kubeconfig: Path | None = None,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry_delay: float = 5.0,
    ) -> None:
        self.cluster = cluster
        self._render = render
        self._validate = validate
        self._client = client
        self._owns_client = client is None  # an injected client is its owner's to close
        self._kubeconfig = kubeconfig
        self._service_account_dir = service_account_dir
        self._transport = transport
        self._timeout = timeout
        self._retry_delay = retry_delay
        self._owned = {MANAGED_BY_LABEL: FIELD_MANAGER, CLUSTER_LABEL: cluster.name}
        self.last_report = ApplyReport()
        self.last_conflicts: tuple[str, ...] = ()

    # -- Target ------------------------------------------------------------------------------------------------

    async def apply(self, model: ClusterRouting) -> ApplyReport:
        desired = self._desired(model)  # every check before the first write
        client = self._connected()
        live = await self._live(client)
        wanted = {d.key for d in desired}
        to_write: list[tuple[_Desired, bool]] = []  # (object, exists)
        for item in desired:
            current = live.get(item.key)
            if current is None:
                other = await client.get(*item.key)
                if other is not None:
                    raise ConfigRejected(
                        f"cluster {self.cluster.name!r}: {item.ref} exists and was not created by Loom for this "
                        f"cluster (it lacks the labels {_selector(self._owned)}); Loom never takes over an object "
                        "it did not create: delete or rename it",
                        object=item.ref,
                    )
                to_write.append((item, False))
            elif _differs(item.obj, current):
                to_write.append((item, True))
        to_delete = sorted(
            (key for key in live if key not in wanted),
            key=lambda k: (-GLOO_KINDS.index(k[0]), k[1], k[2]),
        )

        created = updated = deleted = 0
        conflicts: list[str] = []
        total = len(to_write) + len(to_delete)
        try:
            for item, exists in to_write:
                await self._apply_one(client, item, conflicts)
                if exists:
                    updated += 1
                else:
                    created += 1
            for kind, namespace, name in to_delete:
                if await client.delete(kind, namespace, name):
                    deleted += 1
        except KubeApiError as exc:
            done = created + updated + deleted
            failed = self._failed_ref(to_write, to_delete, done)
            raise self._translate(exc, failed, done, total) from exc
        finally:
            self.last_report = ApplyReport(created=created, updated=updated, deleted=deleted)
            self.last_conflicts = tuple(conflicts)
        return self.last_report

    async def observe(self, model: ClusterRouting | None) -> Observation:
        try:
            client = self._connected()
            live = await self._live(client)
            gateways = await self._gateways(client)
        except ClusterUnreachable as exc:
            return Observation(reachable=False, error=exc.message)
        return self._observation(model, live, gateways)

    async def watch(self, model: ClusterRouting | None) -> AsyncGenerator[Observation]:
        """An observation now, then a new one after every change to an owned object (Gloo writing a status, a
        person editing, a pass of ours). Ends with ``ClusterUnreachable`` when the API server goes away."""
        client = self._connected()
        live: dict[tuple[ObjectKind, str, str], dict[str, Any]] = {}
        versions: dict[ObjectKind, str] = {}
        for kind in GLOO_KINDS:
            try:
                objects, versions[kind] = await client.list(kind, self._owned)
            except KubeApiError as exc:
                raise self._translate(exc, f"the list of {kind.plural}", 0, 0) from exc
            live.update({_key(kind, obj): obj for obj in objects})
        gateways = await self._gateways(client)  # the installation's: read when the watch starts
        yield self._observation(model, live, gateways)

        changes: asyncio.Queue[tuple[ObjectKind, str, dict[str, Any]] | BaseException] = asyncio.Queue()

        async def follow(kind: ObjectKind) -> None:
            try:
                async for event, obj in client.watch(kind, self._owned, versions[kind]):
                    changes.put_nowait((kind, event, obj))
            except (ClusterUnreachable, KubeApiError) as exc:
                changes.put_nowait(exc)

        tasks = [asyncio.create_task(follow(kind)) for kind in GLOO_KINDS]
        try:
            while True:
                change = await changes.get()
                if isinstance(change, KubeApiError):
                    raise self._translate(change, "a watch", 0, 0) from change
                if isinstance(change, BaseException):
                    raise change
                kind, event, obj = change
                if event == "DELETED":
                    live.pop(_key(kind, obj), None)
                else:
                    live[_key(kind, obj)] = obj
                yield self._observation(model, live, gateways)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> KubernetesTarget:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the pass ----------------------------------------------------------------------------------------------

    def _connected(self) -> KubeClient:
        """The client, connected on first use (a bad kubeconfig is this pass's error, not the worker's)."""
        if self._client is None:
            transport, timeout, delay = self._transport, self._timeout, self._retry_delay
            context = self.cluster.kube_context
            self._client = (
                KubeClient.from_kubeconfig(
                    context, kubeconfig=self._kubeconfig, transport=transport, timeout=timeout, retry_delay=delay
                )
                if context is not None
                else KubeClient.in_cluster(
                    service_account_dir=self._service_account_dir,
                    transport=transport,
                    timeout=timeout,
                    retry_delay=delay,
                )
            )
        return self._client

    def _desired(self, model: ClusterRouting) -> list[_Desired]:
        name = self.cluster.name
        if model.cluster.name != name:
            raise InvalidDesiredState(
                f"the kubernetes target of cluster {name!r} was given cluster {model.cluster.name!r}'s routing model"
            )
        if model.problems:
            listed = "; ".join(str(p) for p in model.problems)
            raise InvalidDesiredState(f"cluster {name!r} keeps its last good config: {listed}")
        kinds = {(k.api_version, k.kind): k for k in GLOO_KINDS}
        out: dict[tuple[ObjectKind, str, str], _Desired] = {}
        for rendered in self._render(model):
            obj = _without_nulls(dict(rendered))  # the API server stores no null of an apply: never compare one
            kind = kinds.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
            if kind is None:
                known = ", ".join(f"{k.api_version}/{k.kind}" for k in GLOO_KINDS)
                raise InvalidDesiredState(
                    f"cluster {name!r}: the Gloo renderer made a {obj.get('apiVersion')}/{obj.get('kind')}, which "
                    f"the kubernetes target does not apply (it applies {known})"
                )
            meta = obj.setdefault("metadata", {})
            meta.setdefault("namespace", self.cluster.namespace)
            object_name = str(meta.get("name") or "")
            if len(object_name) > 253 or not _DNS_SUBDOMAIN.fullmatch(object_name):
                raise InvalidDesiredState(
                    f"cluster {name!r}: {kind.kind} {object_name!r} is not a valid Kubernetes name (lower-case "
                    "letters, digits, '-' and '.', at most 253 characters)"
                )
            labels = meta.setdefault("labels", {})
            labels.update(self._owned)
            labels[GENERATION_LABEL] = str(model.generation)
            annotations = meta.setdefault("annotations", {})
            annotations[APPLIED_ANNOTATION] = _fingerprint(obj)
            item = _Desired(kind, obj)
            if item.key in out:
                raise InvalidDesiredState(f"cluster {name!r}: the Gloo renderer made {item.ref} twice")
            out[item.key] = item
        try:
            self._validate([item.obj for item in out.values()])
        except ConfigRejected as exc:
            raise ConfigRejected(
                f"cluster {name!r}: {exc.message} (nothing was written: every object is checked first)",
                object=exc.object,
            ) from exc
        return sorted(out.values(), key=lambda d: (GLOO_KINDS.index(d.kind), d.key[1], d.key[2]))

    async def _live(self, client: KubeClient) -> dict[tuple[ObjectKind, str, str], dict[str, Any]]:
        live: dict[tuple[ObjectKind, str, str], dict[str, Any]] = {}
        for kind in GLOO_KINDS:
            try:
                objects, _ = await client.list(kind, self._owned)
            except KubeApiError as exc:
                raise self._translate(exc, f"the list of {kind.plural}", 0, 0) from exc
            live.update({_key(kind, obj): obj for obj in objects})
        return live

    async def _apply_one(self, client: KubeClient, item: _Desired, conflicts: list[str]) -> None:
        try:
            await client.apply(item.kind, item.obj, field_manager=FIELD_MANAGER, force=False)
        except KubeApiError as exc:
            if exc.code != 409:
                raise
            taken = "; ".join(exc.causes) or exc.message
            conflicts.append(f"{item.ref}: {taken}")
            log.warning(
                "cluster %s: %s: taking back fields another manager changed: %s", self.cluster.name, item.ref, taken
            )
            await client.apply(item.kind, item.obj, field_manager=FIELD_MANAGER, force=True)

    def _failed_ref(
        self, to_write: Sequence[tuple[_Desired, bool]], to_delete: Sequence[tuple[ObjectKind, str, str]], done: int
    ) -> str:
        if done < len(to_write):
            return to_write[done][0].ref
        kind, namespace, name = to_delete[done - len(to_write)]
        return f"{kind.kind}/{namespace}/{name}"

    def _translate(self, exc: KubeApiError, what: str, done: int, total: int) -> ClusterUnreachable | ConfigRejected:
        cluster = self.cluster.name
        progress = (
            f" ({done} of {total} writes were made before it; the next pass completes the rest once this is fixed)"
            if total
            else ""
        )
        if exc.code == 401:
            return ClusterUnreachable(
                f"cluster {cluster!r}: the Kubernetes API refused Loom's credentials for {what} (401 {exc.message}): "
                "check the kubeconfig user or the service account token",
                delay=self._retry_delay,
            )
        if exc.code in _REFUSALS:
            hint = ""
            if exc.code == 404:
                hint = f"; are Gloo's CRDs installed and does the namespace exist in cluster {cluster!r}?"
            elif exc.code == 403 and "admission webhook" not in exc.message:
                hint = "; grant Loom's account get, list, watch, patch and delete on Gloo's kinds (RBAC)"
            return ConfigRejected(
                f"cluster {cluster!r} refused {what} ({exc.code} {exc.reason}): {exc.message}{hint}{progress}",
                object=what if total else None,
            )
        return ClusterUnreachable(
            f"cluster {cluster!r}: the Kubernetes API failed on {what} ({exc.code} {exc.reason}: {exc.message})"
            f"{progress}; the next pass tries again",
            delay=self._retry_delay,
        )

    # -- status ------------------------------------------------------------------------------------------------

    async def _gateways(self, client: KubeClient) -> list[dict[str, Any]] | str:
        """Every Gloo Gateway of the cluster (they are the installation's, not ours), or why they cannot be read."""
        try:
            gateways, _ = await client.list(_GATEWAY, {})
        except KubeApiError as exc:
            return (
                f"cannot read the cluster's Gloo Gateways to check which serve Loom's routes ({exc.code} "
                f"{exc.reason}: {exc.message}): allow the sync worker to list gateways.gateway.solo.io"
            )
        return gateways

    def _observation(
        self,
        model: ClusterRouting | None,
        live: Mapping[tuple[ObjectKind, str, str], Mapping[str, Any]],
        gateways: Sequence[Mapping[str, Any]] | str = (),
    ) -> Observation:
        gloo = self.cluster.namespace
        desired: dict[tuple[ObjectKind, str, str], _Desired] = {}
        if model is not None:
            try:
                desired = {d.key: d for d in self._desired(model)}
            except (InvalidDesiredState, ConfigRejected):
                desired = {}
        products = (
            [r.product for r in model.routes]
            if model is not None
            else sorted({_labels(o).get(PRODUCT_LABEL, "") for o in live.values()} - {""})
        )
        verdicts = []
        for product in products:
            worst: VerdictState = "Accepted"
            reasons: list[str] = []
            generations: list[int] = []
            current = True
            mine = [k for k, o in live.items() if _labels(o).get(PRODUCT_LABEL) in (product, None)]
            for key in mine:
                obj = live[key]
                state, reason = verdict_of(obj, gloo)
                if _SEVERITY[state] > _SEVERITY[worst]:
                    worst = state
                if state != "Accepted" and reason:
                    reasons.append(f"{_ref(key[0], obj)}: {reason}")
                generations.append(_generation(obj))
                if key in desired and _differs(desired[key].obj, obj):
                    current = False
            for key, item in desired.items():
                if _labels(item.obj).get(PRODUCT_LABEL) in (product, None) and key not in live:
                    current = False
                    worst = worst if _SEVERITY[worst] >= _SEVERITY["Pending"] else "Pending"
                    reasons.append(f"{item.ref}: not in the cluster yet")
            generation = model.generation if model is not None and current and desired else min(generations or [0])
            verdicts.append(ProductVerdict(product, worst, "; ".join(reasons), generation))
        if isinstance(gateways, str):
            warnings = [gateways]
        else:
            rendered = [d.obj for d in desired.values() if d.kind.kind == "VirtualService"]
            warnings = listener_problems(gateways, rendered) if rendered else []
        return Observation(reachable=True, verdicts=tuple(verdicts), warnings=tuple(warnings))


def verdict_of(obj: Mapping[str, Any], gloo_namespace: str) -> tuple[VerdictState, str]:
    """The state and reason Gloo wrote on ``obj``: ``status.statuses.<gloo_namespace>`` (or the older top-level
    ``status: {state, reason}``), state as a name or as solo-kit's integer, with its subresource statuses."""
    status = obj.get("status")
    if not isinstance(status, Mapping) or not status:
        return "Pending", "Gloo has not reported on it yet"
    statuses = status.get("statuses")
    entry: Any
    if isinstance(statuses, Mapping) and statuses:
        entry = statuses.get(gloo_namespace)
        if not isinstance(entry, Mapping):
            others = ", ".join(sorted(str(k) for k in statuses))
            return "Pending", f"no status from the Gloo in namespace {gloo_namespace!r} yet (statuses from: {others})"
    elif "state" in status:
        entry = status
    else:
        return "Pending", "Gloo has not reported on it yet"
    state, problem = _state(entry.get("state"))
    reasons = [problem or str(entry.get("reason") or "")]
    subresources = entry.get("subresourceStatuses")
    if isinstance(subresources, Mapping):
        for name, sub in sorted(subresources.items()):
            if not isinstance(sub, Mapping):
                continue
            sub_state, sub_problem = _state(sub.get("state"))
            if _SEVERITY[sub_state] > _SEVERITY[state]:
                state = sub_state
            if sub_state != "Accepted":
                reasons.append(f"{name}: {sub_problem or sub.get('reason') or sub_state}")
    return state, "; ".join(r for r in reasons if r)


def _state(value: Any) -> tuple[VerdictState, str]:
    if isinstance(value, bool):
        return "Pending", f"unknown state {value!r}"
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        if 0 <= number < len(_STATES):
            return _STATES[number], ""
        return "Pending", f"unknown state {value!r}"
    if isinstance(value, str):
        for state in _STATES:
            if value.strip().lower() == state.lower():
                return state, ""
        return "Pending", f"unknown state {value!r}"
    return "Pending", "Gloo has not reported a state yet"


def _differs(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """True unless every field of ``desired`` is in ``live`` with the same value (the generation label aside)."""
    return not _contains(live, _without_generation(desired), top=True)


def _contains(live: Any, desired: Any, *, top: bool = False) -> bool:
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        for key, value in desired.items():
            if top and key == "status":
                continue
            if key not in live or not _contains(live[key], value):
                return False
        return True
    return bool(live == desired)  # lists are atomic: equal or not


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return copy.deepcopy(value)


def _without_generation(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out.get("metadata", {}).get("labels", {}).pop(GENERATION_LABEL, None)
    return out


def _fingerprint(obj: Mapping[str, Any]) -> str:
    """A hash of what we apply, the generation label and this annotation aside."""
    data = _without_generation(obj)
    data.get("metadata", {}).get("annotations", {}).pop(APPLIED_ANNOTATION, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _generation(obj: Mapping[str, Any]) -> int:
    value = _labels(obj).get(GENERATION_LABEL, "")
    return int(value) if value.isdigit() else 0


def _key(kind: ObjectKind, obj: Mapping[str, Any]) -> tuple[ObjectKind, str, str]:
    meta = obj.get("metadata") or {}
    return kind, str(meta.get("namespace", "")), str(meta.get("name", ""))


def _ref(kind: ObjectKind, obj: Mapping[str, Any]) -> str:
    _, namespace, name = _key(kind, obj)
    return f"{kind.kind}/{namespace}/{name}"


def _selector(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in labels.items())
