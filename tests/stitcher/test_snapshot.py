"""The config snapshot: JSON round trip, conversion to SourceSpec, fingerprints."""

from __future__ import annotations

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
