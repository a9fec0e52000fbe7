"""``apply``/``get``/``delete`` through a real database (SQLite and PostgreSQL): the library example applies as it is,
``get`` round-trips, and every bad document is refused with a path and changes nothing."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.authorization import Actor
from portal.db import session_scope
from portal.errors import Conflict, Forbidden, Invalid, LoomError, NotFound
from portal.manifests import Document, load_documents, parse_documents
from portal.models import (
    AuditEvent,
    AuditOutcome,
    Product,
    ProductVersion,
    Role,
    Service,
    ServiceDeployment,
    ServiceVersion,
)
from portal.resources import apply_json, delete, get
from tests.portal._apply import ADMIN, LIBRARY, counts, library_copy, run

pytestmark = pytest.mark.postgres


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A private copy of the library example that a test may edit."""
    return library_copy(tmp_path / "library")


def refused(engine: Engine, documents: list[Document], error: type[LoomError], match: str, actor: Actor = ADMIN) -> str:
    before = counts(engine)
    with pytest.raises(error, match=match) as info:
        run(engine, documents, actor)
    assert counts(engine) == before, "a refused apply must change nothing"
    return str(info.value)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_library_applies_then_is_unchanged_and_get_round_trips(engine: Engine) -> None:
    docs = load_documents([LIBRARY])
    first = run(engine, docs)
    assert len(first) == 12 and all(" created" in line for line in first)
    assert all(line.endswith("unchanged") for line in run(engine, docs))

    with session_scope(engine) as session:
        printed = [r for kind in ("cluster", "teams", "Plan", "service", "product") for r in get(session, ADMIN, kind)]
    assert sorted(r["metadata"]["name"] for r in printed) == sorted(d.name for d in docs)
    again = run(engine, parse_documents(printed))
    assert all(line.endswith("unchanged") for line in again), again

    with session_scope(engine) as session:
        catalog = get(session, ADMIN, "service", "catalog")[0]
        assert catalog["metadata"] == {"name": "catalog", "team": "library"}
        assert "operationId: getBook" in catalog["spec"]["schema"]["openapi"]
        library = get(session, ADMIN, "product", "library")[0]
        assert library["spec"]["sources"] == [{"service": "members"}, {"service": "loans"}, {"service": "catalog"}]
        assert library["spec"]["lifecycle"] == "published"
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "service.publish")).all()
        assert {e.target_name for e in events} == {"members", "loans", "catalog"}
        assert all(e.actor == "test-admin" and e.outcome is AuditOutcome.ALLOWED for e in events)


def test_dry_run_reports_and_writes_nothing(engine: Engine) -> None:
    before = counts(engine)
    lines = run(engine, load_documents([LIBRARY]), dry_run=True)
    assert "service/catalog created (version 1)" in lines
    assert counts(engine) == before


def test_new_schema_makes_a_new_immutable_version_only_when_it_changes(engine: Engine, library: Path) -> None:
    run(engine, load_documents([library]))
    edit(library / "members.graphql", "joinedYear: Int", "joinedYear: Int\n  nickname: String")
    lines = run(engine, load_documents([library]))
    assert "service/members updated (version 2)" in lines
    assert "service/loans unchanged" in lines
    assert "service/members updated (version 2)" not in run(engine, load_documents([library]))
    with Session(engine) as session:
        members = session.exec(select(Service).where(Service.name == "members")).one()
        versions = session.exec(
            select(ServiceVersion).where(ServiceVersion.service_id == members.id).order_by(col(ServiceVersion.version))
        ).all()
        assert [v.version for v in versions] == [1, 2] and members.current_version == 2
        assert "nickname" not in versions[0].schema_text and "nickname" in versions[1].schema_text
        assert versions[0].schema_hash != versions[1].schema_hash
        assert {v.created_by for v in versions} == {"test-admin"}


def test_deployments_change_with_the_service(engine: Engine, library: Path) -> None:
    run(engine, load_documents([library]))
    edit(
        library / "services.yaml",
        '    - {cluster: us-west, address: "http://127.0.0.1:7302", healthCheck: {path: /healthz}}\n',
        "",
    )
    lines = run(engine, load_documents([library]))
    assert "service/members updated (deployments)" in lines
    with Session(engine) as session:
        members = session.exec(select(Service).where(Service.name == "members")).one()
        rows = session.exec(select(ServiceDeployment).where(ServiceDeployment.service_id == members.id)).all()
        assert sorted(r.address or "" for r in rows) == ["http://127.0.0.1:7301", "http://127.0.0.1:7303"]


