"""The desired state from resource documents alone (no database, no server): what ``loom render -f FILES`` routes.

:func:`from_documents` builds the same :class:`~portal.sync.desired.DesiredState` that
:func:`portal.sync.reading.from_session` reads from a database where those documents were applied, with the same
helpers (``cluster_spec``, ``traffic_policy``), so a rendering from files and a sync pass cannot disagree:

* every Cluster, with ``spec.gloo`` and ``spec.gateway`` as ``apply`` stores them;
* every Service with its deployments (in the order written) and its ``spec.traffic``;
* the Products whose version is published or deprecated (what gateways serve), with their sources and routing.

Documents are validated as ``apply`` validates them (a Service's schema is not read: routing needs none). References
to resources that are not among the documents are not checked here; ``apply`` checks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portal import manifests as m
from portal.errors import Invalid
from portal.sync.desired import DeploymentSpec, DesiredState, ProductSpec, ServiceSpec, traffic_policy
from portal.sync.reading import SERVED_LIFECYCLES, cluster_spec

__all__ = ["from_documents"]

_SERVED = frozenset(lifecycle.value for lifecycle in SERVED_LIFECYCLES)


def _resources(docs: Sequence[Mapping[str, Any] | m.Document], source: str) -> list[m.Resource]:
    out: list[m.Resource] = []
    seen: set[tuple[str, str]] = set()
    for index, doc in enumerate(docs, start=1):
        resource = doc.resource if isinstance(doc, m.Document) else m.parse_resource(doc, source=source, index=index)
        key = (resource.kind, resource.metadata.name)
        if key in seen:
            raise Invalid(f"duplicate {key[0]} {key[1]!r}", path=f"{source}: document {index}")
        seen.add(key)
        out.append(resource)
    return out


def _deployment(deployment: m.Deployment) -> DeploymentSpec:
    kube = deployment.kube
    return DeploymentSpec(
        cluster=deployment.cluster,
        address=deployment.address,
        kube_service=kube.service if kube else None,
        kube_namespace=kube.namespace if kube else None,
        kube_port=kube.port if kube else None,
        health_path=deployment.health_check.path if deployment.health_check else None,
    )


def from_documents(
    docs: Sequence[Mapping[str, Any] | m.Document], *, generation: int = 0, source: str = "documents"
) -> DesiredState:
    """The desired state of ``docs`` (resource mappings as in YAML, or loaded :class:`~portal.manifests.Document`).

    Raises :class:`~portal.errors.Invalid` naming the document and the field of a bad one."""
    clusters = {}
    services = {}
    products = {}
    for resource in _resources(docs, source):
        name = resource.metadata.name
        if isinstance(resource, m.Cluster):
            spec = resource.spec
            gloo = spec.gloo.model_dump(mode="json", by_alias=True, exclude_none=True)
            gateway = spec.gateway.model_dump(mode="json", by_alias=True, exclude_none=True) if spec.gateway else {}
            clusters[name] = cluster_spec(name, spec.region, spec.zone, spec.residency, gloo, gateway)
        elif isinstance(resource, m.Service):
            traffic = resource.spec.traffic.stored() if resource.spec.traffic is not None else {}
            deployments = tuple(_deployment(d) for d in resource.spec.deployments)
            services[name] = ServiceSpec(name, deployments, traffic_policy(traffic))
        elif isinstance(resource, m.Product) and resource.spec.lifecycle in _SERVED:
            spec_p = resource.spec
            products[name] = ProductSpec(
                name=name,
                services=tuple(s.service for s in spec_p.sources),
                clusters=tuple(spec_p.routing.clusters),
                residency=spec_p.routing.residency or None,
            )
    return DesiredState(
        clusters=dict(sorted(clusters.items())),
        services=dict(sorted(services.items())),
        products=dict(sorted(products.items())),
        generation=generation,
    )
