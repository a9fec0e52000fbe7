"""The one document size knob (``LOOM_AUTH_MAX_DOCUMENT_BYTES``): its default takes a 3 MB OpenAPI spec (OpenAI's
and PagerDuty's size) from a resource file to a composed subgraph, and a smaller configured limit refuses it with a
message naming the knob."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from portal.errors import Invalid
from portal.manifests import DEFAULT_MAX_BYTES, Service, load_documents
from portal.settings import DEFAULT_MAX_DOCUMENT_BYTES, AuthSettings
from stitcher import SourceKind
from stitcher.openapi import subgraph_from_openapi
from stitcher.sources import SourceSpec

SERVICE = """\
apiVersion: loom.dev/v1alpha1
kind: Service
metadata: {name: big, team: platform}
spec:
  protocol: openapi
  schema: {file: big.openapi.json}
  deployments:
    - {cluster: us-east, kube: {service: big, namespace: platform, port: 8080}}
"""


def big_spec(target_bytes: int) -> dict[str, Any]:
    """An OpenAPI document of about ``target_bytes``: many resources, each with described properties and a CRUD
    pair of operations, as the large vendor specs are."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    index = 0
    size = 0
    while size < target_bytes:
        name = f"Resource{index}"
        properties = {
            f"field{n}": {"type": "string", "description": f"Field {n} of {name}: " + "described at length. " * 4}
            for n in range(12)
        }
        schemas[name] = {"type": "object", "required": ["field0"], "properties": properties}
        ref = {"$ref": f"#/components/schemas/{name}"}
        ok = {"description": "ok", "content": {"application/json": {"schema": ref}}}
        paths[f"/resources{index}/{{id}}"] = {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"operationId": f"get{name}", "summary": f"Read one {name}", "responses": {"200": ok}},
            "put": {
                "operationId": f"put{name}",
                "requestBody": {"content": {"application/json": {"schema": ref}}},
                "responses": {"200": ok},
            },
        }
        size += len(json.dumps(schemas[name])) + len(json.dumps(paths[f"/resources{index}/{{id}}"]))
        index += 1
    return {
        "openapi": "3.0.3",
        "info": {"title": "big", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


@pytest.fixture(scope="module")
def big_service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("big")
    (directory / "big.openapi.json").write_text(json.dumps(big_spec(3 * 1000 * 1000)))
    path = directory / "service.yaml"
    path.write_text(SERVICE)
    return path


def test_the_default_takes_a_3_mb_spec_through_to_a_subgraph(big_service: Path) -> None:
    spec_path = big_service.parent / "big.openapi.json"
    assert spec_path.stat().st_size > 3_000_000
    assert AuthSettings().max_document_bytes == DEFAULT_MAX_DOCUMENT_BYTES == DEFAULT_MAX_BYTES  # one knob
    [document] = load_documents([big_service], max_bytes=AuthSettings().max_document_bytes)
    assert isinstance(document.resource, Service)
    subgraph = subgraph_from_openapi(
        SourceSpec("big", SourceKind.OPENAPI, spec_path.read_text(), url="http://127.0.0.1:9")
    )
    assert subgraph.schema is not None and subgraph.schema.query_type is not None
    assert len(subgraph.schema.query_type.fields) > 1000


def test_a_configured_limit_refuses_the_spec_naming_the_knob(
    big_service: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_AUTH_MAX_DOCUMENT_BYTES", str(2 * 1024 * 1024))
    limit = AuthSettings().max_document_bytes
    assert limit == 2 * 1024 * 1024
    with pytest.raises(
        Invalid,
        match=r"big\.openapi\.json is \d+ bytes, over the limit of 2097152 bytes \(LOOM_AUTH_MAX_DOCUMENT_BYTES\)",
    ):
        load_documents([big_service], max_bytes=limit)
    monkeypatch.setenv("LOOM_AUTH_MAX_DOCUMENT_BYTES", "0")
    with pytest.raises(ValidationError, match="max_document_bytes"):
        AuthSettings()