BAD_EDITS: list[tuple[str, str, str, type[LoomError], str]] = [
    (
        "services.yaml",
        "{cluster: us-west, address",
        "{cluster: ap-south, address",
        Invalid,
        r"services\.yaml: document 1 \(Service/members\): spec\.deployments\[1\]\.cluster: Cluster 'ap-south' "
        r"does not exist",
    ),
    (
        "services.yaml",
        "metadata: {name: loans, team: library}",
        "metadata: {name: loans, team: lending}",
        Invalid,
        r"services\.yaml: document 2 \(Service/loans\): metadata\.team: Team 'lending' does not exist",
    ),
    (
        "product.yaml",
        "{service: loans}",
        "{service: fines}",
        Invalid,
        r"product\.yaml: document 1 \(Product/library\): spec\.sources\[1\]\.service: Service 'fines' does not",
    ),
    (
        "product.yaml",
        "routing: {clusters: [eu-central], residency: eu}",
        "routing: {clusters: [eu-central], residency: ch}",
        Invalid,
        r"document 2 \(Product/library-eu\): spec\.routing\.residency: no cluster has residency 'ch'",
    ),
    (
        "services.yaml",
        "{cluster: eu-central, kube: {service: loans, namespace: library",
        "{cluster: eu-central, kube: {service: loans, namespace: finance",
        Forbidden,
        r"\(Service/loans\): spec\.deployments\[1\]\.kube\.namespace: team 'library' is not granted namespace "
        r"'finance' in cluster 'eu-central'",
    ),
    (
        "services.yaml",
        "{cluster: us-east, kube: {service: catalog",
        "{cluster: us-west, kube: {service: catalog",
        Forbidden,
        r"\(Service/catalog\): spec\.deployments\[0\]\.cluster: team 'library' is not granted cluster 'us-west'",
    ),
    (
        "members.graphql",
        "tier: Tier!",
        "tier: Tierr!",
        Invalid,
        r"\(Service/members\): spec\.schema: service 'members': members\.graphql: .*Tierr",
    ),
    (
        "loans.graphql",
        "type Loan {",
        "type Loan {{",
        Invalid,
        r"\(Service/loans\): spec\.schema: service 'loans': loans\.graphql: line 7, column 12: SDL does not parse",
    ),
    (
        "catalog.openapi.yaml",
        "$ref: '#/components/schemas/Problem'",
        "$ref: '#/components/schemas/Trouble'",
        Invalid,
        r"\(Service/catalog\): spec\.schema: service 'catalog': catalog\.openapi\.yaml: \$ref "
        r"'#/components/schemas/Trouble' .* points at nothing",
    ),
    (
        "catalog.openapi.yaml",
        "info: {title: Catalog, version: 2.1.0}",
        "info: {title: Catalog, version: 2.1.0",
        Invalid,
        r"\(Service/catalog\): spec\.schema: service 'catalog': catalog\.openapi\.yaml: line \d+, column \d+: "
        r"invalid YAML",
    ),
]


def test_bad_library_is_refused_whole(engine: Engine, tmp_path: Path) -> None:
    """Each case spoils one of the twelve documents; one bad document means none of them is written. (One
    database for all cases: ``refused`` checks that each leaves it as it was.)"""
    for number, (file, old, new, error, match) in enumerate(BAD_EDITS):
        folder = library_copy(tmp_path / f"case-{number}")
        edit(folder / file, old, new)
        refused(engine, load_documents([folder]), error, match)


def test_duplicate_names_in_one_apply(engine: Engine) -> None:
    docs = load_documents([LIBRARY / "clusters.yaml"])
    refused(engine, docs + docs[:1], Invalid, r"document 1 \(Cluster/us-east\): metadata\.name: duplicate Cluster")


def test_references_may_point_at_existing_rows(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY / "clusters.yaml", LIBRARY / "teams.yaml"]))
    lines = run(engine, load_documents([LIBRARY / "services.yaml"]))
    assert lines == ["service/members created (version 1)", "service/loans created (version 1)",
                     "service/catalog created (version 1)"]  # fmt: skip


def test_over_size_limit_through_the_api_entry(engine: Engine) -> None:
    team = {"apiVersion": "loom.dev/v1alpha1", "kind": "Team", "metadata": {"name": "big", "description": "x" * 400}}
    before = counts(engine)
    with session_scope(engine) as session, pytest.raises(Invalid, match=r"request: document 1 is \d+ bytes, over"):
        apply_json(session, ADMIN, [team], max_bytes=256)
    assert counts(engine) == before
    with session_scope(engine) as session:
        changes = apply_json(session, ADMIN, [team])
    assert changes == [{"kind": "Team", "name": "big", "action": "created", "details": []}]


