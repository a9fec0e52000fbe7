"""Product resources: semver versions with a lifecycle, their sources (services and transforms), how they are
stitched (``prefer``, ``links``), REST routes, routing (clusters, residency) and the plans they offer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from sqlmodel import Session, col, select

from portal import manifests as m
from portal.authorization import Actor
from portal.models import (
    Lifecycle,
    Plan,
    Product,
    ProductPlan,
    ProductSource,
    ProductVersion,
    Subscription,
    SubscriptionState,
    utcnow,
)
from portal.resources.change import Change
from portal.resources.handler import Names, Pending
from portal.resources.world import World, missing

__all__ = ["ProductHandler", "current_version", "source_dict", "sources_of"]

# Lifecycle moves a version may make; anything else is refused (a retired version stays retired).
_LIFECYCLE: dict[str, frozenset[str]] = {
    "draft": frozenset({"draft", "published", "retired"}),
    "published": frozenset({"published", "deprecated", "retired"}),
    "deprecated": frozenset({"deprecated", "published", "retired"}),
    "retired": frozenset({"retired"}),
}
# What a published version keeps, said in words.
_FIXED_WHAT = {"sources": "sources", "rest": "REST routes", "stitching": "prefer and links"}


def current_version(session: Session, row: Product) -> ProductVersion | None:
    """The product's current version row (None before the first)."""
    if row.current_version is None:
        return None
    return session.exec(
        select(ProductVersion).where(ProductVersion.product_id == row.id, ProductVersion.version == row.current_version)
    ).first()


def sources_of(
    session: Session, version: ProductVersion, service_names: Mapping[int | None, str]
) -> list[dict[str, Any]]:
    """A version's sources in their resource shape (``{"service": name, **transforms}``), in order."""
    rows = session.exec(
        select(ProductSource)
        .where(ProductSource.product_version_id == version.id)
        .order_by(col(ProductSource.position))
    ).all()
    return [{"service": service_names[r.service_id], **r.transforms} for r in rows]


def _plans_of(session: Session, row: Product) -> list[str]:
    names = session.exec(
        select(Plan.name)
        .join(ProductPlan, col(ProductPlan.plan_id) == col(Plan.id))
        .where(ProductPlan.product_id == row.id)
    ).all()
    return sorted(names)


def _transforms(source: m.SourceRef) -> dict[str, Any]:
    return source.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True, exclude={"service"})


def source_dict(source: m.SourceRef) -> dict[str, Any]:
    """A source in its stored shape."""
    return {"service": source.service, **_transforms(source)}


def _version_values(resource: m.Product) -> dict[str, Any]:
    spec = resource.spec
    return {
        "routing": {"clusters": list(spec.routing.clusters), "residency": spec.routing.residency},
        "rest": [r.model_dump(mode="json", by_alias=True) for r in spec.rest],
        "sources": [source_dict(s) for s in spec.sources],
        "stitching": spec.stitching(),
    }


def _version_key(version: str) -> tuple[int, int, int, int, str]:
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)(?:-([^+]+))?", version)
    if match is None:
        return (0, 0, 0, 0, version)
    major, minor, patch, pre = match.groups()
    # A release sorts after its pre-releases.
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def check_stitching_names(doc: m.Document) -> None:
    """A Product's ``prefer`` and ``links`` name sources of the product, and no field is linked twice (what needs no
    schema; the composition checks the rest): ``apply`` and the composer's preview refuse alike."""
    resource = doc.resource
    assert isinstance(resource, m.Product)
    spec = resource.spec
    sources = [ref.service for ref in spec.sources]
    listed = ", ".join(sources)
    for type_name, service in spec.prefer.items():
        if service not in sources:
            raise doc.error(f"spec.prefer.{type_name}", f"{service!r} is not a source of this product ({listed})")
    linked: set[tuple[str, str]] = set()
    for i, link in enumerate(spec.links):
        if link.service not in sources:
            raise doc.error(f"spec.links[{i}].service", f"{link.service!r} is not a source of this product ({listed})")
        if (link.type, link.field) in linked:
            raise doc.error(f"spec.links[{i}].field", f"{link.type}.{link.field} is linked twice")
        linked.add((link.type, link.field))


