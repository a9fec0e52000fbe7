"""The gateway's configuration snapshot: built from the portal's desired state, served at ``/api/gateway/snapshot``.

The shape is the stitcher's :class:`stitcher.snapshot.Snapshot`. The ETag is its content fingerprint, so any
change that matters to a gateway (a publish, a lifecycle, a deployment address, a credential, a subscription, a
plan limit) gives a new ETag, and nothing else does. ``If-None-Match`` with the current ETag gets a 304.

What is served:

* Products whose current version is ``published`` or ``deprecated`` (drafts and retired versions are not).
* Each source with the schema its product version pinned (else the service's newest), relative ``$ref`` files
  bundled into the document (the gateway has no files), and the address of its first deployment with one (else
  the Kubernetes service's cluster DNS name).
* Every plan; every application with a credential, with its credentials; every subscription to a served product.
  Applications are named ``owner/name`` (names are unique per owner only). Expired or revoked credentials are
  sent as revoked, so the gateway can say why it refuses them; requested subscriptions are sent as ``pending``.

Only a caller allowed ``gateway.snapshot`` may read it (it carries credential hashes and who may call what): a
platform admin, or a gateway robot account (``loom gateways create``) for the clusters it was granted.

``?wait=SECONDS`` (up to :data:`MAX_WAIT_SECONDS`) makes it a watch: a request whose ``If-None-Match`` matches is
held until the snapshot changes, answered 200 as soon as a change commits (:mod:`portal.changes`), or 304 when the
time is up. Gateways watch this way, so a revoked key or credential is refused within moments, not at a next poll.
The watches of one cluster woken by one change share one build (:class:`SnapshotBuilds`; the metric
``loom_portal_snapshot_builds_total`` counts builds by cluster view).

``?cluster=NAME`` gives one cluster's view (``loom gateway --cluster NAME``): the products the routing model
(:mod:`portal.sync.model`) lets that cluster's gateway process, each source addressed through the cluster's own
Envoy, and the other served products in ``elsewhere`` with the reason (the gateway answers them 421).
"""

from portal.snapshot.building import build_snapshot
from portal.snapshot.bundling import bundle_openapi
from portal.snapshot.serving import (
    HELD_SECONDS,
    MAX_WAIT_SECONDS,
    SNAPSHOT_PATH,
    Built,
    LocalSnapshotSource,
    SnapshotBuilds,
    routes,
    snapshot_endpoint,
    watch,
)

__all__ = [
    "HELD_SECONDS",
    "MAX_WAIT_SECONDS",
    "SNAPSHOT_PATH",
    "Built",
    "LocalSnapshotSource",
    "SnapshotBuilds",
    "build_snapshot",
    "bundle_openapi",
    "routes",
    "snapshot_endpoint",
    "watch",
]
