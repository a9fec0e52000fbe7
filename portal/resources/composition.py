"""Published products after an apply: a change that breaks one (its composition, or its API as consumers use it) is
refused unless forced by its team admin, and every product's composed SDL is stored pinned to the schemas it was
built from."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from portal import manifests as m
from portal.authorization import Actor, Target
from portal.composer import (
    CompositionFailed,
    compose_product,
    compose_specs,
    composition_available,
    print_product,
    source_spec,
    stitching_from,
    stored_source_spec,
)
from portal.errors import Conflict, Invalid, NotFound
from portal.models import Product, ProductSource, Service, ServiceVersion, utcnow
from portal.publishing import ValidatedSchema, latest_version
from portal.resources.handler import Pending
from portal.resources.product import current_version, source_dict, sources_of
from portal.resources.service import entities_of
from portal.resources.world import World, authorize_or_record
from stitcher.changes import BreakingChange, ProductApi, breaking_changes
from stitcher.ir import Subgraph, Supergraph

__all__ = [
    "Forced",
    "ProductAfter",
    "check_compositions",
    "compose_after",
    "products_after",
    "recompose",
    "service_inputs",
    "stitching_problem",
]

_LIVE = ("published", "deprecated")  # lifecycles that gateways serve


def service_inputs(session: Session, world: World, pending: Sequence[Pending]) -> dict[str, dict[str, Any]]:
    """Service name -> what composition needs, as it will be after this apply."""
    out: dict[str, dict[str, Any]] = {}
    for name, row in world.services.items():
        version = latest_version(session, row)
        if version is not None:
            out[name] = {
                "protocol": row.protocol.value,
                "schema": version.schema_text,
                "files": dict(version.schema_files),
                "entities": dict(row.entities),
            }
    for item in pending:
        resource = item.doc.resource
        if isinstance(resource, m.Service) and item.schema is not None:
            out[item.doc.name] = {
                "protocol": resource.spec.protocol,
                "schema": item.schema.text,
                "files": dict(item.schema.files),
                "entities": entities_of(resource),
                "translated": item.schema.translated,  # the schema check's translation: not made again
            }
    return out


@dataclass(frozen=True, slots=True)
class ProductAfter:
    """A product's current version as it will be after this apply."""

    team: str
    lifecycle: str
    sources: list[dict[str, Any]]
    rest: list[dict[str, Any]]
    stitching: dict[str, Any]


def products_after(session: Session, world: World, pending: Sequence[Pending]) -> dict[str, ProductAfter]:
    """Product name -> its current version after this apply."""
    out: dict[str, ProductAfter] = {}
    service_names = {s.id: n for n, s in world.services.items()}
    for name, row in world.products.items():
        version = current_version(session, row)
        if version is not None:
            out[name] = ProductAfter(
                world.team_names.get(row.team_id, ""),
                version.lifecycle.value,
                sources_of(session, version, service_names),
                list(version.rest),
                dict(version.stitching or {}),
            )
    for item in pending:
        resource = item.doc.resource
        if isinstance(resource, m.Product):
            out[item.doc.name] = ProductAfter(
                resource.metadata.team,
                resource.spec.lifecycle,
                [source_dict(s) for s in resource.spec.sources],
                [r.model_dump(mode="json", by_alias=True) for r in resource.spec.rest],
                resource.spec.stitching(),
            )
    return out


def compose_after(product: str, after: ProductAfter, services: Mapping[str, Mapping[str, Any]]) -> Supergraph:
    """``product`` composed as it will be after this apply, from :func:`service_inputs`; an OpenAPI document that
    this apply's schema check translated is not translated again."""
    specs = [spec_of(s, services[s["service"]]) for s in after.sources]
    translated = {name: inputs["translated"] for name, inputs in services.items() if inputs.get("translated")}
    return compose_specs(product, specs, stitching_from(after.stitching), translated)


def spec_of(source: Mapping[str, Any], service: Mapping[str, Any]) -> Any:
    """The stitcher's SourceSpec of one product source over one service input."""
    transforms = {k: v for k, v in source.items() if k != "service"}
    return source_spec(
        name=str(source["service"]),
        protocol=service["protocol"],
        schema=service["schema"],
        entities=service["entities"],
        transforms=transforms,
        files=service["files"],
    )


