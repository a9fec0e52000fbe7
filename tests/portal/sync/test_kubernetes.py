"""The kubernetes target, through its real client (lightkube, real HTTP) against the fake Kubernetes API server of
tests/portal/sync/fake_kube.py. That server is a FAKE (no Kubernetes API server can run on this machine) at this
one seam; its semantics are pinned in test_fake_kube.py. The tests play Gloo (writing statuses, rejecting in its
admission webhook) and people (editing, deleting) through the same HTTP API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from portal.sync.desired import ClusterSpec, DesiredState, ProductSpec
from portal.sync.errors import ClusterUnreachable, ConfigRejected, InvalidDesiredState
from portal.sync.model import ClusterRouting, route
from portal.sync.targets import Observation, ProductVerdict, Target
from portal.sync.targets._kube import KubeClient
from portal.sync.targets.kubernetes import (
    CLUSTER_LABEL,
    GENERATION_LABEL,
    GLOO_KINDS as GLOO_KINDS_OF_TARGET,
    MANAGED_BY_LABEL,
    PRODUCT_LABEL,
    KubernetesTarget,
    verdict_of,
)
from tests.portal.sync._fleet import FLEET, SERVICES
from tests.portal.sync.fake_kube import GLOO_KINDS, FakeKube, self_signed_certificate, write_kubeconfig

LIBRARY = ProductSpec("library", ("members", "catalog"), ("us-east", "us-west", "eu-central"))
PINNED = ProductSpec("library-eu", ("members", "catalog"), ("us-east", "eu-central"), residency="eu")
SHOP = ProductSpec("shop", ("members",), ("us-east",))
MakeTarget = Callable[..., KubernetesTarget]
NOWHERE = ProductSpec("nowhere", ("members",), ("us-east",), residency="mars")  # no cluster is in "mars"
CLUSTERS = {name: replace(c, target="kubernetes", kube_context=name) for name, c in FLEET.items()}
NS = "gloo-system"
PROXY = "*v1.Proxy.gateway-proxy_gloo-system"


def desired(*products: ProductSpec, generation: int = 7) -> DesiredState:
    return DesiredState(CLUSTERS, SERVICES, {p.name: p for p in products}, generation=generation)


def model(*products: ProductSpec, cluster: str = "us-east", generation: int = 7) -> ClusterRouting:
    return route(desired(*products, generation=generation))[cluster]


def render(routing: ClusterRouting) -> list[dict[str, Any]]:
    """A small stand-in for the Gloo renderer: an Upstream per upstream, a RouteTable per product (labelled with
    it) and one VirtualService delegating to them by label, the layout Gloo Portal used."""
    products = {f"loom-entry-{r.product}": r.product for r in routing.routes}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "gateway.solo.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "loom-products"},
            "spec": {
                "virtualHost": {
                    "domains": ["*"],
                    "routes": [
                        {
                            "matchers": [{"prefix": "/products/"}],
                            "delegateAction": {"selector": {"labels": {"loom.dev/routes": "products"}}},
                        }
                    ],
                }
            },
        }
    ]
    for upstream in routing.upstreams:
        hosts = [{"addr": e.address.host, "port": e.address.port} for e in upstream.priorities[0]]
        labels = {PRODUCT_LABEL: products[upstream.name]} if upstream.name in products else {}
        objects.append(
            {
                "apiVersion": "gloo.solo.io/v1",
                "kind": "Upstream",
                "metadata": {"name": upstream.name, "namespace": NS, "labels": labels},
                "spec": {"static": {"hosts": hosts}, "healthChecks": [{"timeout": "1s", "interval": "1s"}]},
            }
        )
    for product_route in routing.routes:
        objects.append(
            {
                "apiVersion": "gateway.solo.io/v1",
                "kind": "RouteTable",
                "metadata": {
                    "name": f"loom-product-{product_route.product}",
                    "namespace": NS,
                    "labels": {PRODUCT_LABEL: product_route.product, "loom.dev/routes": "products"},
                },
                "spec": {
                    "routes": [
                        {
                            "matchers": [{"prefix": product_route.prefix + "/"}],
                            "routeAction": {"single": {"upstream": {"name": product_route.upstream, "namespace": NS}}},
                        }
                    ]
                },
            }
        )
    return objects


def valid(objects: Sequence[Mapping[str, Any]]) -> None:
    """Every set passes (the strict CRD validator has its own tests)."""


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    fake = FakeKube()
    with fake.serving():
        yield fake


@pytest.fixture
def kubeconfig(fake: FakeKube, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", {"us-east": fake})


@pytest.fixture
async def make_target() -> AsyncIterator[MakeTarget]:
    """Targets (the Gloo stand-in renderer, no validation problems unless given) closed after the test."""
    made: list[KubernetesTarget] = []

    def make(cluster: ClusterSpec = CLUSTERS["us-east"], **options: Any) -> KubernetesTarget:
        options.setdefault("render", render)
        options.setdefault("validate", valid)
        made.append(KubernetesTarget(cluster, **options))
        return made[-1]

    yield make
    for target in made:
        await target.aclose()


@pytest.fixture
def target(make_target: MakeTarget, kubeconfig: Path) -> KubernetesTarget:
    return make_target(kubeconfig=kubeconfig)


@pytest.fixture
async def kube(fake: FakeKube) -> AsyncIterator[httpx.AsyncClient]:
    """Someone else speaking to the same API: Gloo, a person with kubectl."""
    headers = {"Authorization": f"Bearer {fake.token}"}
    async with httpx.AsyncClient(base_url=fake.url, headers=headers) as client:
        yield client


def path(kind: str, name: str, namespace: str = NS) -> str:
    found = next(k for k in GLOO_KINDS if k.kind == kind)
    return f"/apis/{found.api_version}/namespaces/{namespace}/{found.plural}/{name}"


def objects(fake: FakeKube) -> set[str]:
    return {f"{kind.kind}/{name}" for kind in GLOO_KINDS for name in fake.names(kind.kind)}


EXPECTED = {
    "VirtualService/gloo-system/loom-products",
    "RouteTable/gloo-system/loom-product-library",
    "RouteTable/gloo-system/loom-product-library-eu",
    "Upstream/gloo-system/loom-entry-library",
    "Upstream/gloo-system/loom-entry-library-eu",
    "Upstream/gloo-system/loom-local-gateway",
    "Upstream/gloo-system/loom-local-members",
    "Upstream/gloo-system/loom-svc-catalog",
    "Upstream/gloo-system/loom-svc-members",
}


# -- apply --------------------------------------------------------------------------------------------------------


async def test_the_first_apply_creates_everything_upstreams_before_the_routes_that_name_them(
    fake: FakeKube, target: KubernetesTarget
) -> None:
    report = await target.apply(model(LIBRARY, PINNED))
    assert (report.created, report.updated, report.deleted) == (len(EXPECTED), 0, 0)
    assert objects(fake) == EXPECTED
    order = [r.object.split("/")[0] for r in fake.write_log]
    assert order == ["Upstream"] * 6 + ["RouteTable"] * 2 + ["VirtualService"]
    assert all(r.operation == "apply" and r.manager == "loom" and r.accepted for r in fake.write_log)
    upstream = fake.get("Upstream", NS, "loom-entry-library")
    assert upstream is not None
    assert upstream["metadata"]["labels"] == {
        MANAGED_BY_LABEL: "loom",
        CLUSTER_LABEL: "us-east",
        GENERATION_LABEL: "7",
        PRODUCT_LABEL: "library",
    }
    assert upstream["spec"]["static"]["hosts"] == [{"addr": "127.0.0.1", "port": 4101}]
    assert [m["manager"] for m in upstream["metadata"]["managedFields"]] == ["loom"]


async def test_a_second_apply_writes_nothing(fake: FakeKube, target: KubernetesTarget) -> None:
    await target.apply(model(LIBRARY, PINNED))
    fake.clear_writes()
    report = await target.apply(model(LIBRARY, PINNED, generation=8))  # a new generation, the same objects
    assert report.writes == 0
    assert fake.write_log == []


async def test_a_change_to_one_product_writes_only_its_objects(fake: FakeKube, target: KubernetesTarget) -> None:
    await target.apply(model(LIBRARY, PINNED))
    fake.clear_writes()
    report = await target.apply(model(LIBRARY, PINNED, SHOP, generation=8))
    assert (report.created, report.updated, report.deleted) == (2, 0, 0)
    assert set(fake.writes) == {"Upstream/gloo-system/loom-entry-shop", "RouteTable/gloo-system/loom-product-shop"}
    untouched = fake.get("RouteTable", NS, "loom-product-library")
    assert untouched is not None and untouched["metadata"]["labels"][GENERATION_LABEL] == "7"
    shop = fake.get("RouteTable", NS, "loom-product-shop")
    assert shop is not None and shop["metadata"]["labels"][GENERATION_LABEL] == "8"


async def test_a_field_loom_stops_setting_is_removed(fake: FakeKube, kubeconfig: Path, make_target: MakeTarget) -> None:
    def with_extra(routing: ClusterRouting) -> list[dict[str, Any]]:
        out = render(routing)
        out[0]["spec"]["displayName"] = "API products"
        return out

    first = make_target(render=with_extra, validate=valid, kubeconfig=kubeconfig)
    await first.apply(model(LIBRARY))
    second = make_target(kubeconfig=kubeconfig)
    report = await second.apply(model(LIBRARY))
    assert report.updated == 1  # the applied hash changed, though every field it sets is already there
    vs = fake.get("VirtualService", NS, "loom-products")
    assert vs is not None and "displayName" not in vs["spec"]


async def test_drift_an_edited_or_deleted_object_is_restored_on_the_next_apply(
    fake: FakeKube, target: KubernetesTarget, kube: httpx.AsyncClient
) -> None:
    await target.apply(model(LIBRARY, PINNED))
    edited = fake.get("Upstream", NS, "loom-svc-members")
    assert edited is not None
    edited["spec"]["static"]["hosts"] = [{"addr": "10.0.0.66", "port": 80}]
    put = await kube.put(path("Upstream", "loom-svc-members"), json=edited, params={"fieldManager": "kubectl-edit"})
    assert put.status_code == 200
    gone = await kube.delete(path("RouteTable", "loom-product-library"))
    assert gone.status_code == 200

    report = await target.apply(model(LIBRARY, PINNED))
    assert (report.created, report.updated, report.deleted) == (1, 1, 0)
    restored = fake.get("Upstream", NS, "loom-svc-members")
    assert restored is not None and restored["spec"]["static"]["hosts"] == [{"addr": "127.0.0.1", "port": 7301}]
    assert fake.get("RouteTable", NS, "loom-product-library") is not None
    # the edit owned the hosts: loom took them back with force, and says so
    assert len(target.last_conflicts) == 1
    assert "Upstream/gloo-system/loom-svc-members" in target.last_conflicts[0]
    assert "kubectl-edit" in target.last_conflicts[0]
    assert "kubectl-edit" not in {m["manager"] for m in restored["metadata"]["managedFields"]}


async def test_fields_another_manager_sets_and_loom_does_not_stay_theirs(
    fake: FakeKube, target: KubernetesTarget, kube: httpx.AsyncClient
) -> None:
    await target.apply(model(LIBRARY))
    # Gloo Federation (say) applies a failover block loom does not write
    theirs = {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": {"name": "loom-svc-members", "namespace": NS},
        "spec": {"failover": {"policy": {"overprovisioningFactor": 140}}},
    }
    applied = await kube.patch(
        path("Upstream", "loom-svc-members"),
        json=theirs,
        params={"fieldManager": "gloo-fed"},
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert applied.status_code == 200
    fake.clear_writes()
    assert (await target.apply(model(LIBRARY))).writes == 0
    kept = fake.get("Upstream", NS, "loom-svc-members")
    assert kept is not None and kept["spec"]["failover"] == {"policy": {"overprovisioningFactor": 140}}


async def test_what_is_no_longer_desired_is_pruned_and_what_is_not_ours_is_never_touched(
    fake: FakeKube, target: KubernetesTarget, kube: httpx.AsyncClient
) -> None:
    await target.apply(model(LIBRARY, PINNED))
    foreign = [
        ("loom-entry-old", {}),  # looks like ours, has no labels
        ("someone-else", {MANAGED_BY_LABEL: "helm"}),
        ("other-cluster", {MANAGED_BY_LABEL: "loom", CLUSTER_LABEL: "us-west"}),
    ]
    for name, labels in foreign:
        created = await kube.post(
            path("Upstream", "", NS).rstrip("/"),
            json={
                "apiVersion": "gloo.solo.io/v1",
                "kind": "Upstream",
                "metadata": {"name": name, "namespace": NS, "labels": labels},
                "spec": {"static": {"hosts": [{"addr": "x", "port": 1}]}},
            },
        )
        assert created.status_code == 201, created.text
    fake.clear_writes()

    report = await target.apply(model(LIBRARY))
    assert (report.created, report.updated, report.deleted) == (0, 0, 2)
    assert [r.object for r in fake.write_log] == [  # the route before the upstream it names
        "RouteTable/gloo-system/loom-product-library-eu",
        "Upstream/gloo-system/loom-entry-library-eu",
    ]
    assert all(r.operation == "delete" for r in fake.write_log)
    assert {"Upstream/gloo-system/loom-entry-old", "Upstream/gloo-system/someone-else"} <= objects(fake)
    assert "Upstream/gloo-system/other-cluster" in objects(fake)


async def test_an_object_of_a_desired_name_that_loom_did_not_create_is_refused_before_any_write(
    fake: FakeKube, target: KubernetesTarget, kube: httpx.AsyncClient
) -> None:
    created = await kube.post(
        path("Upstream", "", NS).rstrip("/"),
        json={
            "apiVersion": "gloo.solo.io/v1",
            "kind": "Upstream",
            "metadata": {"name": "loom-svc-members", "namespace": NS},
            "spec": {"kube": {"serviceName": "members"}},
        },
    )
    assert created.status_code == 201
    fake.clear_writes()
    with pytest.raises(ConfigRejected) as refused:
        await target.apply(model(LIBRARY))
    assert refused.value.object == "Upstream/gloo-system/loom-svc-members"
    assert "was not created by Loom" in refused.value.message
    assert fake.write_log == []


# -- refusals ------------------------------------------------------------------------------------------------------


async def test_a_schema_error_is_found_before_the_first_write(
    fake: FakeKube, kubeconfig: Path, make_target: MakeTarget
) -> None:
    def strict(objects: Sequence[Mapping[str, Any]]) -> None:
        for obj in objects:
            name = obj["metadata"]["name"]
            if obj["kind"] == "RouteTable" and name == "loom-product-library-eu":
                where = f"RouteTable/{NS}/{name}"
                raise ConfigRejected(f"{where}: spec.routes[0].matchers[0].prefx: unknown field", object=where)

    target = make_target(render=render, validate=strict, kubeconfig=kubeconfig)
    with pytest.raises(ConfigRejected) as refused:
        await target.apply(model(LIBRARY, PINNED))
    assert refused.value.object == "RouteTable/gloo-system/loom-product-library-eu"
    assert "prefx: unknown field" in refused.value.message
    assert "nothing was written" in refused.value.message
    assert refused.value.message.startswith("cluster 'us-east': RouteTable/gloo-system/loom-product-library-eu: ")
    assert fake.write_log == []


async def test_a_model_with_problems_reaches_no_cluster(fake: FakeKube, target: KubernetesTarget) -> None:
    broken = model(LIBRARY, NOWHERE)
    assert broken.problems
    with pytest.raises(InvalidDesiredState) as refused:
        await target.apply(broken)
    assert "keeps its last good config" in refused.value.message
    assert fake.write_log == []


@pytest.mark.parametrize("code", [400, 403])
async def test_a_webhook_rejection_is_config_rejected_with_glooes_message_and_the_cluster_keeps_what_it_had(
    fake: FakeKube, target: KubernetesTarget, kubeconfig: Path, code: int, make_target: MakeTarget
) -> None:
    await target.apply(model(LIBRARY, PINNED))
    before = fake.get("RouteTable", NS, "loom-product-library")
    fake.clear_writes()
    gloo_says = (
        "resource incompatible with current Gloo snapshot: [Route Warning: InvalidDestinationWarning. "
        "Reason: *v1.Upstream { gloo-system.loom-entry-shop } not found]"
    )
    fake.reject(gloo_says, kind="RouteTable", name="loom-product-library", code=code)

    # shop is new (2 creates), library's route changes (rejected), library-eu goes (never pruned: it stops first)
    def changed(routing: ClusterRouting) -> list[dict[str, Any]]:
        out = render(routing)
        for obj in out:
            if obj["metadata"]["name"] == "loom-product-library":
                obj["spec"]["weight"] = 10
        return out

    target = make_target(render=changed, validate=valid, kubeconfig=kubeconfig)
    with pytest.raises(ConfigRejected) as refused:
        await target.apply(model(LIBRARY, SHOP, generation=8))
    assert f'admission webhook "gloo.gloo-system.svc" denied the request: {gloo_says}' in refused.value.message
    assert refused.value.object == "RouteTable/gloo-system/loom-product-library"
    assert "1 of 5 writes were made before it" in refused.value.message
    assert fake.get("RouteTable", NS, "loom-product-library") == before
    assert fake.get("RouteTable", NS, "loom-product-library-eu") is not None  # nothing was pruned
    assert (target.last_report.created, target.last_report.deleted) == (1, 0)

    fake.accept_all()  # the cause is fixed: the next pass completes it
    report = await target.apply(model(LIBRARY, SHOP, generation=8))
    assert (report.created, report.updated, report.deleted) == (1, 1, 2)
    assert (await target.apply(model(LIBRARY, SHOP, generation=8))).writes == 0


async def test_an_unreachable_api_server_is_cluster_unreachable_and_the_next_pass_completes(
    fake: FakeKube, target: KubernetesTarget
) -> None:
    fake.stop()
    with pytest.raises(ClusterUnreachable) as unreachable:
        await target.apply(model(LIBRARY))
    assert unreachable.value.delay > 0
    assert "kube context 'us-east'" in unreachable.value.message
    observed = await target.observe(model(LIBRARY))
    assert observed.reachable is False and observed.error
    fake.start()
    assert (await target.apply(model(LIBRARY))).created == 7


async def test_a_kube_context_that_no_kubeconfig_has_is_a_clear_error(
    tmp_path: Path, fake: FakeKube, make_target: MakeTarget
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"us-west": fake})
    target = make_target(kubeconfig=kubeconfig)
    with pytest.raises(InvalidDesiredState) as refused:
        await target.apply(model(LIBRARY))
    assert "kube context 'us-east' is in no kubeconfig" in refused.value.message
    assert fake.write_log == []


# -- status ----------------------------------------------------------------------------------------------------------


async def play_gloo(kube: httpx.AsyncClient, fake: FakeKube, kind: str, name: str, status: dict[str, Any]) -> None:
    """Write a status as Gloo does: through the status subresource when the kind has one, else by updating the
    object at the version it read (and reading again after a 409)."""
    subresource = next(k for k in fake.kinds.values() if k.kind == kind).status_subresource
    url = path(kind, name) + ("/status" if subresource else "")
    for _ in range(5):
        current = (await kube.get(path(kind, name))).json()
        answer = await kube.put(url, json={**current, "status": status}, params={"fieldManager": "gloo"})
        if answer.status_code != 409:
            assert answer.status_code == 200, answer.text
            return
    raise AssertionError("Gloo could not write its status")


def verdicts(observation: Observation) -> dict[str, ProductVerdict]:
    return {v.product: v for v in observation.verdicts}


@pytest.fixture(params=["through the object", "status subresource"])
def status_fake(request: pytest.FixtureRequest) -> Iterator[FakeKube]:
    """The real Gloo CRDs have no status subresource; some API servers' copies of them may."""
    subresource = request.param == "status subresource"
    fake = FakeKube(kinds=[replace(k, status_subresource=subresource) for k in GLOO_KINDS])
    with fake.serving():
        yield fake


