"""The desired-state reader: what the portal's database holds, as the routing model's input."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from portal.db import session_scope
from portal.manifests import load_documents
from portal.models import Cluster, Service
from portal.sync.desired import GatewayLocation, HostPort, ProxySpec, duration_ms, traffic_policy
from portal.sync.model import route
from portal.sync.reading import from_session
from tests.portal._apply import LIBRARY, run


def test_the_library_example_reads_as_the_routing_model_s_input(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))
    with session_scope(engine) as session:
        desired = from_session(session)
    assert set(desired.clusters) == {"us-east", "us-west", "eu-central"}
    east = desired.clusters["us-east"]
    assert (east.region, east.zone, east.residency, east.target) == ("us-east-1", "us-east-1a", "us", "gitops")
    assert east.failover_gateway == HostPort("127.0.0.11", 15443)
    assert east.gateway == GatewayLocation()  # not given: the Kubernetes defaults
    assert {d.cluster for d in desired.services["members"].deployments} == {"us-east", "us-west", "eu-central"}
    loans = {d.cluster: d for d in desired.services["loans"].deployments}
    assert (loans["eu-central"].kube_service, loans["eu-central"].kube_port) == ("loans", 8080)
    assert desired.products["library-eu"].residency == "eu"
    assert desired.products["library"].services == ("members", "loans", "catalog")
    assert desired.products["library"].clusters == ("us-east", "us-west", "eu-central")
    assert desired.generation > 0
    # the example routes without problems
    assert all(not model.problems for model in route(desired).values())


def test_a_draft_product_is_not_routed_and_cluster_and_traffic_settings_are_read(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))
    with session_scope(engine) as session:
        cluster = session.exec(select(Cluster).where(Cluster.name == "us-west")).one()
        cluster.gloo = {
            **cluster.gloo,
            "target": "local-envoy",
            "proxy": {"listener": "127.0.0.1:18000", "internal": "127.0.0.1:18001", "admin": "127.0.0.1:18002"},
        }
        cluster.gateway = {"address": "http://127.0.0.1:4102"}
        service = session.exec(select(Service).where(Service.name == "members")).one()
        service.traffic = {"connectTimeout": "1s", "retries": {"perTryTimeout": "100ms", "attempts": 2}}
    with session_scope(engine) as session:
        desired = from_session(session)
    west = desired.clusters["us-west"]
    assert west.target == "local-envoy"
    assert west.proxy == ProxySpec(
        HostPort("127.0.0.1", 18000), HostPort("127.0.0.1", 18001), HostPort("127.0.0.1", 18002)
    )
    assert west.internal_url == "http://127.0.0.1:18001"
    assert west.gateway.endpoint == (HostPort("127.0.0.1", 4102), False)
    traffic = desired.services["members"].traffic
    assert (traffic.connect_timeout_ms, traffic.retries.per_try_timeout_ms, traffic.retries.num_retries) == (
        1000,
        100,
        2,
    )
    assert traffic.health_check == traffic_policy(None).health_check


@pytest.mark.parametrize(("text", "ms"), [("250ms", 250), ("1s", 1000), ("1.5s", 1500), ("2m", 120_000), (30, 30)])
def test_durations_read_as_milliseconds(text: str | int, ms: int) -> None:
    assert duration_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "1h", "fast", "-1s", "1 s s"])
def test_a_bad_duration_says_how_to_write_one(bad: str) -> None:
    with pytest.raises(ValueError, match="250ms, 1s or 2m"):
        duration_ms(bad)
