"""Composing products from resources: Service/Product resources (or their database rows) -> stitcher SourceSpecs ->
the stitcher's composition.

Three callers: ``apply`` checks that a change keeps every published product composable, the gateway snapshot
serves the composed product, and ``loom compose`` does it offline from YAML alone (no server, no database).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portal._loop import not_on_the_event_loop
from portal.errors import Conflict, Invalid, NotFound
from stitcher.ir import SourceKind, Subgraph, Supergraph
from stitcher.sources import EntityConfig, Link, SourceSpec, Stitching, Transforms

if TYPE_CHECKING:
    from sqlmodel import Session

    from portal.manifests import Document, Service as ServiceResource
    from portal.models import ProductSource, ProductVersion, Service, ServiceVersion

__all__ = [
    "CompositionFailed",
    "compose_command",
    "compose_product",
    "compose_specs",
    "composition_available",
    "deployment_url",
    "print_product",
    "source_spec",
    "source_specs_for",
    "specs_from_documents",
    "stitching_from",
    "stitching_from_documents",
    "stored_source_spec",
]


class CompositionFailed(Conflict):
    """The sources do not compose; ``conflicts`` lists each conflict (both services, the type and the field)."""

    def __init__(self, message: str, conflicts: Sequence[str]) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


def _composition_module() -> Any | None:
    try:
        return importlib.import_module("stitcher.composition")
    except ImportError:
        return None


def composition_available() -> bool:
    """Whether the stitcher's composer is installed (the composition check is skipped until it is)."""
    module = _composition_module()
    return module is not None and callable(getattr(module, "compose", None))