@pytest.mark.parametrize(
    ("written", "state", "reason"),
    [
        ({"statuses": {NS: {"state": "Accepted", "reportedBy": "gloo"}}}, "Accepted", ""),
        ({"statuses": {NS: {"state": 1}}}, "Accepted", ""),
        ({"statuses": {NS: {"state": "Rejected", "reason": "bad matcher"}}}, "Rejected", "bad matcher"),
        ({"statuses": {NS: {"state": 2, "reason": "bad matcher"}}}, "Rejected", "bad matcher"),
        ({"statuses": {NS: {"state": 3, "reason": "InvalidDestinationWarning"}}}, "Warning", "InvalidDestination"),
        ({"state": "Rejected", "reason": "old layout"}, "Rejected", "old layout"),
        ({"state": 3, "reason": "old layout, int"}, "Warning", "old layout, int"),
        ({"statuses": {"other-gloo": {"state": 1}}}, "Pending", "no status from the Gloo in namespace"),
        (
            {
                "statuses": {
                    NS: {
                        "state": 1,
                        "subresourceStatuses": {PROXY: {"state": 2, "reason": "proxy"}},
                    }
                }
            },
            "Rejected",
            f"{PROXY}: proxy",
        ),
    ],
)
async def test_status_is_read_back_with_string_and_integer_states_in_both_layouts(
    status_fake: FakeKube, tmp_path: Path, written: dict[str, Any], state: str, reason: str, make_target: MakeTarget
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"us-east": status_fake})
    target = make_target(kubeconfig=kubeconfig)
    headers = {"Authorization": f"Bearer {status_fake.token}"}
    async with httpx.AsyncClient(base_url=status_fake.url, headers=headers) as kube:
        routing = model(LIBRARY, PINNED)
        await target.apply(routing)
        accepted = {"statuses": {NS: {"state": "Accepted"}}}
        for kind in GLOO_KINDS:
            for name in status_fake.names(kind.kind):
                await play_gloo(kube, status_fake, kind.kind, name.split("/")[1], accepted)
        await play_gloo(kube, status_fake, "RouteTable", "loom-product-library", written)
        observed = await target.observe(routing)
        status_fake.clear_writes()
        assert (await target.apply(routing)).writes == 0  # Gloo's status is no drift
    library = verdicts(observed)["library"]
    assert library.state == state
    assert reason in library.reason
    if state != "Accepted":
        assert library.reason.startswith("RouteTable/gloo-system/loom-product-library: ")
    assert library.generation == 7
    assert verdicts(observed)["library-eu"] == ProductVerdict("library-eu", "Accepted", "", 7)


