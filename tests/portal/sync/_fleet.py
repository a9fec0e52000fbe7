"""Small desired states for the sync tests: a fixed four-cluster fleet and a hypothesis strategy of fleets."""

from __future__ import annotations

from hypothesis import strategies as st

from portal.sync.desired import (
    ClusterSpec,
    DeploymentSpec,
    DesiredState,
    GatewayLocation,
    HostPort,
    ProductSpec,
    ProxySpec,
    ServiceSpec,
)

REGIONS = ["r1", "r2", "r3"]
RESIDENCIES = ["us", "eu"]


def cluster(name: str, region: str, zone: str, residency: str, n: int, *, failover: bool = True) -> ClusterSpec:
    """A local-envoy cluster numbered ``n``: its Envoy on 180n0-180n2, its failover gateway on 127.0.0.(10+n)."""
    return ClusterSpec(
        name=name,
        region=region,
        zone=zone,
        residency=residency,
        target="local-envoy",
        failover_gateway=HostPort(f"127.0.0.{10 + n}", 15443) if failover else None,
        gateway=GatewayLocation(address=f"http://127.0.0.1:{4100 + n}"),
        proxy=ProxySpec(
            listener=HostPort("127.0.0.1", 18000 + 10 * n),
            internal=HostPort("127.0.0.1", 18001 + 10 * n),
            admin=HostPort("127.0.0.1", 18002 + 10 * n),
        ),
    )


def deployment(cluster: str, port: int, path: str = "") -> DeploymentSpec:
    return DeploymentSpec(cluster=cluster, address=f"http://127.0.0.1:{port}{path}", health_path="/healthz")


FLEET = {
    c.name: c
    for c in (
        cluster("us-east", "us-east-1", "us-east-1a", "us", 1),
        cluster("us-east-b", "us-east-1", "us-east-1b", "us", 2),
        cluster("us-west", "us-west-2", "us-west-2a", "us", 3),
        cluster("eu-central", "eu-central-1", "eu-central-1a", "eu", 4),
    )
}
SERVICES = {
    "members": ServiceSpec(
        "members",
        (
            deployment("us-east", 7301),
            deployment("us-east-b", 7302),
            deployment("us-west", 7303),
            deployment("eu-central", 7304),
        ),
    ),
    "catalog": ServiceSpec("catalog", (deployment("us-west", 7321, "/api"), deployment("eu-central", 7324, "/api"))),
}


def state(*products: ProductSpec, clusters: dict[str, ClusterSpec] | None = None) -> DesiredState:
    return DesiredState(clusters or FLEET, SERVICES, {p.name: p for p in products}, generation=7)


@st.composite
def fleets(draw: st.DrawFn, *, healthy: bool = False) -> DesiredState:
    """Random fleets; ``healthy``: every service is deployed in every residency zone a product is pinned to, so
    the model has no problems."""
    n_clusters = draw(st.integers(1, 6))
    clusters = {}
    for i in range(n_clusters):
        region = draw(st.sampled_from(REGIONS))
        zone = f"{region}{draw(st.sampled_from('ab'))}"
        clusters[f"c{i}"] = cluster(f"c{i}", region, zone, draw(st.sampled_from(RESIDENCIES)), i)
    cluster_names = sorted(clusters)
    services = {}
    for j in range(draw(st.integers(1, 4))):
        where = cluster_names if healthy else draw(st.lists(st.sampled_from(cluster_names), min_size=1, unique=True))
        services[f"s{j}"] = ServiceSpec(f"s{j}", tuple(deployment(c, 7000 + 10 * j + int(c[1:])) for c in where))
    products = {}
    for k in range(draw(st.integers(1, 5))):
        used = draw(st.lists(st.sampled_from(sorted(services)), min_size=1, max_size=3, unique=True))
        offered = draw(st.lists(st.sampled_from(cluster_names), min_size=1, unique=True))
        residencies = sorted({clusters[c].residency for c in offered}) if healthy else RESIDENCIES
        residency = draw(st.sampled_from([None, *residencies]))
        products[f"p{k}"] = ProductSpec(f"p{k}", tuple(used), tuple(offered), residency)
    return DesiredState(clusters, services, products, generation=draw(st.integers(0, 9)))
