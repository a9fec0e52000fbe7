"""portal.models: what the database itself guarantees, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from portal.db import session_scope
from portal.errors import Conflict
from portal.models import (
    Cluster,
    Credential,
    CredentialKind,
    Lifecycle,
    LoginSession,
    Membership,
    PersonalAccessToken,
    ProductVersion,
    Role,
    ServiceDeployment,
    ServiceVersion,
    Subscription,
    TeamPlacement,
    metadata,
    utcnow,
)
from tests.factories import (
    make_application,
    make_cluster,
    make_deployment,
    make_placement,
    make_plan,
    make_product,
    make_service,
    make_subscription,
    make_team,
    make_user,
)


def test_every_constraint_and_index_has_a_conventional_name() -> None:
    prefixes = {"PrimaryKeyConstraint": "pk_", "UniqueConstraint": "uq_", "ForeignKeyConstraint": "fk_"}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            expected = prefixes.get(type(constraint).__name__, "ck_")
            assert constraint.name, f"{table.name}: unnamed {type(constraint).__name__}"
            assert str(constraint.name).startswith(f"{expected}{table.name}"), constraint.name
        for index in table.indexes:
            assert str(index.name).startswith((f"ix_{table.name}", f"uq_{table.name}")), index.name


def test_reflected_names_match_the_convention(engine: Engine) -> None:
    inspector = sa.inspect(engine)
    assert [c["name"] for c in inspector.get_unique_constraints("teams")] == ["uq_teams_name"]
    assert {fk["name"] for fk in inspector.get_foreign_keys("memberships")} == {
        "fk_memberships_user_id_users",
        "fk_memberships_team_id_teams",
    }


def test_enums_are_stored_as_their_values(session: Session) -> None:
    make_user(session, "ada", role=Role.TEAM_ADMIN, team=make_team(session))
    make_product(session, lifecycle=Lifecycle.PUBLISHED)
    session.commit()
    assert session.execute(sa.text("SELECT role FROM memberships")).scalar_one() == "team-admin"
    assert session.execute(sa.text("SELECT lifecycle FROM product_versions")).scalar_one() == "published"
    assert session.exec(select(Membership.role)).one() is Role.TEAM_ADMIN


def test_unknown_enum_values_are_refused_by_the_database(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = make_user(session)
    with pytest.raises(Conflict, match="role"), session_scope(engine) as session:
        session.execute(
            sa.text("INSERT INTO memberships (user_id, role, created_at) VALUES (:u, 'superuser', CURRENT_TIMESTAMP)"),
            {"u": user.id},
        )


def test_json_columns_round_trip(engine: Engine) -> None:
    with session_scope(engine) as session:
        cluster = make_cluster(
            session,
            gloo={"target": "kubernetes", "kubeContext": "prod", "failoverGateway": {"host": "10.0.0.7", "port": 1}},
            labels={"tier": "gold"},
            allowed_hosts=["10.1.0.0/16"],
        )
        placement = make_placement(session, make_team(session), cluster, ["warehouse", "shared"])
    with Session(engine) as session:
        loaded_placement = session.get(TeamPlacement, placement.id)
        assert loaded_placement is not None and loaded_placement.namespaces == ["warehouse", "shared"]
        loaded = session.get(Cluster, cluster.id)
        assert loaded is not None
        assert loaded.gloo["failoverGateway"] == {"host": "10.0.0.7", "port": 1}
        assert loaded.labels == {"tier": "gold"}
        assert loaded.allowed_hosts == ["10.1.0.0/16"]


def test_a_deployment_needs_a_kube_reference_or_an_address(engine: Engine) -> None:
    with session_scope(engine) as session:
        service = make_service(session)
        cluster = make_cluster(session)
    with pytest.raises(Conflict, match="kube_or_address"), session_scope(engine) as session:
        session.add(ServiceDeployment(service_id=service.id, cluster_id=cluster.id))  # type: ignore[arg-type]
    with session_scope(engine) as session:
        make_deployment(session, service, cluster, address=None, kube_service="inventory", kube_namespace="wh")


def test_service_versions_are_unique_per_service(engine: Engine) -> None:
    with session_scope(engine) as session:
        service = make_service(session)
    with pytest.raises(Conflict, match="service version with this service_id and version"), session_scope(engine) as s:
        s.add(ServiceVersion(service_id=service.id, version=1, schema_text="x", schema_hash="0" * 64, created_by="me"))  # type: ignore[arg-type]


def test_deleting_a_user_removes_memberships_and_tokens(engine: Engine) -> None:
    with session_scope(engine) as session:
        user = make_user(session, role=Role.PLATFORM_ADMIN)
        session.add(PersonalAccessToken(user_id=user.id, name="cli", prefix="lm_abc", token_hash="h"))  # type: ignore[arg-type]
    with session_scope(engine) as session:
        session.delete(session.merge(user))
    with Session(engine) as session:
        assert session.exec(select(Membership)).all() == []
        assert session.exec(select(PersonalAccessToken)).all() == []


def test_a_team_that_owns_services_cannot_be_deleted(engine: Engine) -> None:
    with session_scope(engine) as session:
        team = make_team(session)
        make_service(session, team=team)
    with pytest.raises(Conflict, match="still in use"), session_scope(engine) as session:
        session.execute(sa.delete(sa.table("teams", sa.column("id"))).where(sa.column("id") == team.id))


def test_deleting_a_credential_keeps_the_subscription(engine: Engine) -> None:
    with session_scope(engine) as session:
        application = make_application(session)
        product = make_product(session, lifecycle=Lifecycle.PUBLISHED)
        plan = make_plan(session, products=[product])
        make_subscription(session, application, product, plan)
        credential = Credential(
            application_id=application.id,  # type: ignore[arg-type]
            kind=CredentialKind.API_KEY,
            prefix="lk_1234",
            secret_hash="argon2-hash",
        )
        session.add(credential)
    with session_scope(engine) as session:
        session.delete(session.merge(credential))
    with Session(engine) as session:
        assert len(session.exec(select(Subscription)).all()) == 1
        assert session.exec(select(Credential)).all() == []


def test_an_api_key_needs_a_prefix(engine: Engine) -> None:
    with session_scope(engine) as session:
        application = make_application(session)
    with pytest.raises(Conflict, match="identifier_for_kind"), session_scope(engine) as session:
        session.add(Credential(application_id=application.id, kind=CredentialKind.API_KEY, secret_hash="h"))  # type: ignore[arg-type]


def test_product_versions_cascade_with_the_product(engine: Engine) -> None:
    with session_scope(engine) as session:
        service = make_service(session)
        product = make_product(session, sources=[service], clusters=[make_cluster(session)])
    with session_scope(engine) as session:
        session.delete(session.merge(product))
    with Session(engine) as session:
        assert session.exec(select(ProductVersion)).all() == []


def test_login_sessions_are_unique_by_hash_and_go_with_their_user(engine: Engine) -> None:
    later = utcnow() + timedelta(hours=1)
    with session_scope(engine) as session:
        user = make_user(session)
        session.add(LoginSession(user_id=user.id, token_hash="a" * 64, expires_at=later))  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="login session with this token_hash already exists"), session_scope(engine) as s:
        s.add(LoginSession(user_id=user.id, token_hash="a" * 64, expires_at=later))  # type: ignore[arg-type]
    with session_scope(engine) as session:
        session.delete(session.merge(user))
    with Session(engine) as session:
        assert session.exec(select(LoginSession)).all() == []