async def test_objects_gloo_has_not_reported_on_are_pending(fake: FakeKube, target: KubernetesTarget) -> None:
    await target.apply(model(LIBRARY))
    library = verdicts(await target.observe(model(LIBRARY)))["library"]
    assert library.state == "Pending"
    assert "Gloo has not reported on it yet" in library.reason


async def test_a_product_not_applied_yet_is_pending_at_its_last_generation(
    fake: FakeKube, target: KubernetesTarget
) -> None:
    await target.apply(model(LIBRARY, generation=5))
    observed = verdicts(await target.observe(model(LIBRARY, SHOP, generation=6)))
    assert observed["shop"].state == "Pending"
    assert "RouteTable/gloo-system/loom-product-shop: not in the cluster yet" in observed["shop"].reason
    assert observed["library"].generation == 6  # unchanged objects already say what generation 6 says


async def test_watch_yields_a_new_observation_when_gloo_writes_a_status(
    fake: FakeKube, target: KubernetesTarget, kube: httpx.AsyncClient
) -> None:
    routing = model(LIBRARY)
    await target.apply(routing)
    observations = target.watch(routing)
    first = await anext(observations)
    assert verdicts(first)["library"].state == "Pending"
    rejected = {"statuses": {NS: {"state": 2, "reason": "route rejected"}}}
    await play_gloo(kube, fake, "RouteTable", "loom-product-library", rejected)
    # the watch must see it: wait on the stream (bounded only so a broken watch fails instead of hanging)
    seen = await asyncio.wait_for(anext(observations), 30)
    assert verdicts(seen)["library"].state == "Rejected"
    assert "route rejected" in verdicts(seen)["library"].reason
    await observations.aclose()


