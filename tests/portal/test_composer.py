"""Composing products: from stored rows (SQLite and PostgreSQL) and offline with ``loom compose`` from YAML alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from portal.authorization import Actor
from portal.cli import main
from portal.composer import compose_product, source_specs_for
from portal.db import session_scope
from portal.manifests import load_documents
from portal.models import Product, ProductVersion
from portal.resources import apply
from stitcher.ir import SourceKind
from stitcher.supergraph import load_supergraph
from tests.portal._apply import LIBRARY, library_copy, library_with_a_clash


def current_version(session: Session, name: str) -> ProductVersion:
    product = session.exec(select(Product).where(Product.name == name)).one()
    return session.exec(
        select(ProductVersion).where(
            ProductVersion.product_id == product.id, ProductVersion.version == product.current_version
        )
    ).one()


def test_specs_and_composition_from_stored_rows(engine: Engine) -> None:
    with session_scope(engine) as session:
        apply(session, Actor.system(), load_documents([LIBRARY]))
    with session_scope(engine) as session:
        version = current_version(session, "library")
        specs = source_specs_for(session, version)
        assert [(s.name, s.protocol) for s in specs] == [
            ("members", SourceKind.FEDERATION),
            ("loans", SourceKind.GRAPHQL),
            ("catalog", SourceKind.OPENAPI),
        ]
        assert specs[0].url == "http://127.0.0.1:7301"  # the first address deployment
        assert specs[2].url is None  # kube deployments are reached through Gloo, not from the portal
        supergraph = compose_product(session, version)
        query = supergraph.schema.query_type
        assert query is not None and {"member", "loan", "getBook"} <= set(query.fields)
        # apply stored the composed product with the version
        assert version.composed_sdl is not None and "loansByMemberIds" in version.composed_sdl
        assert version.supergraph_sdl is not None and "join__Graph" in version.supergraph_sdl


def test_compose_offline_prints_product_sdl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No database is reachable here on purpose: compose must not need one."""
    monkeypatch.setenv("LOOM_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["compose", "-f", str(LIBRARY), "--product", "library-eu"]) == 0
    out = capsys.readouterr().out
    assert "member(id: ID!): Member" in out and "getBook(isbn: String!): Book" in out
    assert "loan(" not in out  # library-eu has no loans source


def test_compose_supergraph_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    files = ["-f", str(LIBRARY / "services.yaml"), "-f", str(LIBRARY / "product.yaml")]
    assert main(["compose", "--product", "library", "--supergraph", *files]) == 0
    supergraph = capsys.readouterr().out
    assert '@join__graph(name: "members"' in supergraph and "enum join__Graph" in supergraph
    assert main(["compose", "-f", str(LIBRARY), "--product", "library", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["product"] == "library" and data["subgraphs"] == ["catalog", "loans", "members"]
    assert "type Query" in data["sdl"]


def test_compose_lists_conflicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = library_with_a_clash(tmp_path / "lib")
    assert main(["compose", "-f", str(folder), "--product", "library"]) == 1
    err = capsys.readouterr().err
    assert "product 'library' does not compose" in err
    assert '- Member.displayName: "String!" in service "members" vs "Int" in service "loans"' in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "name the product to compose with --product (products in the files: library, library-eu)"),
        (["--product", "shop"], "no Product 'shop' in the files (products there: library, library-eu)"),
    ],
)
def test_compose_bad_product_choice(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compose", "-f", str(LIBRARY), *args]) == 1
    assert capsys.readouterr().err.strip() == f"loom: error: {message}"


def test_compose_names_a_missing_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compose", "-f", str(LIBRARY / "product.yaml"), "--product", "library"]) == 1
    err = capsys.readouterr().err
    assert "product.yaml: document 1 (Product/library): spec.sources[0].service: no Service 'members'" in err


def test_compose_supergraph_carries_what_the_gateway_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: the printed supergraph lost the REST binding of OpenAPI sources (404 when served) and gave
    Kubernetes-deployed sources ``url: ""``. The sources ride along (@loom__source) and a Kubernetes deployment is
    reached by its cluster DNS name, as the portal's snapshot does."""
    assert main(["compose", "-f", str(LIBRARY), "--product", "library", "--supergraph"]) == 0
    sdl = capsys.readouterr().out
    assert 'url: ""' not in sdl
    assert '@join__graph(name: "loans", url: "http://loans.library.svc.cluster.local:8080")' in sdl
    loaded = load_supergraph(sdl)
    catalog = loaded.subgraphs["catalog"]
    assert catalog.kind is SourceKind.OPENAPI and catalog.rest is not None
    assert catalog.url == "http://catalog.library.svc.cluster.local:8080"
    assert loaded.subgraphs["loans"].kind is SourceKind.GRAPHQL


def test_compose_supergraph_refuses_a_service_with_no_deployment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library_copy(tmp_path / "lib")
    services = folder / "services.yaml"
    text = services.read_text()
    without = re.sub(r"(schema: \{file: loans\.graphql\}\n)  deployments:\n(    - .*\n)+", r"\1", text)
    assert without != text
    services.write_text(without)
    assert main(["compose", "-f", str(folder), "--product", "library", "--supergraph"]) == 1
    assert capsys.readouterr().err.strip() == (
        "loom: error: service(s) loans have no deployment (an address or a Kubernetes service), so a supergraph "
        "could not say where the gateway reaches them; add one to spec.deployments, or leave out --supergraph to "
        "print the product's schema"
    )
    assert main(["compose", "-f", str(folder), "--product", "library"]) == 0  # the product's schema needs no URL


def test_compose_takes_the_products_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = library_copy(tmp_path / "lib")
    product = folder / "product.yaml"
    link = "{type: Loan, field: profile, service: members, operation: member, arguments: {id: memberId}}"
    text = product.read_text()
    product.write_text(
        text.replace(
            "  sources: [{service: members}, {service: loans}, {service: catalog}]\n",
            (f"  sources: [{{service: members}}, {{service: loans}}, {{service: catalog}}]\n  links: [{link}]\n"),
            1,
        )
    )
    assert main(["compose", "-f", str(folder), "--product", "library"]) == 0
    assert "  profile: Member\n" in capsys.readouterr().out
    assert main(["compose", "-f", str(folder), "--product", "library", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["subgraphs"] == ["catalog", "loans", "members"]  # the services
    product.write_text(product.read_text().replace("operation: member,", "operation: memberById,"))
    assert main(["compose", "-f", str(folder), "--product", "library"]) == 1
    err = capsys.readouterr().err
    assert '- links[0].operation: service "members" has no Query field or operation memberById' in err
