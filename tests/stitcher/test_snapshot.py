"""The config snapshot: JSON round trip, conversion to SourceSpec, fingerprints; polling it from the portal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stitcher.ir import SourceKind
from stitcher.snapshot import (
    CredentialConfig,
    EntityConfigModel,
    PlanConfig,
    ProductConfig,
    RateLimitConfig,
    RestRoute,
    Snapshot,
    SourceConfig,
    SubscriptionConfig,
    TransformsConfig,
)
from stitcher.snapshot_source import SNAPSHOT_PATH, PortalSnapshotSource, SnapshotError


def _snapshot() -> Snapshot:
    source = SourceConfig(
        name="inventory",
        protocol=SourceKind.OPENAPI,
        schema_text="openapi: 3.1.0",
        url="http://127.0.0.1:9/",
        entities={"Product": EntityConfigModel(key="id", operation="getProducts", batched=True)},
        transforms=TransformsConfig(prefix="Inv", rename_fields={"Item.sku": "code"}, hide=["Item.secret"]),
    )
    return Snapshot(
        products=[ProductConfig(name="shop", sources=[source], rest=[RestRoute(path="/x/{id}", operation="{a}")])],
        plans=[PlanConfig(name="gold", rate_limit=RateLimitConfig(requests=5, window_seconds=60))],
        credentials=[CredentialConfig(id="c1", application="app", kind="api_key", prefix="abcd1234", key_hash="h")],
        subscriptions=[SubscriptionConfig(application="app", product="shop", plan="gold")],
    )


def test_round_trips_through_json() -> None:
    snapshot = _snapshot()
    again = Snapshot.model_validate_json(snapshot.model_dump_json())
    assert again == snapshot
    assert again.fingerprint() == snapshot.fingerprint()


def test_fingerprint_ignores_generated_at_but_not_content() -> None:
    snapshot = _snapshot()
    later = snapshot.model_copy(update={"generated_at": snapshot.generated_at.replace(year=2030)})
    assert later.fingerprint() == snapshot.fingerprint()
    fewer = snapshot.model_copy(update={"plans": []})
    assert fewer.fingerprint() != snapshot.fingerprint()


def test_unknown_fields_from_a_newer_portal_are_ignored() -> None:
    data = _snapshot().model_dump(mode="json")
    data["future"] = {"x": 1}
    data["products"][0]["future_field"] = True
    assert Snapshot.model_validate(data).products[0].name == "shop"


def test_source_converts_to_source_spec() -> None:
    spec = _snapshot().products[0].source_specs()[0]
    assert spec.name == "inventory"
    assert spec.protocol is SourceKind.OPENAPI
    assert spec.schema == "openapi: 3.1.0"
    assert spec.url == "http://127.0.0.1:9/"
    assert spec.entities["Product"].operation == "getProducts"
    assert spec.entities["Product"].batched is True
    assert spec.transforms.prefix == "Inv"
    assert spec.transforms.rename_fields == {"Item.sku": "code"}
    assert spec.transforms.hide == ("Item.secret",)
    assert spec.base_path is None


class StubPortal:
    """The portal's snapshot endpoint (bearer token, ETag, 304), served through ``httpx.ASGITransport``."""

    def __init__(self, snapshot: Snapshot, token: str = "gw-token") -> None:
        self.snapshot = snapshot
        self.token = token
        self.body: bytes | None = None  # overrides the snapshot (garbage tests)
        self.requests = 0

        async def endpoint(request: Request) -> Response:
            self.requests += 1
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Response(status_code=401)
            etag = f'"{self.snapshot.fingerprint()}"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304)
            body = self.body if self.body is not None else self.snapshot.model_dump_json().encode()
            return Response(body, media_type="application/json", headers={"etag": etag})

        self.app = Starlette(routes=[Route(SNAPSHOT_PATH, endpoint)])


async def test_portal_source_polls_with_etag_and_keeps_the_last_good_snapshot(tmp_path: Path) -> None:
    portal = StubPortal(_snapshot())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=portal.app)) as http:
        source = PortalSnapshotSource("http://portal.test/", "gw-token", cache_dir=tmp_path / "cache", http=http)
        assert source.load_cached() is None
        first = await source.fetch()
        assert first is not None and first.products[0].name == "shop"
        assert await source.fetch() is None  # 304
        source.store(first)

        portal.snapshot = first.model_copy(update={"plans": []})
        changed = await source.fetch()
        assert changed is not None and changed.plans == []

        # A restart: a new source reads the last stored snapshot and revalidates it with its ETag.
        restarted = PortalSnapshotSource("http://portal.test", "gw-token", cache_dir=tmp_path / "cache", http=http)
        cached = restarted.load_cached()
        assert cached == first
        fresh = await restarted.fetch()
        assert fresh is not None and fresh.plans == []  # the portal moved on, so no 304


async def test_portal_source_reports_refusals_and_garbage(tmp_path: Path) -> None:
    portal = StubPortal(_snapshot())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=portal.app)) as http:
        wrong = PortalSnapshotSource("http://portal.test", "nope", http=http)
        with pytest.raises(SnapshotError, match=r"refused the gateway's token \(HTTP 401\).*--token"):
            await wrong.fetch()
        portal.body = b'{"products": 3}'
        source = PortalSnapshotSource("http://portal.test", "gw-token", http=http)
        with pytest.raises(SnapshotError, match="cannot read"):
            await source.fetch()
    down = PortalSnapshotSource("http://127.0.0.1:1", "gw-token")
    try:
        with pytest.raises(SnapshotError, match="cannot reach the portal"):
            await down.fetch()
    finally:
        await down.aclose()
    (tmp_path / "snapshot.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="unreadable"):
        PortalSnapshotSource("http://portal.test", "t", cache_dir=tmp_path).load_cached()
