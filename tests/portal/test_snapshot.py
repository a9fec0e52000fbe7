"""portal.snapshot: what gateways get from /api/gateway/snapshot, its ETag, and who may read it.

Driven through the real ASGI app and database; tokens are real personal access tokens.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.applications import Starlette

from portal.accounts import create_token
from portal.app import create_app
from portal.applications import IssuedCredential, create_api_key, revoke_credential
from portal.authorization import Actor
from portal.changes import ConfigChanges
from portal.db import session_scope, writer
from portal.errors import Invalid
from portal.models import (
    Lifecycle,
    Plan,
    Product,
    ProductSource,
    ProductVersion,
    Role,
    SourceKind,
    SubscriptionState,
    utcnow,
)
from portal.settings import GatewaySettings, Settings
from portal.snapshot import build_snapshot, bundle_openapi
from portal.sync.status import fleet_status
from stitcher.app import create_gateway_app
from stitcher.options import GatewayOptions, Timeouts
from stitcher.snapshot import EgressConfig, Snapshot
from stitcher.snapshot_source import SNAPSHOT_PATH, VERSION, PortalSnapshotSource
from tests._conditions import BOUND, until
from tests.factories import (
    make_application,
    make_cluster,
    make_deployment,
    make_plan,
    make_product,
    make_service,
    make_service_version,
    make_subscription,
    make_team,
    make_user,
)

SYSTEM = Actor.system("test")


@asynccontextmanager
async def running(app: Starlette, base_url: str = "http://portal.test") -> AsyncIterator[httpx.AsyncClient]:
    """``app`` started (its lifespan) and a client on it, in-process."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


@asynccontextmanager
async def portal(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings, engine=engine)) as client:
        yield client


def _token(session: Session, role: Role, team_name: str | None = None) -> str:
    team = make_team(session, team_name) if team_name else None
    user = make_user(session, role=role, team=team)
    return create_token(session, SYSTEM, user).token


@dataclass
class World:
    key: IssuedCredential
    shop: Product
    plan: Plan


def _world(session: Session) -> World:
    """One published product with a graphql and an openapi source, a draft and a retired one, a plan, an app."""
    team = make_team(session, "storefront")
    cluster = make_cluster(session, "eu-west", residency="eu")
    accounts = make_service(
        session,
        "accounts",
        team=team,
        entities={"User": {"key": "id", "operation": "user"}},
        traffic={"maxResponseBytes": 52_428_800},
    )
    make_deployment(session, accounts, cluster, address="http://127.0.0.1:7001")
    books = make_service(
        session,
        "books",
        team=team,
        protocol=SourceKind.OPENAPI,
        schema_text="openapi: 3.0.3\ninfo: {title: Books, version: '1'}\npaths: {}\n",
    )
    make_deployment(session, books, cluster, address=None, kube_service="books", kube_namespace="lib", kube_port=8080)
    shop = make_product(
        session,
        "shop",
        team=team,
        lifecycle=Lifecycle.PUBLISHED,
        sources=[accounts],
        clusters=[cluster],
        residency="eu",
    )
    assert books.id is not None
    session.add(
        ProductSource(
            product_version_id=_version_id(session, shop.id),
            service_id=books.id,
            position=1,
            transforms={"prefix": "Bk", "hide": ["Query.secret"]},
        )
    )
    make_product(session, "drafty", team=team, lifecycle=Lifecycle.DRAFT, sources=[accounts])
    make_product(session, "old", team=team, lifecycle=Lifecycle.RETIRED, sources=[accounts])
    plan = make_plan(session, "gold", requests=600, per_seconds=60, auth_kinds=["apiKey", "oauth2"], products=[shop])
    owner = make_user(session, "carl")
    application = make_application(session, "mobile", owner=owner)
    key = create_api_key(session, SYSTEM, application, name="ci")
    make_subscription(session, application, shop, plan, state=SubscriptionState.APPROVED)
    return World(key=key, shop=shop, plan=plan)


def _version_id(session: Session, product_id: int | None) -> int:
    version = session.exec(select(ProductVersion).where(ProductVersion.product_id == product_id)).one()
    assert version.id is not None
    return version.id