async def test_a_watch_ends_with_cluster_unreachable_when_the_api_server_goes(
    fake: FakeKube, target: KubernetesTarget
) -> None:
    routing = model(LIBRARY)
    await target.apply(routing)
    observations = target.watch(routing)
    await anext(observations)
    fake.stop()
    with pytest.raises(ClusterUnreachable) as unreachable:
        await asyncio.wait_for(anext(observations), 30)
    assert "cannot be reached (watch" in unreachable.value.message
    await observations.aclose()


def test_verdict_of_reads_every_layout() -> None:
    assert verdict_of({}, NS) == ("Pending", "Gloo has not reported on it yet")
    assert verdict_of({"status": {"statuses": {NS: {"state": "warning", "reason": "w"}}}}, NS) == ("Warning", "w")
    assert verdict_of({"status": {"statuses": {NS: {"state": "2"}}}}, NS) == ("Rejected", "")
    assert verdict_of({"status": {"statuses": {NS: {"state": 9}}}}, NS) == ("Pending", "unknown state 9")
    assert verdict_of({"status": {"state": 0}}, NS) == ("Pending", "")


# -- clusters and connections -------------------------------------------------------------------------------------


async def test_two_clusters_on_two_api_servers_are_independent(tmp_path: Path, make_target: MakeTarget) -> None:
    east, west = FakeKube(), FakeKube(token="west-token")
    with east.serving(), west.serving():
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"us-east": east, "us-west": west})
        targets = {name: make_target(CLUSTERS[name], kubeconfig=kubeconfig) for name in ("us-east", "us-west")}
        await targets["us-east"].apply(model(LIBRARY, PINNED, cluster="us-east"))
        await targets["us-west"].apply(model(LIBRARY, PINNED, cluster="us-west"))
        east_upstream = east.get("Upstream", NS, "loom-entry-library")
        west_upstream = west.get("Upstream", NS, "loom-entry-library")
        assert east_upstream is not None and east_upstream["metadata"]["labels"][CLUSTER_LABEL] == "us-east"
        assert west_upstream is not None and west_upstream["metadata"]["labels"][CLUSTER_LABEL] == "us-west"

        both = ProductSpec("shop", ("members",), ("us-east", "us-west"))
        east.reject("resource incompatible with current Gloo snapshot", kind="RouteTable")
        with pytest.raises(ConfigRejected):
            await targets["us-east"].apply(model(LIBRARY, PINNED, both, cluster="us-east"))
        assert (await targets["us-west"].apply(model(LIBRARY, PINNED, both, cluster="us-west"))).created == 2
        east.stop()
        with pytest.raises(ClusterUnreachable):
            await targets["us-east"].apply(model(LIBRARY, cluster="us-east"))
        report = await targets["us-west"].apply(model(LIBRARY, cluster="us-west"))
        assert (report.created, report.updated, report.deleted) == (0, 0, 2)
        assert west.get("RouteTable", NS, "loom-product-shop") is None
        assert east.get("RouteTable", NS, "loom-product-shop") is None  # its webhook refused it, it never came