def member_of(team: str, role: Role = Role.TEAM_MEMBER) -> Actor:
    return Actor(user_id=42, name="bob", team_roles=MappingProxyType({team: role}))


def test_team_member_may_not_act_on_another_teams_service(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))
    docs = [d for d in load_documents([LIBRARY / "services.yaml"]) if d.name == "loans"]
    message = refused(engine, docs, Forbidden, r"lacks permission 'service.publish'", actor=member_of("identity"))
    assert message.startswith("services.yaml: document 2 (Service/loans)")
    with Session(engine) as session:
        denied = session.exec(select(AuditEvent).where(AuditEvent.outcome == AuditOutcome.DENIED)).all()
        assert [(e.actor, e.action, e.target_name) for e in denied] == [("bob", "service.publish", "loans")]
    assert run(engine, docs, member_of("library")) == ["service/loans unchanged"]


def test_moving_a_service_to_another_team_needs_rights_in_its_current_team(engine: Engine, library: Path) -> None:
    run(engine, load_documents([library]))
    edit(library / "services.yaml", "metadata: {name: loans, team: library}", "metadata: {name: loans, team: identity}")
    docs = [d for d in load_documents([library]) if d.name == "loans"]
    refused(engine, docs, Forbidden, r"lacks permission 'service.publish' on service 'loans' of team 'library'",
            actor=member_of("identity"))  # fmt: skip
    refused(engine, docs, Invalid, r"metadata\.team: service 'loans' belongs to team 'library'")


def test_viewer_and_team_roles_for_platform_kinds(engine: Engine) -> None:
    docs = load_documents([LIBRARY / "clusters.yaml"])
    refused(engine, docs, Forbidden, r"lacks permission 'cluster.apply'", actor=member_of("library", Role.TEAM_ADMIN))


def test_product_lifecycle_and_version_rules(engine: Engine, library: Path) -> None:
    run(engine, load_documents([library]))
    product = library / "product.yaml"
    edit(product, "version: 1.0.0\n  lifecycle: published\n  sources: [{service: members}, {service: loans}",
         "version: 1.0.0\n  lifecycle: draft\n  sources: [{service: members}, {service: loans}")  # fmt: skip
    refused(engine, load_documents([library]), Invalid,
            r"\(Product/library\): spec\.lifecycle: version 1\.0\.0 is published and cannot become draft")  # fmt: skip
    edit(product, "lifecycle: draft\n  sources: [{service: members}, {service: loans}, {service: catalog}]",
         "lifecycle: published\n  sources: [{service: members}, {service: loans}]")  # fmt: skip
    refused(engine, load_documents([library]), Invalid,
            r"\(Product/library\): spec\.sources: version 1\.0\.0 is published, so its sources are fixed")  # fmt: skip
    edit(product, "sources: [{service: members}, {service: loans}]",
         "sources: [{service: members}, {service: loans}, {service: catalog}]\n"
         "  rest: [{method: GET, path: /members, operation: '{ members { id } }'}]")  # fmt: skip
    refused(engine, load_documents([library]), Invalid,
            r"spec\.rest: version 1\.0\.0 is published, so its REST routes are fixed")  # fmt: skip
    edit(product, "sources: [{service: members}, {service: loans}, {service: catalog}]\n"
         "  rest: [{method: GET, path: /members, operation: '{ members { id } }'}]",
         "sources: [{service: members}, {service: loans}]")  # fmt: skip
    edit(product, "version: 1.0.0\n  lifecycle: published\n  sources: [{service: members}, {service: loans}]",
         "version: 0.9.0\n  lifecycle: published\n  sources: [{service: members}, {service: loans}]")  # fmt: skip
    refused(engine, load_documents([library]), Invalid, r"spec\.version: version 0\.9\.0 is older than the newest")
    edit(product, "version: 0.9.0", "version: 1.1.0")
    # 1.1.0 drops the catalog source: the published API loses its fields and REST operations, so it is forced.
    refused(engine, load_documents([library]), Conflict,
            r"would break the API of published product 'library': .*Field Query\.getBook was removed")  # fmt: skip
    assert "product/library updated (version 1.1.0)" in run(engine, load_documents([library]), force=True)
    edit(product, "version: 1.1.0\n  lifecycle: published", "version: 1.1.0\n  lifecycle: deprecated")
    assert "product/library updated (lifecycle published -> deprecated)" in run(engine, load_documents([library]))
    with Session(engine) as session:
        row = session.exec(select(Product).where(Product.name == "library")).one()
        versions = session.exec(select(ProductVersion).where(ProductVersion.product_id == row.id)).all()
        assert row.current_version == "1.1.0"
        assert sorted((v.version, v.lifecycle.value) for v in versions) == [
            ("1.0.0", "published"),
            ("1.1.0", "deprecated"),
        ]