@dataclass(frozen=True, slots=True)
class Forced:
    """A change to a published product that its owner forced: what it breaks, for the audit log."""

    product: str
    conflicts: list[str]
    breaking: list[str]


def check_compositions(
    session: Session, actor: Actor, world: World, pending: Sequence[Pending], *, force: bool
) -> list[Forced]:
    """Refuse a change that breaks a published product, unless forced by its owner (a team admin of its team).

    Breaking means: the product no longer composes, or its API loses something consumers could call (a field, an
    argument, an enum value, a REST route; :mod:`stitcher.changes`). Returns the forced products (for the audit).
    """
    if not composition_available():
        return []
    touched_services = {
        p.doc.name for p in pending if isinstance(p.doc.resource, m.Service) and p.change.action != "unchanged"
    }
    touched_products = {
        p.doc.name for p in pending if isinstance(p.doc.resource, m.Product) and p.change.action != "unchanged"
    }
    if not touched_services and not touched_products:
        return []
    services = service_inputs(session, world, pending)
    forced: list[Forced] = []
    for product, after in sorted(products_after(session, world, pending).items()):
        doc = world.docs.get(("Product", product))
        if product in touched_products and after.stitching and doc is not None:
            _check_stitching(doc, product, after, services)
        if after.lifecycle == "draft" and product in touched_products and _served(session, world, product):
            forced.append(_unserved(session, actor, doc, product, after, force=force))
            continue
        names = [s["service"] for s in after.sources]
        if after.lifecycle not in _LIVE or (
            product not in touched_products and not touched_services.intersection(names)
        ):
            continue
        absent = [n for n in names if n not in services]
        if absent:
            message = f"product {product!r} is {after.lifecycle} but service(s) {', '.join(absent)} have no schema"
            raise doc.error("spec.sources", message) if doc else Invalid(message)
        publishing = sorted(touched_services.intersection(names))
        culprit = f"publishing {', '.join(publishing)}" if publishing else "this change"
        try:
            supergraph = compose_after(product, after, services)
        except CompositionFailed as exc:
            conflicts = "; ".join(exc.conflicts)
            message = f"{culprit} would break the composition of {after.lifecycle} product {product!r}: {conflicts}"
            _refuse_unless_forced(session, actor, doc, product, after.team, message, force=force, cause=exc)
            forced.append(Forced(product, list(exc.conflicts), []))
            continue
        changes = _breaking_changes(session, world.products.get(product), supergraph, after.rest)
        if changes:
            listed = "; ".join(str(c) for c in changes)
            message = f"{culprit} would break the API of {after.lifecycle} product {product!r}: {listed}"
            _refuse_unless_forced(session, actor, doc, product, after.team, message, force=force, cause=None)
            forced.append(Forced(product, [], [str(c) for c in changes]))
    return forced


_STITCHING_PROBLEM = re.compile(r"^((?:prefer\.[_A-Za-z][_0-9A-Za-z]*)|(?:links\[\d+\](?:\.[\w.]+)?)): (.*)$", re.S)


def _check_stitching(doc: m.Document, product: str, after: ProductAfter, services: Mapping[str, Any]) -> None:
    """A product's ``prefer`` and ``links`` are checked at every apply that changes the product, whatever its
    lifecycle (a draft need not compose yet, but a link to an operation that does not exist is wrong already): the
    error names the field, e.g. ``spec.links[0].operation``. Other conflicts are left to the composition check."""
    if any(s["service"] not in services for s in after.sources):
        return  # a source without a schema yet: nothing to check against
    try:
        compose_after(product, after, services)
    except CompositionFailed as exc:
        problem = stitching_problem(doc, exc)
        if problem is not None:
            raise problem from exc


def stitching_problem(doc: m.Document, failed: CompositionFailed) -> Invalid | None:
    """The first conflict of ``failed`` that is about the product's ``prefer`` or ``links``, as an error naming its
    field (``spec.links[0].operation``); None when every conflict is between the sources themselves."""
    for conflict in failed.conflicts:
        match = _STITCHING_PROBLEM.match(conflict)
        if match is not None:
            return doc.error(f"spec.{match.group(1)}", match.group(2))
    return None