async def test_in_cluster_with_the_service_account_over_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_target: MakeTarget
) -> None:
    certificate, key = self_signed_certificate(tmp_path)
    fake = FakeKube(token="service-account-token", tls=(certificate, key))
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("service-account-token")
    (account / "namespace").write_text("loom-system")
    (account / "ca.crt").write_bytes(certificate.read_bytes())
    with fake.serving() as url:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", url.rsplit(":", 1)[1])
        in_cluster: ClusterSpec = replace(CLUSTERS["us-east"], kube_context=None)
        target = make_target(in_cluster, service_account_dir=account)
        routing = replace(model(LIBRARY), cluster=in_cluster)
        assert (await target.apply(routing)).created == 7
        await target.aclose()  # before the server stops: it would wait for the open TLS connection

        # the API server's certificate is checked against the service account's CA
        other = tmp_path / "other"
        other.mkdir()
        impostor = tmp_path / "impostor"
        impostor.mkdir()
        (impostor / "token").write_text("service-account-token")
        (impostor / "namespace").write_text("loom-system")
        (impostor / "ca.crt").write_bytes(self_signed_certificate(other)[0].read_bytes())
        with pytest.raises(ClusterUnreachable) as untrusted:
            await make_target(in_cluster, service_account_dir=impostor).apply(routing)
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.value.message
    assert fake.get("Upstream", NS, "loom-svc-members") is not None


