"""The routing model on its own: worked examples, then properties over generated fleets (hypothesis)."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings, strategies as st

from portal.sync.desired import ClusterSpec, DesiredState, ProductSpec, ServiceSpec
from portal.sync.model import (
    INTERNAL_PREFIX,
    LOCAL_GATEWAY,
    ClusterRouting,
    Upstream,
    locality_tier,
    route,
)
from tests.portal.sync._fleet import FLEET, SERVICES, cluster, deployment, fleets, state


def names(upstream: Upstream) -> list[list[str]]:
    return [[e.cluster for e in level] for level in upstream.priorities]


def test_a_product_without_residency_is_processed_where_it_enters_and_fails_over_by_locality() -> None:
    library = ProductSpec("library", ("members", "catalog"), ("us-east", "us-west", "eu-central"))
    model = route(state(library))

    east = model["us-east"]
    assert [(r.product, r.prefix, r.processed_here) for r in east.routes] == [("library", "/products/library", True)]
    entry = east.upstream(east.routes[0].upstream)
    # its own gateway first, then the same region, then another region of the same residency, then abroad;
    # us-east-b does not offer it
    assert names(entry) == [["us-east"], ["us-west"], ["eu-central"]]
    assert names(east.upstream("loom-svc-members")) == [["us-east"], ["us-east-b"], ["us-west"], ["eu-central"]]
    # catalog is not deployed in us-east: the nearest tier comes first
    assert names(east.upstream("loom-svc-catalog")) == [["us-west"], ["eu-central"]]
    assert east.problems == ()

    members = east.upstream("loom-svc-members")
    local, remote = members.priorities[0][0], members.priorities[1][0]
    assert (local.via_failover, local.authority, str(local.address)) == (False, "127.0.0.1:7301", "127.0.0.1:7301")
    assert (remote.via_failover, remote.authority, str(remote.address)) == (
        True,
        "loom-local-members_gloo-system",
        "127.0.0.12:15443",
    )
    [product] = east.gateway_products
    assert product.service_urls == {
        "members": f"{FLEET['us-east'].internal_url}{INTERNAL_PREFIX}loom-svc-members",
        "catalog": f"{FLEET['us-east'].internal_url}{INTERNAL_PREFIX}loom-svc-catalog/api",
    }


def test_a_pinned_product_entering_outside_its_zone_is_forwarded_and_never_leaves_the_zone() -> None:
    pinned = ProductSpec("library-eu", ("members", "catalog"), ("us-east", "eu-central"), residency="eu")
    model = route(state(pinned))

    east = model["us-east"]
    [entry_route] = east.routes
    assert not entry_route.processed_here
    entry = east.upstream(entry_route.upstream)
    assert names(entry) == [["eu-central"]]
    assert entry.endpoints[0].authority == f"{LOCAL_GATEWAY}_gloo-system"
    assert east.gateway_products == ()  # us-east's gateway never serves it
    assert not [u for u in east.upstreams if u.role == "service"]

    eu = model["eu-central"]
    assert [g.product for g in eu.gateway_products] == ["library-eu"]
    members = eu.upstream("loom-svc-members-in-eu")
    assert names(members) == [["eu-central"]]  # the three US replicas are out of the zone
    assert {f.upstream for f in eu.failover_routes} == {LOCAL_GATEWAY}


def test_one_service_used_in_two_zones_gets_one_upstream_per_zone() -> None:
    model = route(
        state(
            ProductSpec("open", ("members",), ("eu-central",)),
            ProductSpec("pinned", ("members",), ("eu-central",), residency="eu"),
        )
    )
    eu = model["eu-central"]
    assert names(eu.upstream("loom-svc-members"))[0] == ["eu-central"]
    assert {e.cluster for e in eu.upstream("loom-svc-members").endpoints} == set(FLEET)
    assert {e.cluster for e in eu.upstream("loom-svc-members-in-eu").endpoints} == {"eu-central"}
    urls = {g.product: g.service_urls["members"] for g in eu.gateway_products}
    assert urls["open"].endswith("/loom-svc-members") and urls["pinned"].endswith("/loom-svc-members-in-eu")


def test_problems_name_the_product_and_what_to_fix() -> None:
    no_gateway = dict(FLEET, **{"us-west": cluster("us-west", "us-west-2", "us-west-2a", "us", 3, failover=False)})
    model = route(
        state(
            ProductSpec("library", ("members", "catalog"), ("us-east",)),
            ProductSpec("ghost", ("nothing",), ("us-east", "mars")),
            ProductSpec("stranded", ("members",), ("us-east",), residency="eu"),
            clusters=no_gateway,
        )
    )
    problems = {str(p) for p in model["us-east"].problems}
    assert any("'library'" in p and "'us-west'" in p and "failoverGateway" in p for p in problems)
    assert "product 'ghost': routing names cluster 'mars', which does not exist" in problems
    assert "product 'ghost': its source service 'nothing' does not exist" in problems
    assert any(
        p.startswith("product 'stranded': none of its routing clusters is in residency zone 'eu'") for p in problems
    )


def test_deployments_that_disagree_on_the_path_are_a_problem() -> None:
    services = dict(
        SERVICES, catalog=ServiceSpec("catalog", (deployment("us-east", 1, "/a"), deployment("us-west", 2, "/b")))
    )
    desired = DesiredState(FLEET, services, {"p": ProductSpec("p", ("catalog",), ("us-east",))})
    [problem] = route(desired)["us-east"].problems
    assert "disagree on the path (us-east: /a, us-west: /b)" in problem.message


# --- properties over generated fleets ----------------------------------------------------------------------------


def _check_priorities(source: ClusterSpec, fleet: DesiredState, upstream: Upstream) -> None:
    tiers = [{locality_tier(source, fleet.clusters[e.cluster]) for e in level} for level in upstream.priorities]
    assert all(len(t) == 1 for t in tiers), "one locality tier per priority"
    flat = [next(iter(t)) for t in tiers]
    assert flat == sorted(set(flat)), "priorities strictly follow locality"
    for e in upstream.endpoints:
        assert e.via_failover == (e.cluster != source.name), "only remote endpoints go through a failover gateway"


@settings(max_examples=300, derandomize=True, deadline=None)
@given(fleets())
def test_properties_of_every_cluster_model(fleet: DesiredState) -> None:
    model = route(fleet)
    assert set(model) == set(fleet.clusters)
    for name, routing in model.items():
        source = fleet.clusters[name]
        offered = {p.name for p in fleet.products.values() if name in p.clusters}
        assert {r.product for r in routing.routes} | {p.product for p in routing.problems if p.product} >= offered
        for r in routing.routes:
            product = fleet.products[r.product]
            entry = routing.upstream(r.upstream)
            for e in entry.endpoints:  # only gateways that may process it, never outside its zone
                assert e.cluster in product.clusters
                if product.residency:
                    assert fleet.clusters[e.cluster].residency == product.residency
            assert r.processed_here == (product.residency in (None, source.residency))
            _check_priorities(source, fleet, entry)
        for u in routing.upstreams:
            if u.role == "service":
                assert u.zone is None or all(fleet.clusters[e.cluster].residency == u.zone for e in u.endpoints)
                assert {e.cluster for e in u.endpoints} <= {
                    d.cluster for d in fleet.services[u.service or ""].deployments
                }
                _check_priorities(source, fleet, u)
            if u.role.startswith("local"):  # what others fail over to never fails over again
                assert [[e.cluster for e in level] for level in u.priorities] == [[name]]
        # every remote endpoint is answered by a failover route of its cluster, onto a local upstream there
        for u in routing.upstreams:
            for e in u.endpoints:
                if e.via_failover:
                    target = model[e.cluster]
                    [hop] = [f for f in target.failover_routes if f.authority == e.authority]
                    assert target.upstream(hop.upstream).role in ("local-service", "local-gateway")
        # the gateway serves exactly what it may process, through this cluster's internal routes
        served = {g.product for g in routing.gateway_products}
        assert served <= offered
        internal = {r.upstream for r in routing.internal_routes}
        for g in routing.gateway_products:
            for service, url in g.service_urls.items():
                upstream_name = url.removeprefix(source.internal_url + INTERNAL_PREFIX).split("/")[0]
                assert upstream_name in internal and routing.upstream(upstream_name).service == service
        assert routing.generation == fleet.generation


@settings(max_examples=100, derandomize=True, deadline=None)
@given(fleets(), st.randoms(use_true_random=False))
def test_the_model_does_not_depend_on_input_order(fleet: DesiredState, rnd: random.Random) -> None:
    def shuffled(mapping: dict[str, object]) -> dict[str, object]:
        items = list(mapping.items())
        rnd.shuffle(items)
        return dict(items)

    products = {
        k: dataclasses.replace(p, clusters=tuple(rnd.sample(p.clusters, len(p.clusters))))
        for k, p in fleet.products.items()
    }
    again = DesiredState(
        shuffled(dict(fleet.clusters)),  # type: ignore[arg-type]
        shuffled(dict(fleet.services)),  # type: ignore[arg-type]
        shuffled(products),  # type: ignore[arg-type]
        fleet.generation,
    )
    assert _comparable(route(fleet)) == _comparable(route(again))


def _comparable(model: dict[str, ClusterRouting]) -> dict[str, object]:
    return {
        name: (
            r.routes,
            r.upstreams,
            r.internal_routes,
            r.failover_routes,
            [(g.product, sorted(g.service_urls.items())) for g in r.gateway_products],
            r.problems,
        )
        for name, r in sorted(model.items())
    }
