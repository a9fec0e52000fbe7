"""The desired state from resource files (``loom render``) is the one the database holds once they are applied."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import Engine

from portal.db import session_scope
from portal.errors import Invalid
from portal.manifests import load_documents
from portal.sync.desired import GatewayLocation, HostPort, ProxySpec
from portal.sync.documents import from_documents
from portal.sync.reading import from_session
from tests.portal._apply import LIBRARY, library_copy, run

pytestmark = pytest.mark.postgres


def raw_documents(folder: Path) -> list[dict[str, Any]]:
    """The folder's resources as plain YAML data (schema files are not resources)."""
    return [
        raw
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "catalog.openapi.yaml"
        for raw in yaml.safe_load_all(path.read_text())
        if raw is not None
    ]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_the_applied_library_reads_back_as_the_files_say(engine: Engine, tmp_path: Path) -> None:
    library = library_copy(tmp_path / "library")
    # Every setting the sync worker reads: a local-envoy cluster with its proxy and gateway address, a Kubernetes
    # gateway, per-service traffic, a draft product (not routed).
    edit(
        library / "clusters.yaml",
        "gloo: {target: gitops, namespace: gloo-system, failoverGateway: {host: 127.0.0.12, port: 15443}}",
        "gloo: {target: local-envoy, failoverGateway: {host: 127.0.0.12, port: 15443},\n"
        "         proxy: {listener: '127.0.0.1:18000', internal: '127.0.0.1:18001', admin: '127.0.0.1:18002'}}\n"
        "  gateway: {address: 'http://127.0.0.1:4102'}",
    )
    edit(library / "clusters.yaml", "zone: eu-central-1a\n", "zone: eu-central-1a\n  gateway: {kube: {port: 8080}}\n")
    edit(
        library / "services.yaml",
        "  schema: {file: members.graphql}\n",
        "  schema: {file: members.graphql}\n"
        "  traffic: {connectTimeout: 1s, retries: {attempts: 2, perTryTimeout: 100ms}}\n",
    )
    eu_sources = "sources: [{service: members}, {service: catalog}]"
    edit(library / "product.yaml", f"lifecycle: published\n  {eu_sources}", f"lifecycle: draft\n  {eu_sources}")
    run(engine, load_documents([library]))
    with session_scope(engine) as session:
        stored = from_session(session)

    from_files = from_documents(raw_documents(library), generation=stored.generation)
    assert from_files == stored
    assert from_documents(load_documents([library]), generation=stored.generation) == stored
    # ... and it holds what was written, not only what the reader happens to read from both.
    west = from_files.clusters["us-west"]
    assert west.proxy == ProxySpec(
        HostPort("127.0.0.1", 18000), HostPort("127.0.0.1", 18001), HostPort("127.0.0.1", 18002)
    )
    assert west.gateway == GatewayLocation(address="http://127.0.0.1:4102")
    assert from_files.clusters["eu-central"].gateway == GatewayLocation(kube_port=8080)
    traffic = from_files.services["members"].traffic
    assert (traffic.connect_timeout_ms, traffic.retries.num_retries, traffic.retries.per_try_timeout_ms) == (
        1000,
        2,
        100,
    )
    assert set(from_files.products) == {"library"}


def test_the_example_as_shipped(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))
    with session_scope(engine) as session:
        stored = from_session(session)
    assert from_documents(raw_documents(LIBRARY)) == dataclasses.replace(stored, generation=0)


def test_a_bad_document_is_named() -> None:
    docs = raw_documents(LIBRARY)
    docs[1]["spec"]["gloo"]["proxy"] = {"listener": "nowhere"}
    with pytest.raises(Invalid, match=r"files: document 2 \(Cluster/us-west\): spec\.gloo\.proxy\.listener: "):
        from_documents(docs, source="files")
    with pytest.raises(Invalid, match=r"duplicate Cluster 'us-east'"):
        from_documents([docs[0], docs[0]])