async def test_snapshot_serves_published_products_with_credentials_and_plans(
    settings: Settings, engine: Engine
) -> None:
    with session_scope(engine) as session:
        world = _world(session)
        token = _token(session, Role.PLATFORM_ADMIN)
    async with portal(settings, engine) as client:
        response = await client.get(SNAPSHOT_PATH, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    snapshot = Snapshot.model_validate_json(response.text)

    assert [p.name for p in snapshot.products] == ["shop"]  # not the draft, not the retired one
    shop = snapshot.products[0]
    assert (shop.version, shop.lifecycle, shop.residency) == ("1.0.0", "published", "eu")
    accounts, books = shop.sources
    assert (accounts.name, accounts.protocol, accounts.url) == ("accounts", SourceKind.GRAPHQL, "http://127.0.0.1:7001")
    assert accounts.entities["User"].operation == "user"
    assert books.url == "http://books.lib.svc.cluster.local:8080"
    # a service's own response cap (spec.traffic.maxResponseBytes); without one the gateway's applies
    assert (accounts.max_response_bytes, books.max_response_bytes) == (52_428_800, None)
    # A chosen address carries its cluster's egress policy, which the gateway enforces on every connection.
    assert accounts.egress == EgressConfig(allow_loopback=True, allowed_hosts=[])
    assert books.egress is None  # a Kubernetes Service name: the platform's, not a chosen address
    assert (books.transforms.prefix, books.transforms.hide) == ("Bk", ["Query.secret"])

    assert [(p.name, p.rate_limit and p.rate_limit.requests, p.auth) for p in snapshot.plans] == [
        ("gold", 600, ["api_key", "oauth2_client"])
    ]
    key = world.key
    [credential] = snapshot.credentials
    assert credential.application == "carl/mobile"
    assert credential.prefix == key.row.prefix
    assert credential.key_hash == key.row.secret_hash
    assert key.secret not in response.text
    assert [(s.application, s.product, s.plan, s.state) for s in snapshot.subscriptions] == [
        ("carl/mobile", "shop", "gold", "approved")
    ]
    assert snapshot.oauth is not None and snapshot.oauth.jwks_url.endswith("/.well-known/jwks.json")
    assert response.headers["etag"] == f'"{snapshot.fingerprint()}"'


async def test_etag_gives_304_until_something_relevant_changes(settings: Settings, engine: Engine) -> None:
    with session_scope(engine) as session:
        world = _world(session)
        token = _token(session, Role.PLATFORM_ADMIN)
    auth = {"authorization": f"Bearer {token}"}
    async with portal(settings, engine) as client:
        first = await client.get(SNAPSHOT_PATH, headers=auth)
        etag = first.headers["etag"]
        same = await client.get(SNAPSHOT_PATH, headers={**auth, "if-none-match": etag})
        assert same.status_code == 304 and same.content == b""

        with session_scope(engine) as session:  # a new plan limit is relevant
            plan = session.merge(world.plan)
            plan.rate_limit_requests = 10
        changed = await client.get(SNAPSHOT_PATH, headers={**auth, "if-none-match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag

        with session_scope(engine) as session:  # a new version of a service no served product uses
            other = make_service(session, "unused", team=make_team(session), schema_text=None)
            make_service_version(session, other, "type Query { x: Int }")
        unchanged = await client.get(SNAPSHOT_PATH, headers={**auth, "if-none-match": changed.headers["etag"]})
        assert unchanged.status_code == 304  # a service no served product uses is not relevant


async def test_expired_and_revoked_credentials_are_sent_as_revoked(settings: Settings, engine: Engine) -> None:
    with session_scope(engine) as session:
        world = _world(session)
        key = world.key
        row = session.merge(key.row)
        row.expires_at = utcnow() - timedelta(minutes=1)
        token = _token(session, Role.PLATFORM_ADMIN)
    async with portal(settings, engine) as client:
        response = await client.get(SNAPSHOT_PATH, headers={"authorization": f"Bearer {token}"})
    assert [c.revoked for c in Snapshot.model_validate_json(response.text).credentials] == [True]


async def test_a_credential_that_will_expire_carries_its_expiry_to_the_gateway(engine: Engine) -> None:
    """Nothing commits when a credential expires: the gateway refuses it at ``expires_at`` by its own clock."""
    from stitcher.credentials import AccessPolicy, Unauthenticated

    expiry = utcnow().replace(microsecond=0) + timedelta(days=1)
    with session_scope(engine) as session:
        world = _world(session)
        session.merge(world.key.row).expires_at = expiry
    with session_scope(engine) as session:
        snapshot = build_snapshot(session, issuer="http://portal.test")
    [credential] = snapshot.credentials
    assert (credential.revoked, credential.expires_at) == (False, expiry)
    policy = AccessPolicy(Snapshot.model_validate_json(snapshot.model_dump_json()), now=lambda: expiry)
    with pytest.raises(Unauthenticated, match="expired at"):
        await policy.authenticate({"x-api-key": world.key.secret}, "shop")


@pytest.mark.parametrize("role", [Role.TEAM_ADMIN, Role.VIEWER])
async def test_only_platform_admins_read_it(settings: Settings, engine: Engine, role: Role) -> None:
    with session_scope(engine) as session:
        token = _token(session, role, "someteam" if role is Role.TEAM_ADMIN else None)
    async with portal(settings, engine) as client:
        denied = await client.get(SNAPSHOT_PATH, headers={"authorization": f"Bearer {token}"})
        anonymous = await client.get(SNAPSHOT_PATH)
        forged = await client.get(SNAPSHOT_PATH, headers={"authorization": "Bearer lpat_nope_nope"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "FORBIDDEN"
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    assert forged.status_code == 401


def test_bundle_inlines_relative_files_once_and_keeps_recursion() -> None:
    main = """
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /a:
    get:
      responses:
        '200': {description: ok, content: {application/json: {schema: {$ref: 'schemas/node.yaml#/Node'}}}}
  /b:
    get:
      responses:
        '200': {description: ok, content: {application/json: {schema: {$ref: 'schemas/node.yaml#/Node'}}}}
components: {schemas: {Local: {type: string}}}
"""
    node = """
Node:
  type: object
  properties:
    child: {$ref: '#/Node'}
    when: {type: string, example: 2024-01-01}
    label: {$ref: 'label.yaml'}
"""
    bundled = json.loads(
        bundle_openapi(main, {"schemas/node.yaml": node, "schemas/label.yaml": "type: string\n"}, service="s")
    )
    extra = bundled["x-loom-bundled"]
    assert len(extra) == 2  # Node once (shared and recursive), label once
    ref_a = bundled["paths"]["/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    ref_b = bundled["paths"]["/b"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref_a == ref_b and ref_a.startswith("#/x-loom-bundled/")
    node_schema = extra[ref_a.rsplit("/", 1)[1]]
    assert node_schema["properties"]["child"]["$ref"] == ref_a
    assert node_schema["properties"]["when"]["example"] == "2024-01-01"
    assert extra[node_schema["properties"]["label"]["$ref"].rsplit("/", 1)[1]] == {"type": "string"}
    assert bundled["components"]["schemas"]["Local"] == {"type": "string"}


def test_bundle_names_a_missing_file() -> None:
    with pytest.raises(Invalid, match=r"'missing\.yaml', which is not among the schema's files"):
        bundle_openapi("openapi: 3.0.3\nx: {$ref: 'missing.yaml'}\n", {}, service="s")


# --- one cluster's snapshot (``loom gateway --cluster``) and gateway robots ----------------------------------------


def _fleet(session: Session) -> None:
    """us-east and us-west (residency us), eu-central (eu); members deployed in us-east and eu-central; ``lib``
    offered in us-east and eu-central, ``eu-lib`` the same but pinned to eu."""
    team = make_team(session, "library")
    proxy = {"listener": "127.0.0.1:18100", "internal": "127.0.0.1:18101", "admin": "127.0.0.1:18102"}
    gloo = {"target": "local-envoy", "namespace": "gloo-system", "failoverGateway": {"host": "127.0.0.11", "port": 1}}
    us_east = make_cluster(session, "us-east", residency="us", region="us-east-1", gloo={**gloo, "proxy": proxy})
    make_cluster(session, "us-west", residency="us", region="us-west-2", gloo=gloo)
    eu = make_cluster(session, "eu-central", residency="eu", region="eu-central-1", gloo=gloo)
    members = make_service(session, "members", team=team)
    make_deployment(session, members, us_east, address="http://127.0.0.1:7301")
    make_deployment(session, members, eu, address="http://127.0.0.1:7302")
    for name, residency in (("lib", None), ("eu-lib", "eu")):
        make_product(
            session,
            name,
            team=team,
            lifecycle=Lifecycle.PUBLISHED,
            sources=[members],
            clusters=[us_east, eu],
            residency=residency,
        )


async def test_a_clusters_snapshot_holds_what_it_processes_through_its_own_envoy(
    settings: Settings, engine: Engine
) -> None:
    with session_scope(engine) as session:
        _fleet(session)
        token = _token(session, Role.PLATFORM_ADMIN)
    auth = {"authorization": f"Bearer {token}"}
    async with portal(settings, engine) as client:
        east = Snapshot.model_validate_json(
            (await client.get(SNAPSHOT_PATH, params={"cluster": "us-east"}, headers=auth)).text
        )
        west = Snapshot.model_validate_json(
            (await client.get(SNAPSHOT_PATH, params={"cluster": "us-west"}, headers=auth)).text
        )
        fleet = Snapshot.model_validate_json((await client.get(SNAPSHOT_PATH, headers=auth)).text)
        unknown = await client.get(SNAPSHOT_PATH, params={"cluster": "mars"}, headers=auth)

    assert east.cluster == "us-east" and [p.name for p in east.products] == ["lib"]
    (source,) = east.products[0].sources
    # Not the deployment's address: the cluster's Envoy internal listener, whose upstream fails over in Envoy.
    assert source.url == "http://127.0.0.1:18101/_loom/upstreams/loom-svc-members"
    assert source.egress is None  # the cluster's own Envoy is the platform's address; apply checked the deployment's
    assert set(east.elsewhere) == {"eu-lib"} and "residency zone 'eu'" in east.elsewhere["eu-lib"]
    assert west.products == [] and "not offered in cluster 'us-west'" in west.elsewhere["lib"]
    assert fleet.cluster is None and fleet.elsewhere == {} and {p.name for p in fleet.products} == {"lib", "eu-lib"}
    assert unknown.status_code == 404 and "cluster 'mars' does not exist" in unknown.text


async def test_a_gateway_robot_reads_its_own_clusters_snapshot_and_nothing_else(
    settings: Settings, engine: Engine
) -> None:
    from portal.robots import create_gateway_robot

    with session_scope(engine) as session:
        _fleet(session)
        robot = create_gateway_robot(session, SYSTEM, "gw-east", ["us-east"]).token
    auth = {"authorization": f"Bearer {robot}"}
    async with portal(settings, engine) as client:
        own = await client.get(SNAPSHOT_PATH, params={"cluster": "us-east"}, headers=auth)
        other = await client.get(SNAPSHOT_PATH, params={"cluster": "eu-central"}, headers=auth)
        whole = await client.get(SNAPSHOT_PATH, headers=auth)
        catalog = await client.post("/api/graphql", json={"query": "{ products { name } }"}, headers=auth)
    assert own.status_code == 200 and Snapshot.model_validate_json(own.text).cluster == "us-east"
    assert other.status_code == 403 and "gateway robot 'gw-east'" in other.text
    with session_scope(engine) as session:  # the read was the gateway checking in; the refused ones were not
        [east] = fleet_status(session, cluster="us-east")
        assert [(g.gateway, g.snapshot_etag) for g in east.gateways] == [("gw-east", own.headers["etag"])]
        assert east.gateways[0].version == "unknown"  # httpx's User-Agent, not a Loom gateway's
        assert fleet_status(session, cluster="eu-central")[0].gateways == ()
    assert whole.status_code == 403 and "?cluster=" in whole.text
    assert catalog.status_code == 403 and "may only read its clusters' gateway snapshot" in catalog.text


async def test_the_embedded_gateway_reads_a_clusters_view_straight_from_the_database(engine: Engine) -> None:
    """``loom serve`` with LOOM_GATEWAY_CLUSTER: the same cluster view as ``loom gateway --cluster``."""
    from portal.snapshot import LocalSnapshotSource

    with session_scope(engine) as session:
        _fleet(session)
    source = LocalSnapshotSource(engine, "http://portal.test", cluster="us-east")
    snapshot = await source.fetch()
    assert snapshot is not None and snapshot.cluster == "us-east"
    assert [p.name for p in snapshot.products] == ["lib"] and set(snapshot.elsewhere) == {"eu-lib"}
    assert await source.fetch() is None  # unchanged
    with session_scope(engine) as session:
        [seen] = fleet_status(session, cluster="us-east")[0].gateways
    assert (seen.gateway, seen.version, seen.snapshot_etag) == ("embedded", VERSION, f'"{snapshot.fingerprint()}"')


async def test_a_polling_gateway_checks_in_with_its_version_and_the_snapshot_it_holds(
    settings: Settings, engine: Engine
) -> None:
    """The gateway's own snapshot client (``loom gateway --cluster``) against the real portal app: the fleet status
    then names the gateway, the version it runs and the snapshot it holds, which changes when the config does."""
    from portal.robots import create_gateway_robot

    with session_scope(engine) as session:
        _fleet(session)
        robot = create_gateway_robot(session, SYSTEM, "gw-east", ["us-east"]).token
    async with portal(settings, engine) as client:
        source = PortalSnapshotSource("http://portal.test", robot, http=client, cluster="us-east")
        first = await source.fetch()
        assert first is not None
        with session_scope(engine) as session:
            [seen] = fleet_status(session, cluster="us-east")[0].gateways
        assert (seen.gateway, seen.version, seen.snapshot_etag) == ("gw-east", VERSION, f'"{first.fingerprint()}"')
        with session_scope(engine) as session:
            make_plan(session, "silver")  # every gateway's snapshot carries every plan
        second = await source.fetch()
        assert second is not None and second.fingerprint() != first.fingerprint()
        with session_scope(engine) as session:
            [seen] = fleet_status(session, cluster="us-east")[0].gateways
        assert seen.snapshot_etag == f'"{second.fingerprint()}"'


async def test_a_key_without_a_subscription_is_told_to_subscribe_not_called_unknown(engine: Engine) -> None:
    """Issue 6: a valid key whose application has no subscription got 401 'unknown API key' (its credential was left
    out of the snapshot); it gets 403 naming the product and how to subscribe."""
    from stitcher.credentials import AccessPolicy, NotSubscribed

    with session_scope(engine) as session:
        world = _world(session)
        loner = make_application(session, "loner", owner=make_user(session, "lena"))
        key = create_api_key(session, SYSTEM, loner, name="ci")
        snapshot = build_snapshot(session, issuer="http://portal.test")
    assert "lena/loner" in {c.application for c in snapshot.credentials}
    policy = AccessPolicy(snapshot, None)
    with pytest.raises(NotSubscribed, match=r"no approved subscription to product 'shop'.*request one"):
        await policy.authenticate({"x-api-key": key.secret}, "shop")
    assert (await policy.authenticate({"x-api-key": world.key.secret}, "shop")).application == "carl/mobile"


# --- watching: a gateway learns of a change as it commits -------------------------------------------------------


def _revoke(engine: Engine, key: IssuedCredential) -> None:
    assert key.row.id is not None
    with session_scope(writer(engine)) as session:  # it reads, then writes, beside the app's own writes
        revoke_credential(session, SYSTEM, key.row.id)


def _no_recheck(settings: Settings) -> Settings:
    """Settings whose watches never rebuild on their own (an hour): only a heard change can answer them."""
    return settings.model_copy(update={"gateway": GatewaySettings(poll_interval_seconds=3600)})


@dataclass
class Watched:
    changes: ConfigChanges
    client: httpx.AsyncClient
    held: dict[str, str]  # a platform admin's token and If-None-Match: the snapshot as it is now
    etag: str
    world: World
    registry: CollectorRegistry

    def builds(self, cluster: str) -> float:
        """Snapshots of ``cluster``'s view the portal built (its metric)."""
        return self.registry.get_sample_value("loom_portal_snapshot_builds_total", {"cluster": cluster}) or 0.0


@asynccontextmanager
async def watched_portal(settings: Settings, engine: Engine) -> AsyncIterator[Watched]:
    """The portal app over ``_world``, whose watches only a heard change can answer (rebuilds an hour apart)."""
    with session_scope(engine) as session:
        world = _world(session)
        token = _token(session, Role.PLATFORM_ADMIN)
    auth = {"authorization": f"Bearer {token}"}
    app = create_app(_no_recheck(settings), engine=engine)
    async with running(app) as client:
        etag = (await client.get(SNAPSHOT_PATH, headers=auth)).headers["etag"]
        yield Watched(
            app.state.changes, client, {**auth, "if-none-match": etag}, etag, world, app.state.metrics.registry
        )


async def test_a_watch_is_answered_as_a_revocation_commits(settings: Settings, engine: Engine) -> None:
    async with watched_portal(settings, engine) as portal:
        watch = asyncio.ensure_future(portal.client.get(SNAPSHOT_PATH, params={"wait": "60"}, headers=portal.held))
        await until(lambda: portal.changes.waiting == 1)  # held, unchanged
        _revoke(engine, portal.world.key)
        answer = await asyncio.wait_for(watch, BOUND)  # the wait is 60 s: only a heard change answers sooner
    assert answer.status_code == 200 and answer.headers["etag"] != portal.etag
    assert [c.revoked for c in Snapshot.model_validate_json(answer.text).credentials] == [True]


async def test_the_watches_of_one_cluster_share_one_build_per_change(settings: Settings, engine: Engine) -> None:
    """Five gateways of a cluster woken by one change cost one snapshot build, not five (a fleet of many replicas
    per cluster would otherwise rebuild once per replica at every change)."""
    async with watched_portal(settings, engine) as portal:
        auth = {"authorization": portal.held["authorization"]}
        params = {"cluster": "eu-west"}
        etag = (await portal.client.get(SNAPSHOT_PATH, params=params, headers=auth)).headers["etag"]
        held = {**auth, "if-none-match": etag}
        watches = [
            asyncio.ensure_future(portal.client.get(SNAPSHOT_PATH, params={**params, "wait": "60"}, headers=held))
            for _ in range(5)
        ]
        await until(lambda: portal.changes.waiting == 5)
        builds = portal.builds("eu-west")
        _revoke(engine, portal.world.key)
        answers = await asyncio.wait_for(asyncio.gather(*watches), BOUND)
        assert {(a.status_code, a.headers["etag"]) for a in answers} == {(200, answers[0].headers["etag"])}
        assert answers[0].headers["etag"] != etag
        assert portal.builds("eu-west") == builds + 1


async def test_a_watch_answers_304_when_its_time_is_up_or_the_server_stops(settings: Settings, engine: Engine) -> None:
    async with watched_portal(settings, engine) as portal:
        client, held = portal.client, portal.held
        assert (await client.get(SNAPSHOT_PATH, params={"wait": "0.01"}, headers=held)).status_code == 304
        watch = asyncio.ensure_future(client.get(SNAPSHOT_PATH, params={"wait": "60"}, headers=held))
        await until(lambda: portal.changes.waiting == 1)
        portal.changes.stop_waiting()  # what `loom serve` calls as its graceful shutdown begins
        stopped = await watch
        assert (stopped.status_code, stopped.headers["etag"]) == (304, portal.etag)
        for wrong in ("61", "-1", "soon", "nan"):
            refused = await client.get(SNAPSHOT_PATH, params={"wait": wrong}, headers=held)
            assert refused.status_code == 400 and "wait must be a number of seconds from 0 to 60" in refused.text


async def test_a_held_watch_is_counted_apart_and_left_out_of_request_durations(
    settings: Settings, engine: Engine
) -> None:
    """A watch held for its whole wait is a gateway waiting for a change, not a slow answer: the portal's request
    durations leave the waiting out (a dashboard of the portal's p99 read ~10 s for this route), a counter adds it
    up and a gauge shows the watches held now."""
    route = {"method": "GET", "route": SNAPSHOT_PATH}
    async with watched_portal(settings, engine) as portal:
        client, held, registry = portal.client, portal.held, portal.registry
        before = registry.get_sample_value("loom_portal_http_request_duration_seconds_sum", route) or 0.0
        started = time.perf_counter()
        assert (await client.get(SNAPSHOT_PATH, params={"wait": "0.5"}, headers=held)).status_code == 304
        watch = asyncio.ensure_future(client.get(SNAPSHOT_PATH, params={"wait": "60"}, headers=held))
        await until(lambda: registry.get_sample_value("loom_portal_snapshot_watches") == 1)
        portal.changes.stop_waiting()  # (after which no watch is held: the server is stopping)
        assert (await watch).status_code == 304
        elapsed = time.perf_counter() - started
        assert registry.get_sample_value("loom_portal_snapshot_watches") == 0
    waited = registry.get_sample_value("loom_portal_snapshot_watch_held_seconds_total")
    durations = registry.get_sample_value("loom_portal_http_request_duration_seconds_sum", route)
    assert waited is not None and durations is not None
    assert waited >= 0.45  # the first watch waited out its half second (the second one, until it was stopped)
    # The two answers' durations lie inside the test's own clock; counted with their waiting they would not fit.
    assert durations - before <= elapsed - waited


async def test_a_gateway_refuses_a_revoked_key_without_waiting_for_a_poll(settings: Settings, engine: Engine) -> None:
    """The gateway's own snapshot client watching the real portal app: polls an hour apart, yet a revoked key is
    refused as soon as the revocation commits (it used to pass until the next poll, up to 2 s)."""
    with session_scope(engine) as session:
        team = make_team(session)
        greeter = make_service(session, "greeter", team=team, schema_text="type Query { hello: String }")
        make_deployment(session, greeter, make_cluster(session), address="http://127.0.0.1:9")
        product = make_product(session, "shop", team=team, lifecycle=Lifecycle.PUBLISHED, sources=[greeter])
        application = make_application(session, owner=make_user(session, "carl"))
        issued = create_api_key(session, SYSTEM, application)
        plan = make_plan(session, products=[product])
        make_subscription(session, application, product, plan, state=SubscriptionState.APPROVED)
        token = _token(session, Role.PLATFORM_ADMIN)
    portal_app = create_app(_no_recheck(settings), engine=engine)
    options = GatewayOptions(timeouts=Timeouts(poll_interval_seconds=3600, watch_seconds=60))
    query = {"query": "{ __typename }"}
    key = {"x-api-key": issued.secret}
    async with running(portal_app) as to_portal:
        gateway_app = create_gateway_app(source=PortalSnapshotSource("http://portal.test", token, http=to_portal),
                                         options=options)  # fmt: skip
        async with running(gateway_app, "http://gw.test") as client:
            await until(lambda: gateway_app.state.gateway.ready and portal_app.state.changes.waiting == 1)
            served = await client.post("/products/shop/graphql", json=query, headers=key)
            assert served.json() == {"data": {"__typename": "Query"}}, served.text
            gateway = gateway_app.state.gateway
            before = gateway.served.fingerprint
            _revoke(engine, issued)
            await until(lambda: gateway.served.fingerprint != before)  # the watch brought the new snapshot
            refused = await client.post("/products/shop/graphql", json=query, headers=key)
    assert refused.status_code == 401 and "revoked" in refused.text, refused.text


async def test_the_embedded_gateways_source_waits_for_a_change(engine: Engine) -> None:
    from portal.snapshot import LocalSnapshotSource

    with session_scope(engine) as session:
        world = _world(session)
    changes = ConfigChanges()
    await changes.start(engine)
    try:
        source = LocalSnapshotSource(engine, "http://portal.test", changes=changes, recheck=3600)
        assert await source.fetch() is not None
        assert await source.fetch(wait=0.01) is None  # unchanged when the time is up
        watch = asyncio.ensure_future(source.fetch(wait=60))
        await until(lambda: changes.waiting == 1)
        _revoke(engine, world.key)
        snapshot = await asyncio.wait_for(watch, BOUND)  # the wait is 60 s: only a heard change answers sooner
    finally:
        await changes.aclose()
    assert snapshot is not None and [c.revoked for c in snapshot.credentials] == [True]