def _unserved(
    session: Session, actor: Actor, doc: m.Document | None, product: str, after: ProductAfter, *, force: bool
) -> Forced:
    """A new draft version would become current and stop serving the published one: as breaking as it gets."""
    assert doc is not None and isinstance(doc.resource, m.Product)
    version = doc.resource.spec.version
    message = (
        f"this change would stop serving published product {product!r}: its current version would become draft "
        f"{version} (publish it, or keep the published version current)"
    )
    _refuse_unless_forced(session, actor, doc, product, after.team, message, force=force, cause=None)
    return Forced(product, [], [f"the product is no longer served (version {version} is a draft)"])


def _refuse_unless_forced(
    session: Session,
    actor: Actor,
    doc: m.Document | None,
    product: str,
    team: str,
    message: str,
    *,
    force: bool,
    cause: Exception | None,
) -> None:
    if not force:
        hint = f"; fix it, or force it as a team admin of team {team!r} (--force)"
        raise Conflict(message + hint, path=doc.where() if doc else None) from cause
    target = Target(kind="product", name=product, team=team)
    authorize_or_record(session, actor, "service.publish.force", target, doc)


def _served(session: Session, world: World, product: str) -> bool:
    """Whether gateways serve ``product`` now (its current version is published or deprecated)."""
    row = world.products.get(product)
    version = current_version(session, row) if row is not None else None
    return version is not None and version.lifecycle.value in _LIVE


def _breaking_changes(
    session: Session, row: Product | None, supergraph: Supergraph, rest: Sequence[Mapping[str, Any]]
) -> list[BreakingChange]:
    """What the API that consumers use today loses (nothing when the product is not served yet)."""
    if row is None:
        return []
    version = current_version(session, row)
    if version is None or version.lifecycle.value not in _LIVE:
        return []
    try:
        served = compose_product(session, version)
    except (CompositionFailed, Invalid, NotFound):
        return []  # what is served today does not compose any more: nothing to compare with
    return breaking_changes(ProductApi.of(served, version.rest), ProductApi.of(supergraph, rest))


def recompose(session: Session, checked: Mapping[str, ValidatedSchema] | None = None) -> None:
    """Store the composed SDLs of every product's current version, pinned to the schemas they were built from.
    ``checked``: service name -> the schema this apply checked; where that is the service's newest version, its
    OpenAPI translation is taken instead of translating the document again."""
    checked = checked or {}
    if not composition_available():
        return
    session.flush()
    services = {s.id: s for s in session.exec(select(Service)).all()}
    for product in session.exec(select(Product)).all():
        version = current_version(session, product)
        if version is None:
            continue
        sources = session.exec(
            select(ProductSource)
            .where(ProductSource.product_version_id == version.id)
            .order_by(col(ProductSource.position))
        ).all()
        specs = []
        pins: list[tuple[ProductSource, ServiceVersion]] = []
        translated: dict[str, Subgraph] = {}
        for source in sources:
            service = services[source.service_id]
            latest = latest_version(session, service)
            if latest is None:
                break
            pins.append((source, latest))
            specs.append(stored_source_spec(service, latest, source))
            schema = checked.get(service.name)
            if schema is not None and schema.translated is not None and schema.hash == latest.schema_hash:
                translated[service.name] = schema.translated
        else:
            composed: str | None = None
            super_sdl: str | None = None
            try:
                supergraph = compose_specs(product.name, specs, stitching_from(version.stitching), translated)
                composed, super_sdl = print_product(supergraph), _maybe_supergraph(supergraph)
            except (CompositionFailed, Invalid):
                pass  # a draft may not compose yet; published ones were checked before
            if version.composed_sdl != composed or version.supergraph_sdl != super_sdl:
                version.composed_sdl, version.supergraph_sdl = composed, super_sdl
                version.updated_at = utcnow()
                session.add(version)
            for source, latest in pins:
                if source.service_version_id != latest.id:
                    source.service_version_id = latest.id
                    session.add(source)


def _maybe_supergraph(supergraph: Any) -> str | None:
    try:
        return print_product(supergraph, supergraph_sdl=True)
    except Invalid:
        return None