def test_product_transforms_and_plans_round_trip(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))
    product = {
        "apiVersion": "loom.dev/v1alpha1",
        "kind": "Product",
        "metadata": {"name": "shelf", "team": "library", "description": "books and loans"},
        "spec": {
            "version": "0.1.0",
            "sources": [{"service": "catalog", "prefix": "Cat", "hide": ["Query.listBooks"]}, {"service": "loans"}],
            "rest": [{"method": "GET", "path": "/loans/{id}", "operation": "query($id: ID!) { loan(id: $id) { id } }"}],
            "routing": {"clusters": ["us-east"]},
            "plans": ["basic"],
        },
    }
    assert run(engine, parse_documents([product])) == ["product/shelf created (version 0.1.0)"]
    with session_scope(engine) as session:
        (printed,) = get(session, ADMIN, "products", "shelf")
    assert printed == product
    assert run(engine, parse_documents([printed])) == ["product/shelf unchanged"]


def test_delete_refuses_while_referenced(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))

    def remove(kind: str, name: str) -> None:
        with session_scope(engine) as session:
            delete(session, ADMIN, kind, name)

    with pytest.raises(Conflict, match=r"Cluster 'us-west' is still used by a deployment of service 'members'"):
        remove("cluster", "us-west")
    with pytest.raises(Conflict, match=r"Service 'catalog' is still used by product 'library' 1\.0\.0"):
        remove("service", "catalog")
    with pytest.raises(Conflict, match=r"Team 'library' is still used by service 'loans'"):
        remove("team", "library")
    with pytest.raises(NotFound, match="Plan 'gold' not found"):
        remove("plan", "gold")
    remove("product", "library")
    remove("product", "library-eu")
    remove("service", "catalog")
    with session_scope(engine) as session:
        assert [s["metadata"]["name"] for s in get(session, ADMIN, "service")] == ["loans", "members"]
        with pytest.raises(NotFound):
            get(session, ADMIN, "service", "catalog")
        deleted = session.exec(select(AuditEvent).where(AuditEvent.action == "service.delete")).all()
        assert [e.target_name for e in deleted] == ["catalog"]


def test_team_member_may_not_delete_another_teams_service(engine: Engine) -> None:
    run(engine, load_documents([LIBRARY]))
    before = counts(engine)
    with session_scope(engine) as session, pytest.raises(Forbidden, match=r"lacks permission 'service\.delete'"):
        delete(session, member_of("identity", Role.TEAM_ADMIN), "service", "loans")
    assert counts(engine) == before


def test_a_products_display_name_and_tags_apply_round_trip_and_change_without_a_new_version(
    engine: Engine, library: Path
) -> None:
    """Issue 9: the catalog shows a product's display name and filters by its tags, so a Product resource sets them."""
    product = library / "product.yaml"
    edit(
        product,
        "metadata: {name: library, team: storefront}",
        "metadata: {name: library, team: storefront, displayName: The Library, tags: [books, lending]}",
    )
    run(engine, load_documents([library]))
    with session_scope(engine) as session:
        [printed] = get(session, ADMIN, "product", "library")
        assert printed["metadata"] == {
            "name": "library",
            "team": "storefront",
            "displayName": "The Library",
            "tags": ["books", "lending"],
        }
        row = session.exec(select(Product).where(Product.name == "library")).one()
        assert (row.display_name, row.tags) == ("The Library", ["books", "lending"])

    edit(product, "tags: [books, lending]", "tags: [books]")
    lines = run(engine, load_documents([library]))
    assert "product/library updated (tags)" in lines  # a published version's sources are fixed; its tags are not
    with session_scope(engine) as session:
        versions = session.exec(select(ProductVersion)).all()
        assert sorted(v.version for v in versions) == ["1.0.0", "1.0.0"]  # library and library-eu: no new version

    edit(product, "tags: [books]", "tags: [Books, books]")
    with pytest.raises(Invalid, match=r"metadata\.tags: .*tag 'Books': use lower-case letters, digits and '-'"):
        load_documents([library])