class ProductHandler:
    kind: ClassVar[str] = "Product"
    action: ClassVar[str] = "product.apply"
    row_type: ClassVar[type[Any]] = Product

    def read(self, session: Session, row: Any, names: Names) -> m.Resource | None:
        assert isinstance(row, Product)
        version = current_version(session, row)
        if version is None:
            return None
        return m.Product.model_validate(
            {
                "apiVersion": m.API_VERSION,
                "kind": "Product",
                "metadata": {
                    "name": row.name,
                    "team": names.teams[row.team_id],
                    "description": row.description or None,
                    "displayName": row.display_name or None,
                    "tags": list(row.tags),
                },
                "spec": {
                    "version": version.version,
                    "lifecycle": version.lifecycle.value,
                    "sources": sources_of(session, version, names.services),
                    "rest": list(version.rest),
                    "routing": {
                        "clusters": list(version.routing.get("clusters", [])),
                        "residency": version.routing.get("residency"),
                    },
                    "plans": _plans_of(session, row),
                    **dict(version.stitching or {}),
                },
            }
        )

    def check(self, session: Session, world: World, doc: m.Document) -> Pending:
        resource = doc.resource
        assert isinstance(resource, m.Product)
        spec = resource.spec
        team = resource.metadata.team
        if not world.has("Team", team):
            raise doc.error("metadata.team", missing("Team", team, world.teams))
        for i, source in enumerate(spec.sources):
            if not world.has("Service", source.service):
                raise doc.error(f"spec.sources[{i}].service", missing("Service", source.service, world.services))
        check_stitching_names(doc)
        for i, plan in enumerate(spec.plans):
            if not world.has("Plan", plan):
                raise doc.error(f"spec.plans[{i}]", missing("Plan", plan, world.plans))
        residencies = world.residencies()
        for i, cluster in enumerate(spec.routing.clusters):
            if cluster not in residencies:
                raise doc.error(f"spec.routing.clusters[{i}]", missing("Cluster", cluster, world.clusters))
        residency = spec.routing.residency
        if residency is not None and residency not in residencies.values():
            zones = ", ".join(sorted(set(residencies.values()))) or "none"
            raise doc.error(
                "spec.routing.residency",
                f"no cluster has residency {residency!r} (residencies of the clusters: {zones}); a product's data "
                "must be processed somewhere in its zone",
            )
        row = world.products.get(doc.name)
        if row is not None and world.team_names.get(row.team_id) != team:
            raise doc.error(
                "metadata.team",
                f"product {doc.name!r} belongs to team {world.team_names.get(row.team_id)!r}; a product cannot move "
                "between teams",
            )
        if row is None:
            return Pending(doc, Change("Product", doc.name, "created", (f"version {spec.version}",)))
        return Pending(doc, self._changes(session, world, doc, resource, row))

    def _changes(self, session: Session, world: World, doc: m.Document, resource: m.Product, row: Product) -> Change:
        spec = resource.spec
        versions = session.exec(select(ProductVersion).where(ProductVersion.product_id == row.id)).all()
        same = next((v for v in versions if v.version == spec.version), None)
        changed: list[str] = []
        if same is None:
            newest = max((v.version for v in versions), key=_version_key, default=None)
            if newest is not None and _version_key(spec.version) <= _version_key(newest):
                raise doc.error(
                    "spec.version",
                    f"version {spec.version} is older than the newest version {newest}; use a newer one",
                )
            changed.append(f"version {spec.version}")
        else:
            old = same.lifecycle.value
            if spec.lifecycle not in _LIFECYCLE[old]:
                allowed = ", ".join(sorted(_LIFECYCLE[old]))
                raise doc.error(
                    "spec.lifecycle",
                    f"version {spec.version} is {old} and cannot become {spec.lifecycle} (allowed: {allowed}); "
                    "publish a new version instead",
                )
            if spec.lifecycle != old:
                changed.append(f"lifecycle {old} -> {spec.lifecycle}")
            service_names = {s.id: n for n, s in world.services.items()}
            current: dict[str, Any] = {
                "routing": {
                    "clusters": list(same.routing.get("clusters", [])),
                    "residency": same.routing.get("residency"),
                },
                "rest": list(same.rest),
                "sources": sources_of(session, same, service_names),
                "stitching": dict(same.stitching or {}),
            }
            desired = _version_values(resource)
            for key in ("sources", "rest", "stitching"):
                if current[key] != desired[key]:
                    if old != "draft":
                        if key == "stitching":  # the field that changed
                            links_changed = current[key].get("links") != desired[key].get("links")
                            key_path = "spec.links" if links_changed else "spec.prefer"
                        else:
                            key_path = f"spec.{key}"
                        raise doc.error(
                            key_path,
                            f"version {spec.version} is {old}, so its {_FIXED_WHAT[key]} are fixed; bump "
                            "spec.version to change them",
                        )
                    changed.append(key)
            if current["routing"] != desired["routing"]:
                changed.append("routing")
            if row.current_version != spec.version:
                changed.append(f"current version {row.current_version} -> {spec.version}")
        if row.description != (resource.metadata.description or ""):
            changed.append("description")
        if row.display_name != (resource.metadata.display_name or ""):
            changed.append("display name")
        if list(row.tags) != resource.metadata.tags:
            changed.append("tags")
        if _plans_of(session, row) != sorted(spec.plans):
            changed.append("plans")
        return Change("Product", doc.name, "updated" if changed else "unchanged", tuple(changed))

    def write(self, session: Session, actor: Actor, world: World, item: Pending) -> None:
        resource = item.doc.resource
        assert isinstance(resource, m.Product)
        spec = resource.spec
        team = world.teams[resource.metadata.team]
        row = world.products.get(resource.metadata.name)
        if row is None:
            assert team.id is not None
            row = Product(name=resource.metadata.name, team_id=team.id)
            world.products[row.name] = row
        row.description = resource.metadata.description or ""
        row.display_name = resource.metadata.display_name or ""
        row.tags = list(resource.metadata.tags)
        row.current_version = spec.version
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        assert row.id is not None
        version = session.exec(
            select(ProductVersion).where(ProductVersion.product_id == row.id, ProductVersion.version == spec.version)
        ).first()
        values = _version_values(resource)
        if version is None:
            version = ProductVersion(product_id=row.id, version=spec.version, created_by=actor.name)
        version.lifecycle = Lifecycle(spec.lifecycle)
        version.routing = values["routing"]
        version.rest = values["rest"]
        version.stitching = values["stitching"]
        version.updated_at = utcnow()
        session.add(version)
        session.flush()
        self._write_sources(session, world, resource, version, values["sources"])
        plan_ids = {world.plans[p].id for p in spec.plans}
        existing = {p.plan_id: p for p in session.exec(select(ProductPlan).where(ProductPlan.product_id == row.id))}
        for plan_id, link in existing.items():
            if plan_id not in plan_ids:
                session.delete(link)
        for wanted_plan in plan_ids:
            assert wanted_plan is not None
            if wanted_plan not in existing:
                session.add(ProductPlan(product_id=row.id, plan_id=wanted_plan))

    def _write_sources(
        self,
        session: Session,
        world: World,
        resource: m.Product,
        version: ProductVersion,
        sources: list[dict[str, Any]],
    ) -> None:
        old_sources = session.exec(select(ProductSource).where(ProductSource.product_version_id == version.id)).all()
        wanted = [
            {"service": world.services[s["service"]].id, **{k: v for k, v in s.items() if k != "service"}}
            for s in sources
        ]
        if wanted == [{"service": s.service_id, **s.transforms} for s in sorted(old_sources, key=lambda s: s.position)]:
            return
        for old in old_sources:
            session.delete(old)
        session.flush()
        assert version.id is not None
        for position, source in enumerate(resource.spec.sources):
            service_id = world.services[source.service].id
            assert service_id is not None
            session.add(
                ProductSource(
                    product_version_id=version.id,
                    service_id=service_id,
                    position=position,
                    transforms=_transforms(source),
                )
            )

    def users(self, session: Session, row: Any) -> list[str]:
        live = session.exec(
            select(Subscription.id).where(
                Subscription.product_id == row.id,
                col(Subscription.state).in_([SubscriptionState.REQUESTED, SubscriptionState.APPROVED]),
            )
        ).all()
        return [f"{len(live)} live subscription(s)"] if live else []
