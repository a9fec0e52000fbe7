"""Loading resource YAML: the library example loads as it is; bad input names the file, document and field path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portal.errors import Invalid
from portal.manifests import (
    Cluster,
    Product,
    Service,
    load_documents,
    parse_documents,
    resource_to_dict,
)
from tests.portal._apply import LIBRARY

SERVICE = """\
apiVersion: loom.dev/v1alpha1
kind: Service
metadata: {name: catalog, team: library}
spec:
  protocol: openapi
  schema: {file: catalog.openapi.yaml}
  deployments:
    - {cluster: us-east, kube: {service: catalog, namespace: library, port: 8080}}
"""


def write(tmp_path: Path, text: str, name: str = "res.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_library_example_loads_with_schema_files_read_beside_the_yaml() -> None:
    docs = load_documents([LIBRARY])
    kinds = sorted({d.kind for d in docs})
    assert kinds == ["Cluster", "Plan", "Product", "Service", "Team"]
    assert len(docs) == 12
    catalog = next(d for d in docs if d.name == "catalog")
    assert isinstance(catalog.resource, Service)
    assert catalog.schema_path == (LIBRARY / "catalog.openapi.yaml").resolve()
    assert catalog.schema_text is not None and "operationId: getBook" in catalog.schema_text
    members = next(d for d in docs if d.name == "members")
    assert isinstance(members.resource, Service)
    assert members.resource.spec.deployments[0].address == "http://127.0.0.1:7301"
    eu = next(d for d in docs if d.name == "library-eu")
    assert isinstance(eu.resource, Product)
    assert eu.resource.spec.routing.residency == "eu"
    assert eu.where() == "product.yaml: document 2 (Product/library-eu)"


def test_documents_round_trip_through_plain_data() -> None:
    docs = load_documents([LIBRARY / "clusters.yaml", LIBRARY / "product.yaml"])
    again = parse_documents([resource_to_dict(d.resource) for d in docs])
    assert [d.resource for d in again] == [d.resource for d in docs]
    cluster = again[0].resource
    assert isinstance(cluster, Cluster)
    assert resource_to_dict(cluster)["spec"]["gloo"]["failoverGateway"] == {"host": "127.0.0.11", "port": 15443}


def test_inline_schema_needs_no_file() -> None:
    raw = {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "s", "team": "t"},
        "spec": {"protocol": "graphql", "schema": {"sdl": "type Query { a: Int }"}},
    }
    (doc,) = parse_documents([raw])
    assert doc.schema_text == "type Query { a: Int }" and doc.schema_path is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Service\n  bad: [", "res.yaml: malformed YAML at line"),
        (
            "apiVersion: loom.dev/v1alpha1\nkind: Gadget\nmetadata: {name: x}\nspec: {}\n",
            "res.yaml: document 1 (Gadget/x): kind: unknown kind 'Gadget'; expected one of Cluster",
        ),
        (
            "apiVersion: loom.dev/v1\nkind: Team\nmetadata: {name: x}\n",
            "res.yaml: document 1 (Team/x): apiVersion: apiVersion must be 'loom.dev/v1alpha1'",
        ),
        (
            "apiVersion: loom.dev/v1alpha1\nkind: Team\nmetadata: {name: x}\nspec: {placement: []}\n",
            "res.yaml: document 1 (Team/x): spec.placement: unknown field",
        ),
        (
            SERVICE.replace("protocol: openapi", "protocol: soap"),
            "res.yaml: document 1 (Service/catalog): spec.protocol: Input should be 'federation', 'graphql' or "
            "'openapi' (got 'soap')",
        ),
        (
            SERVICE.replace("port: 8080", "port: eighty"),
            "res.yaml: document 1 (Service/catalog): spec.deployments[0].kube.port: Input should be a valid integer",
        ),
        (
            SERVICE.replace("{cluster: us-east, ", "{"),
            "res.yaml: document 1 (Service/catalog): spec.deployments[0].cluster: field required",
        ),
        (
            "apiVersion: loom.dev/v1alpha1\nkind: Team\nmetadata: {name: x}\nspec: {placements: [{cluster: a, "
            "namespaces: library}]}\n",
            "res.yaml: document 1 (Team/x): spec.placements[0].namespaces: Input should be a valid list",
        ),
        (
            "apiVersion: loom.dev/v1alpha1\nkind: Team\nmetadata: {name: Bad_Name}\n",
            "res.yaml: document 1 (Team/Bad_Name): metadata.name: must be lower-case letters, digits and '-' (at most "
            "63, starting and ending with a letter or digit) (got 'Bad_Name')",
        ),
        ("- just\n- a list\n", "res.yaml: document 1: a resource must be a mapping"),
        (
            SERVICE + "  traffic: {maxResponseBytes: 2147483648}\n",
            "res.yaml: document 1 (Service/catalog): spec.traffic.maxResponseBytes: Input should be less than or "
            "equal to 1073741824",
        ),
    ],
)
def test_bad_documents_name_file_document_and_field(tmp_path: Path, text: str, expected: str) -> None:
    shutil.copy(LIBRARY / "catalog.openapi.yaml", tmp_path)
    with pytest.raises(Invalid) as info:
        load_documents([write(tmp_path, text)])
    assert str(info.value).startswith(expected), str(info.value)


def test_a_services_response_cap_is_kept_as_written(tmp_path: Path) -> None:
    shutil.copy(LIBRARY / "catalog.openapi.yaml", tmp_path)
    [loaded] = load_documents([write(tmp_path, SERVICE + "  traffic: {maxResponseBytes: 52428800}\n")])
    assert isinstance(loaded.resource, Service) and loaded.resource.spec.traffic is not None
    assert loaded.resource.spec.traffic.stored() == {"maxResponseBytes": 52428800}


def test_error_in_second_document_names_it(tmp_path: Path) -> None:
    shutil.copy(LIBRARY / "catalog.openapi.yaml", tmp_path)
    ok = "apiVersion: loom.dev/v1alpha1\nkind: Team\nmetadata: {name: library}\n"
    bad = SERVICE.replace("cluster: us-east", "cluster: 42")
    with pytest.raises(
        Invalid, match=r"^services\.yaml: document 2 \(Service/catalog\): spec\.deployments\[0\]\.cluster"
    ):
        load_documents([write(tmp_path, ok + "---\n" + bad, "services.yaml")])


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    team = "apiVersion: loom.dev/v1alpha1\nkind: Team\nmetadata: {name: library}\n"
    a = write(tmp_path, team, "a.yaml")
    b = write(tmp_path, "---\n" + team, "b.yaml")
    with pytest.raises(
        Invalid, match=r"b\.yaml: document 1 \(Team/library\): metadata\.name: duplicate Team 'library'"
    ):
        load_documents([a, b])


def test_missing_schema_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match=r"spec\.schema\.file: catalog\.openapi\.yaml not found"):
        load_documents([write(tmp_path, SERVICE)])


def test_schema_must_match_protocol(tmp_path: Path) -> None:
    text = SERVICE.replace("schema: {file: catalog.openapi.yaml}", "schema: {sdl: 'type Query { a: Int }'}")
    with pytest.raises(Invalid, match=r"spec: an openapi service takes schema.openapi or schema.file"):
        load_documents([write(tmp_path, text)])


def test_document_and_schema_size_limits(tmp_path: Path) -> None:
    shutil.copy(LIBRARY / "catalog.openapi.yaml", tmp_path)
    path = write(tmp_path, SERVICE)
    with pytest.raises(Invalid, match=r"res\.yaml is \d+ bytes, over the limit of 100 bytes"):
        load_documents([path], max_bytes=100)
    size = (tmp_path / "catalog.openapi.yaml").stat().st_size
    with pytest.raises(Invalid, match=r"spec\.schema\.file: schema file catalog\.openapi\.yaml is \d+ bytes"):
        load_documents([path], max_bytes=size - 1)
    raw = {"apiVersion": "loom.dev/v1alpha1", "kind": "Team", "metadata": {"name": "t", "description": "x" * 500}}
    with pytest.raises(Invalid, match="request: document 1 is"):
        parse_documents([raw], max_bytes=200)


def test_file_schemas_are_refused_without_a_base_directory() -> None:
    raw = {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": "s", "team": "t"},
        "spec": {"protocol": "graphql", "schema": {"file": "/etc/passwd"}},
    }
    with pytest.raises(Invalid, match="inline the schema"):
        parse_documents([raw])
