"""Publishing: SDL and OpenAPI validation (with relative ``$ref`` files), and the refusal of a publish that breaks a
published product's composition unless its team admin forces it (audited). DB tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from portal.authorization import Actor
from portal.composer import print_product
from portal.db import session_scope
from portal.errors import Conflict, Forbidden, Invalid
from portal.manifests import Document, load_documents, parse_documents
from portal.models import AuditEvent, AuditOutcome, Service, ServiceVersion
from portal.publishing import schema_hash, validate_schema
from portal.resources import get
from portal.resources.composition import ProductAfter, compose_after
from stitcher.ir import EntityKey
from tests.portal._apply import ADMIN, LIBRARY, counts, library_copy, library_with_a_clash, run

PETS_30 = """\
openapi: 3.0.3
info: {title: Pets, version: '1'}
paths:
  /pets/{id}:
    get:
      operationId: getPet
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        '200':
          description: a pet
          content: {application/json: {schema: {$ref: 'schemas/pet.yaml#/Pet'}}}
"""
PLAIN = """\
openapi: 3.0.3
info: {title: T, version: '1'}
paths:
  /ping:
    get:
      responses: {'200': {description: ok}}
"""
PET_FILE = """\
Pet:
  type: object
  properties:
    id: {type: string}
    owner: {$ref: 'owner.yaml#/Owner'}