async def test_without_a_kube_context_outside_a_pod_the_error_says_what_to_do(
    tmp_path: Path, make_target: MakeTarget
) -> None:
    in_cluster = replace(CLUSTERS["us-east"], kube_context=None)
    target = make_target(in_cluster, service_account_dir=tmp_path / "none")
    with pytest.raises(InvalidDesiredState) as refused:
        await target.apply(replace(model(LIBRARY), cluster=in_cluster))
    assert "no in-cluster service account" in refused.value.message
    assert "give the cluster a kube context" in refused.value.message


async def test_a_cluster_without_glooes_crds_is_refused_with_a_hint(tmp_path: Path, make_target: MakeTarget) -> None:
    no_gateways = FakeKube(kinds=[k for k in GLOO_KINDS if k.kind != "Gateway"])
    with no_gateways.serving():
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"us-east": no_gateways})
        target = make_target(kubeconfig=kubeconfig)
        with pytest.raises(ConfigRejected) as refused:
            await target.apply(model(LIBRARY))
    assert "refused the list of gateways (404 NotFound)" in refused.value.message
    assert "are Gloo's CRDs installed" in refused.value.message
    assert no_gateways.write_log == []


def test_it_is_a_target(target: KubernetesTarget) -> None:
    implementation: Target = target  # mypy checks the protocol; the kind names it in the status
    assert implementation.kind == "kubernetes"


async def test_an_injected_client_stays_open_for_its_owner(fake: FakeKube, kubeconfig: Path) -> None:
    client = KubeClient.from_kubeconfig("us-east", kubeconfig=kubeconfig)
    async with KubernetesTarget(CLUSTERS["us-east"], render=render, validate=valid, client=client) as target:
        assert (await target.apply(model(LIBRARY))).created == 7
    upstreams, _ = await client.list(GLOO_KINDS_OF_TARGET[0], {CLUSTER_LABEL: "us-east"})
    assert len(upstreams) == 5
    await client.aclose()


async def test_a_null_the_renderer_writes_is_no_difference(
    fake: FakeKube, make_target: MakeTarget, kubeconfig: Path
) -> None:
    def with_nulls(routing: ClusterRouting) -> list[dict[str, Any]]:
        out = render(routing)
        out[0]["spec"]["displayName"] = None  # "not set": the API server stores nothing for it
        return out

    target = make_target(render=with_nulls, kubeconfig=kubeconfig)
    await target.apply(model(LIBRARY))
    fake.clear_writes()
    assert (await target.apply(model(LIBRARY))).writes == 0
    assert fake.write_log == []