def _files_dir(files: Mapping[str, str]) -> Path | None:
    """A folder holding a version's relative ``$ref`` files. Content-addressed, so it is written once and a
    SourceSpec may keep pointing at it for as long as the process lives."""
    if not files:
        return None
    digest = hashlib.sha256(json.dumps(dict(sorted(files.items()))).encode()).hexdigest()[:24]
    root = Path(tempfile.gettempdir()) / "loom-schema-files" / digest
    if not root.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="loom-schema-"))
        for name, content in files.items():
            target = (staging / name).resolve()
            if not target.is_relative_to(staging.resolve()):
                raise Invalid(f"schema file name {name!r} leaves the schema's folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        root.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # another process wrote the same content first
            staging.rename(root)
    return root


def source_spec(
    *,
    name: str,
    protocol: str,
    schema: str,
    entities: Mapping[str, Mapping[str, Any]] | None = None,
    transforms: Mapping[str, Any] | None = None,
    url: str | None = None,
    base_path: Path | None = None,
    files: Mapping[str, str] | None = None,
) -> SourceSpec:
    """A SourceSpec from resource-shaped values (``entities`` and ``transforms`` as written in YAML)."""
    t = transforms or {}
    return SourceSpec(
        name=name,
        protocol=SourceKind(protocol),
        schema=schema,
        url=url,
        entities={
            type_name: EntityConfig(
                key=str(e["key"]),
                operation=str(e["operation"]),
                argument=e.get("argument"),
                batched=e.get("batched"),
            )
            for type_name, e in (entities or {}).items()
        },
        transforms=Transforms(
            prefix=t.get("prefix"),
            rename_types=dict(t.get("renameTypes") or {}),
            rename_fields=dict(t.get("renameFields") or {}),
            hide=tuple(t.get("hide") or ()),
            type_patterns=dict(t.get("typePatterns") or {}),
            root_field_patterns=dict(t.get("rootFieldPatterns") or {}),
        ),
        base_path=base_path if base_path is not None else _files_dir(files or {}),
    )


def stitching_from(data: Mapping[str, Any] | None) -> Stitching:
    """The stitcher's :class:`Stitching` from a Product's ``prefer`` and ``links`` as written in YAML (or stored)."""
    data = data or {}
    return Stitching(
        prefer={str(k): str(v) for k, v in (data.get("prefer") or {}).items()},
        links=tuple(
            Link(
                type_name=str(link["type"]),
                field=str(link["field"]),
                service=str(link["service"]),
                operation=str(link["operation"]),
                arguments={str(k): str(v) for k, v in (link.get("arguments") or {}).items()},
                description=link.get("description"),
                returns=link.get("returns"),
            )
            for link in data.get("links") or ()
        ),
    )


def compose_specs(
    product: str,
    specs: Sequence[SourceSpec],
    stitching: Stitching | None = None,
    translated: Mapping[str, Subgraph] | None = None,
) -> Supergraph:
    """Compose ``specs`` (and what the product says of them as a whole, ``stitching``) into the product's
    supergraph; raise :class:`CompositionFailed` naming the product. ``translated``: service name -> its OpenAPI
    document as a schema check translated it (:class:`portal.publishing.ValidatedSchema`), not translated again."""
    not_on_the_event_loop(f"composing product {product!r}")
    module = _composition_module()
    if module is None or not callable(getattr(module, "compose", None)):
        raise Invalid("the stitcher's composer (stitcher.composition) is not available in this installation")
    from stitcher.errors import CompositionError, StitcherError

    try:
        supergraph: Supergraph = module.compose(list(specs), stitching, translated=translated)
    except CompositionError as exc:
        raise CompositionFailed(
            f"product {product!r} does not compose: " + "; ".join(exc.conflicts), exc.conflicts
        ) from exc
    except StitcherError as exc:
        raise CompositionFailed(f"product {product!r} does not compose: {exc}", [str(exc)]) from exc
    return supergraph


def print_product(supergraph: Supergraph, *, supergraph_sdl: bool = False) -> str:
    """The product SDL (the API schema consumers see) or the Federation v2 supergraph SDL."""
    try:
        module = importlib.import_module("stitcher.supergraph")
    except ImportError:
        module = None
    name = "print_supergraph_sdl" if supergraph_sdl else "print_product_sdl"
    printer = getattr(module, name, None) if module is not None else None
    if printer is not None:
        text: str = printer(supergraph)
        return text
    if supergraph_sdl:
        raise Invalid("printing the supergraph SDL needs stitcher.supergraph, which is not available")
    from graphql import print_schema

    return print_schema(supergraph.schema)


# --- from the database -----------------------------------------------------------------------------------------


def stored_source_spec(
    service: Service, version: ServiceVersion, source: ProductSource, url: str | None = None
) -> SourceSpec:
    """A SourceSpec from database rows: a service, the version of its schema to use, and the product's source."""
    return source_spec(
        name=service.name,
        protocol=service.protocol.value,
        schema=version.schema_text,
        entities=service.entities,
        transforms=source.transforms,
        url=url,
        files=version.schema_files,
    )


def source_specs_for(session: Session, product_version: ProductVersion) -> list[SourceSpec]:
    """The SourceSpecs a stored product version is composed from: each source service's newest version."""
    from sqlmodel import col, select

    from portal.models import ProductSource, Service, ServiceDeployment
    from portal.publishing import latest_version

    sources = session.exec(
        select(ProductSource)
        .where(ProductSource.product_version_id == product_version.id)
        .order_by(col(ProductSource.position))
    ).all()
    specs = []
    for source in sources:
        service = session.get(Service, source.service_id)
        if service is None:  # the foreign key forbids it; be explicit rather than crash later
            raise NotFound(f"service id {source.service_id} of product version {product_version.version} is gone")
        version = latest_version(session, service)
        if version is None:
            raise Invalid(f"service {service.name!r} has no published schema yet; publish it before composing")
        address = session.exec(
            select(ServiceDeployment.address)
            .where(ServiceDeployment.service_id == service.id, col(ServiceDeployment.address).is_not(None))
            .order_by(col(ServiceDeployment.id))
        ).first()
        specs.append(stored_source_spec(service, version, source, address))
    return specs


def compose_product(session: Session, product_version: ProductVersion) -> Supergraph:
    """Compose a stored product version from its sources' newest schemas."""
    from portal.models import Product

    product = session.get(Product, product_version.product_id)
    name = product.name if product is not None else f"product {product_version.product_id}"
    stitching = stitching_from(product_version.stitching)
    return compose_specs(name, source_specs_for(session, product_version), stitching)


# --- from resource YAML ----------------------------------------------------------------------------------------


def deployment_url(service: ServiceResource) -> str | None:
    """Where a gateway reaches a Service resource: its first deployment's address, else its first Kubernetes
    deployment by the service's cluster DNS name (as the portal's snapshot gives it), else None."""
    for deployment in service.spec.deployments:
        if deployment.address:
            return deployment.address
    for deployment in service.spec.deployments:
        if deployment.kube is not None:
            kube = deployment.kube
            return f"http://{kube.service}.{kube.namespace}.svc.cluster.local:{kube.port}"
    return None


def _check_schema(doc: Document, service: ServiceResource) -> None:
    """The schema check ``loom apply`` makes (portal.resources.service), with the same error."""
    from portal.publishing import validate_schema

    source = service.spec.schema_
    where = source.file or ("introspection" if source.introspect else "inline schema")
    try:
        validate_schema(
            doc.name,
            service.spec.protocol,
            doc.schema_text or "",
            where=where,
            base_dir=doc.schema_path.parent if doc.schema_path is not None else None,
            files=source.files if source.openapi is not None else None,
        )
    except Invalid as exc:
        raise Invalid(exc.message, path=f"{doc.where()}: spec.schema") from exc


def specs_from_documents(documents: Sequence[Document], product: str) -> list[SourceSpec]:
    """The SourceSpecs of ``product`` from loaded resources alone (its Services must be among them)."""
    from portal.manifests import Product, Service

    products = {d.name: d for d in documents if isinstance(d.resource, Product)}
    services = {d.name: d for d in documents if isinstance(d.resource, Service)}
    doc = products.get(product)
    if doc is None or not isinstance(doc.resource, Product):
        known = ", ".join(sorted(products)) or "none"
        raise NotFound(f"no Product {product!r} in the files (products there: {known})")
    specs = []
    for index, ref in enumerate(doc.resource.spec.sources):
        service_doc = services.get(ref.service)
        if service_doc is None or not isinstance(service_doc.resource, Service):
            raise doc.error(f"spec.sources[{index}].service", f"no Service {ref.service!r} in the files")
        service = service_doc.resource
        _check_schema(service_doc, service)  # what apply checks, so compose and apply give the same verdict
        address = deployment_url(service)
        specs.append(
            source_spec(
                name=service.metadata.name,
                protocol=service.spec.protocol,
                schema=service_doc.schema_text or "",
                entities={k: v.model_dump(exclude_none=True) for k, v in service.spec.entities.items()},
                transforms=ref.model_dump(by_alias=True, exclude_defaults=True, exclude={"service"}),
                url=address,
                base_path=service_doc.schema_path.parent if service_doc.schema_path else None,
                files=service.spec.schema_.files,
            )
        )
    return specs


def stitching_from_documents(documents: Sequence[Document], product: str) -> Stitching:
    """The ``prefer`` and ``links`` of ``product`` from loaded resources (none when the product is not there)."""
    from portal.manifests import Product

    for doc in documents:
        if isinstance(doc.resource, Product) and doc.name == product:
            return stitching_from(doc.resource.spec.stitching())
    return Stitching()


def _supergraph_json(supergraph: Supergraph, sdl: str, product: str) -> str:
    return json.dumps(
        {
            "product": product,
            "sdl": sdl,
            "subgraphs": sorted(name for name, sub in supergraph.subgraphs.items() if sub.link_of is None),
            "warnings": list(supergraph.warnings),
        },
        indent=2,
    )


def compose_command(args: argparse.Namespace) -> int:
    """``loom compose -f PATH... [--product NAME] [--supergraph] [-o sdl|json]``: offline, from YAML alone."""
    from portal.manifests import Product, load_documents
    from portal.settings import AuthSettings

    # Only the size limit matters here: no secrets, so compose works whatever LOOM_MODE says.
    documents = load_documents(args.files, max_bytes=AuthSettings().max_document_bytes)
    products = [d.name for d in documents if isinstance(d.resource, Product)]
    if args.product is None:
        if len(products) != 1:
            listed = ", ".join(products) or "none"
            raise Invalid(f"name the product to compose with --product (products in the files: {listed})")
        product = products[0]
    else:
        product = args.product
    stitching = stitching_from_documents(documents, product)
    try:
        supergraph = compose_specs(product, specs_from_documents(documents, product), stitching)
    except CompositionFailed as exc:
        print(f"loom: error: product {product!r} does not compose:", file=sys.stderr)
        for conflict in exc.conflicts:
            print(f"- {conflict}", file=sys.stderr)
        return 1
    if args.supergraph:
        from stitcher.supergraph.carried import uncarried

        problems = uncarried(supergraph)
        if problems:
            raise Invalid("a gateway could not serve this supergraph: " + "; ".join(problems))
        nowhere = [spec.name for spec in supergraph.sources if not spec.url]
        if nowhere:
            raise Invalid(
                f"service(s) {', '.join(nowhere)} have no deployment (an address or a Kubernetes service), so a "
                "supergraph could not say where the gateway reaches them; add one to spec.deployments, or leave out "
                "--supergraph to print the product's schema"
            )
    sdl = print_product(supergraph, supergraph_sdl=bool(args.supergraph))
    if args.output == "json":
        print(_supergraph_json(supergraph, sdl, product))
    else:
        print(sdl.rstrip("\n"))
    for warning in supergraph.warnings:
        print(f"loom: warning: {warning}", file=sys.stderr)
    return 0