"""
OWNER_FILE = "Owner: {type: object, properties: {name: {type: string}}}\n"

SWAGGER_20 = {
    "swagger": "2.0",
    "info": {"title": "Old", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "operationId": "listThings",
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Thing"}}},
            }
        }
    },
    "definitions": {"Thing": {"type": "object", "properties": {"id": {"type": "string"}}}},
}

OPENAPI_31 = {
    "openapi": "3.1.0",
    "info": {"title": "New", "version": "1"},
    "paths": {
        "/widgets": {
            "get": {
                "operationId": "listWidgets",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"type": ["array", "null"], "items": {"type": "string"}}}
                        },
                    }
                },
            }
        }
    },
}


def pets_folder(tmp_path: Path) -> Path:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "pets.yaml").write_text(PETS_30)
    (tmp_path / "schemas" / "pet.yaml").write_text(PET_FILE)
    (tmp_path / "schemas" / "owner.yaml").write_text(OWNER_FILE)
    return tmp_path


# --- validation (no database) ----------------------------------------------------------------------------------


def test_openapi_versions_json_and_yaml_parse() -> None:
    assert validate_schema("old", "openapi", json.dumps(SWAGGER_20)).files == {}
    assert validate_schema("new", "openapi", json.dumps(OPENAPI_31)).files == {}
    validated = validate_schema("catalog", "openapi", (LIBRARY / "catalog.openapi.yaml").read_text())
    assert validated.hash == schema_hash(validated.text)


def test_relative_ref_files_are_collected_beside_the_document(tmp_path: Path) -> None:
    folder = pets_folder(tmp_path)
    validated = validate_schema("pets", "openapi", PETS_30, where="pets.yaml", base_dir=folder)
    assert validated.files == {"schemas/pet.yaml": PET_FILE, "schemas/owner.yaml": OWNER_FILE}
    # The same files given inline (as `loom get` prints them) validate without a folder.
    again = validate_schema("pets", "openapi", PETS_30, files=validated.files)
    assert again.hash == validated.hash != schema_hash(PETS_30)


@pytest.mark.parametrize(
    ("text", "files", "match"),
    [
        (
            PETS_30,
            None,
            r"service 'pets': pets\.yaml: \$ref 'schemas/pet\.yaml#/Pet' at /paths/~1pets~1\{id\}/get/responses/200/"
            r"content/application~1json/schema: schemas/pet\.yaml not found beside it",
        ),
        (PETS_30, {}, r"\$ref 'schemas/pet\.yaml#/Pet' at .*: file schemas/pet\.yaml was not provided"),
        (
            PETS_30.replace("schemas/pet.yaml#/Pet", "../secrets.yaml#/X"),
            None,
            r"\$ref '\.\./secrets\.yaml#/X' .* leaves the schema's folder",
        ),
        (
            PETS_30.replace("schemas/pet.yaml#/Pet", "https://example.org/pet.yaml"),
            None,
            r"\$ref 'https://example\.org/pet\.yaml' .* is not relative",
        ),
        (
            PETS_30.replace("#/Pet", "#/Cat"),
            {"schemas/pet.yaml": PET_FILE},
            r"\$ref 'schemas/pet\.yaml#/Cat' .* points at nothing",
        ),
        ("openapi: 4.0.0\ninfo: {}\npaths: {}\n", None, r"not an OpenAPI 2\.0, 3\.0 or 3\.1 document"),
        ('{"openapi": "3.0.0", "paths": {', None, r"pets\.yaml: line 1, column \d+: invalid JSON"),
        ("- a\n- list\n", None, "must be a mapping"),
        ("openapi: 3.0.0\ninfo: {title: x, version: '1'}\n", None, "needs a 'paths' mapping"),
        (PETS_30.replace("info: {title: Pets, version: '1'}", "info: {title: Pets}"), {}, r"info\.version: required"),
        (PETS_30.replace("info: {title: Pets, version: '1'}\n", ""), {}, r"pets\.yaml: info: required by OpenAPI"),
        (
            PLAIN + "  /pets:\n    get: listPets\n",
            None,
            r"paths\./pets\.get: an operation must be a mapping \(got str: 'listPets'\)",
        ),
        (
            PLAIN + "  /owners: [get]\n",
            None,
            r"paths\./owners: a path item must be a mapping",
        ),
        (
            PLAIN + "  /pets:\n    post:\n      requestBody: {}\n      responses: {'201': {description: ok}}\n",
            None,
            r"would lose part of the API: .*request body has no content; skipped",
        ),
        (
            "openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n",
            None,
            r"it has no operation at all \(only the placeholder field Query\._empty would be left\)",
        ),
    ],
)
def test_bad_openapi_names_service_file_and_position(
    tmp_path: Path, text: str, files: dict[str, str] | None, match: str
) -> None:
    folder = tmp_path / "api"
    folder.mkdir()
    base = folder if files is None else None
    with pytest.raises(Invalid, match=match):
        validate_schema("pets", "openapi", text, where="pets.yaml", base_dir=base, files=files)


@pytest.mark.parametrize(
    ("protocol", "sdl", "match"),
    [
        ("graphql", "type Query { a: Int", r"service 'svc': svc\.graphql: line 1, column 20: SDL does not parse"),
        ("graphql", "type Query { a: Missing }", r"service 'svc': svc\.graphql: .*Missing"),
        (
            "federation",
            'type Query { a: A }\ntype A @key(fields: "nope") { id: ID! }',
            r"service 'svc': svc\.graphql: .*nope",
        ),
        ("graphql", "   ", "the schema is empty"),
    ],
)
def test_bad_sdl_names_service_and_file(protocol: str, sdl: str, match: str) -> None:
    with pytest.raises(Invalid, match=match):
        validate_schema("svc", protocol, sdl, where="svc.graphql")


def test_good_sdl_builds() -> None:
    validate_schema("members", "federation", (LIBRARY / "members.graphql").read_text())
    validate_schema("loans", "graphql", (LIBRARY / "loans.graphql").read_text())


# --- through the database (the engine fixture runs each on SQLite and on PostgreSQL) ----------------------------


def breaking_loans(tmp_path: Path) -> list[Document]:
    """The library's loans service with a Member type that clashes with the members service's."""
    return [d for d in load_documents([library_with_a_clash(tmp_path / "lib")]) if d.name == "loans"]


def roles(**team_roles: str) -> Actor:
    from portal.models import Role

    return Actor(user_id=7, name="carol", team_roles=MappingProxyType({t: Role(r) for t, r in team_roles.items()}))


def test_publish_that_breaks_a_published_product_is_refused(engine: Engine, tmp_path: Path) -> None:
    run(engine, load_documents([LIBRARY]))
    before = counts(engine)
    with pytest.raises(Conflict) as info:
        run(engine, breaking_loans(tmp_path))
    message = str(info.value)
    assert "publishing loans would break the composition of published product 'library'" in message
    assert 'Member.displayName: "String!" in service "members" vs "Int" in service "loans"' in message
    assert "force it as a team admin of team 'storefront'" in message
    assert counts(engine) == before


def test_force_needs_the_products_team_admin_and_is_audited(engine: Engine, tmp_path: Path) -> None:
    run(engine, load_documents([LIBRARY]))
    docs = breaking_loans(tmp_path)
    before = counts(engine)
    with pytest.raises(Forbidden, match=r"lacks permission 'service\.publish\.force' on product 'library'"):
        run(engine, docs, roles(library="team-member"), force=True)
    assert counts(engine) == before
    lines = run(engine, docs, roles(library="team-member", storefront="team-admin"), force=True)
    assert lines == ["service/loans updated (version 2)"]
    with Session(engine) as session:
        forced = session.exec(select(AuditEvent).where(AuditEvent.action == "service.publish.force")).all()
        assert [(e.actor, e.target_name, e.outcome) for e in forced] == [
            ("carol", "library", AuditOutcome.DENIED),
            ("carol", "library", AuditOutcome.ALLOWED),
        ]
        assert "displayName" in json.dumps(forced[1].summary)


def test_draft_products_do_not_block_a_publish(engine: Engine, tmp_path: Path) -> None:
    docs = load_documents([LIBRARY])
    drafts = parse_documents(
        [
            {**d.resource.model_dump(by_alias=True, exclude_none=True), "spec": {
                **d.resource.model_dump(by_alias=True, exclude_none=True)["spec"], "lifecycle": "draft"}}
            for d in docs
            if d.kind == "Product"
        ]
    )  # fmt: skip
    others = [d for d in docs if d.kind != "Product"]
    run(engine, [*others, *drafts])
    assert run(engine, breaking_loans(tmp_path)) == ["service/loans updated (version 2)"]


def test_relative_ref_files_are_stored_with_the_version_and_round_trip(engine: Engine, tmp_path: Path) -> None:
    run(engine, load_documents([LIBRARY / "clusters.yaml", LIBRARY / "teams.yaml"]))
    folder = pets_folder(tmp_path)
    (folder / "pets-service.yaml").write_text(
        "apiVersion: loom.dev/v1alpha1\nkind: Service\nmetadata: {name: pets, team: library}\n"
        "spec: {protocol: openapi, schema: {file: pets.yaml}}\n"
    )
    assert run(engine, load_documents([folder / "pets-service.yaml"])) == ["service/pets created (version 1)"]
    with session_scope(engine) as session:
        pets = session.exec(select(Service).where(Service.name == "pets")).one()
        version = session.exec(select(ServiceVersion).where(ServiceVersion.service_id == pets.id)).one()
        assert version.schema_files == {"schemas/pet.yaml": PET_FILE, "schemas/owner.yaml": OWNER_FILE}
        (printed,) = get(session, ADMIN, "service", "pets")
    assert printed["spec"]["schema"] == {"openapi": PETS_30, "files": version.schema_files}
    assert run(engine, parse_documents([printed])) == ["service/pets unchanged"]
    (folder / "schemas" / "owner.yaml").write_text(OWNER_FILE.replace("name", "fullName"))
    assert run(engine, load_documents([folder / "pets-service.yaml"])) == ["service/pets updated (version 2)"]
    with Session(engine) as session:
        versions = session.exec(select(ServiceVersion).order_by(col(ServiceVersion.version))).all()
        assert [v.schema_files["schemas/owner.yaml"] for v in versions] == [
            OWNER_FILE,
            OWNER_FILE.replace("name", "fullName"),
        ]


# --- breaking changes to a published product (issue #6: "no published product changes silently") -----------------


def test_removing_a_field_of_a_published_product_is_refused_unless_its_owner_forces_it(
    engine: Engine, tmp_path: Path
) -> None:
    library = library_copy(tmp_path / "lib")
    run(engine, load_documents([library]))
    text = (library / "members.graphql").read_text()
    (library / "members.graphql").write_text(text.replace("  tier: Tier!\n", ""))
    members = [d for d in load_documents([library]) if d.name == "members"]
    before = counts(engine)
    with pytest.raises(Conflict) as info:
        run(engine, members)
    message = str(info.value)
    assert "publishing members would break the API of published product 'library': " in message
    assert "Field Member.tier was removed" in message and "(--force)" in message
    assert "published product 'library-eu'" not in message  # one product at a time, the first by name
    assert counts(engine) == before
    with pytest.raises(Forbidden, match=r"lacks permission 'service\.publish\.force' on product 'library'"):
        run(engine, members, roles(identity="team-admin"), force=True)
    assert counts(engine) == before
    lines = run(engine, members, roles(identity="team-admin", storefront="team-admin"), force=True)
    assert lines == ["service/members updated (version 2)"]
    with Session(engine) as session:
        forced = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "service.publish.force", AuditEvent.outcome == AuditOutcome.ALLOWED
            )
        ).all()
        assert sorted(e.target_name for e in forced) == ["library", "library-eu"]
        assert all("Field Member.tier was removed" in e.summary["breaking"] for e in forced)


def test_a_broken_openapi_document_is_refused_and_the_product_keeps_its_operations(
    engine: Engine, tmp_path: Path
) -> None:
    """The issue's case: no info.version and an operation that is not an object were accepted as version 2, and
    the published product silently lost three operations."""
    library = library_copy(tmp_path / "lib")
    run(engine, load_documents([library]))
    spec = library / "catalog.openapi.yaml"
    good = spec.read_text()
    spec.write_text(good.replace("info: {title: Catalog, version: 2.1.0}", "info: {title: Catalog}"))
    catalog = [d for d in load_documents([library]) if d.name == "catalog"]
    before = counts(engine)
    with pytest.raises(Invalid, match=r"\(Service/catalog\): spec\.schema: .*info\.version: required by OpenAPI"):
        run(engine, catalog)
    spec.write_text(good.replace("  /holds:\n    post:\n", "  /holds:\n    post: later\n    put:\n"))
    catalog = [d for d in load_documents([library]) if d.name == "catalog"]
    with pytest.raises(Invalid, match=r"paths\./holds\.post: an operation must be a mapping"):
        run(engine, catalog)
    assert counts(engine) == before


def test_dropping_an_operation_of_a_published_product_is_breaking(engine: Engine, tmp_path: Path) -> None:
    library = library_copy(tmp_path / "lib")
    run(engine, load_documents([library]))
    spec = library / "catalog.openapi.yaml"
    text = spec.read_text()
    start, end = text.index("  /books/{isbn}:\n"), text.index("  /holds:\n")
    spec.write_text(text[:start] + text[end:])
    catalog = [d for d in load_documents([library]) if d.name == "catalog"]
    before = counts(engine)
    with pytest.raises(Conflict) as info:
        run(engine, catalog)
    message = str(info.value)
    assert "Field Query.getBook was removed" in message
    assert "REST operation GET /catalog/books/{isbn} was removed" in message
    assert counts(engine) == before
    spec.write_text(text.replace("  /holds:\n", "  /authors:\n    get:\n      operationId: listAuthors\n"
                                 "      responses: {'200': {description: ok, content: {application/json: "
                                 "{schema: {type: array, items: {type: string}}}}}}\n  /holds:\n"))  # fmt: skip
    catalog = [d for d in load_documents([library]) if d.name == "catalog"]
    assert run(engine, catalog) == ["service/catalog updated (version 2)"]  # an addition breaks nothing


def test_a_percent_encoded_ref_pointer_is_read_as_composition_reads_it() -> None:
    """Issue 10: `#/definitions/Transaction%20Id` (a definition named with a space, as real specs have) was refused
    by apply although compose took it; both now read the pointer the same way."""
    from stitcher import SourceKind, SourceSpec, compose

    spec = {
        "swagger": "2.0",
        "info": {"title": "Payments", "version": "1"},
        "paths": {
            "/transactions/{id}": {
                "get": {
                    "operationId": "getTransaction",
                    "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
                    "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Transaction%20Id"}}},
                }
            }
        },
        "definitions": {"Transaction Id": {"type": "object", "properties": {"id": {"type": "string"}}}},
    }
    text = json.dumps(spec)
    assert validate_schema("payments", "openapi", text).files == {}  # apply's check
    composed = compose([SourceSpec("payments", SourceKind.OPENAPI, text, url="http://payments.test")])
    assert "getTransaction" in str(composed.schema.query_type.fields if composed.schema.query_type else {})
    broken = text.replace("Transaction%20Id", "Transaction%20Ids")
    with pytest.raises(Invalid, match=r"\$ref '#/definitions/Transaction%20Ids'"):
        validate_schema("payments", "openapi", broken)


def test_the_composition_check_takes_the_translation_the_schema_check_made() -> None:
    """``loom apply`` checks an OpenAPI schema by translating it (without entities or transforms); its composition
    check takes that translation, with the service's entities bound on a copy, instead of translating the document a
    second time, and composes the same product."""
    files = {"schemas/pet.yaml": PET_FILE, "schemas/owner.yaml": OWNER_FILE}
    checked = validate_schema("pets", "openapi", PETS_30, where="pets.yaml", files=files)
    assert checked.translated is not None and checked.translated.schema is not None
    inputs = {
        "protocol": "openapi",
        "schema": checked.text,
        "files": dict(checked.files),
        "entities": {"Pet": {"key": "id", "operation": "getPet"}},
    }
    after = ProductAfter("pets-team", "published", [{"service": "pets", "prefix": "Zoo"}], [], {})
    composed = compose_after("zoo", after, {"pets": {**inputs, "translated": checked.translated}})
    again = compose_after("zoo", after, {"pets": inputs})
    assert composed.subgraphs["pets"].schema is not checked.translated.schema  # renamed by the prefix: a new schema
    assert composed.subgraphs["pets"].rest is not None and composed.subgraphs["pets"].keys == {
        "ZooPet": (EntityKey("id"),)
    }
    assert checked.translated.keys == {}  # the check's own translation is left as it was
    assert print_product(composed) == print_product(again)
    assert print_product(composed, supergraph_sdl=True) == print_product(again, supergraph_sdl=True)
    plain = ProductAfter("pets-team", "published", [{"service": "pets"}], [], {})
    taken = compose_after("zoo", plain, {"pets": {**inputs, "translated": checked.translated}})
    assert taken.subgraphs["pets"].schema is checked.translated.schema
