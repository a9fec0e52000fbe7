"""Initial schema: every table of portal.models, and the one configuration-generation row.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 03:15:01.657746
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_kind", sa.String(length=63), nullable=False),
        sa.Column("target_name", sa.String(length=253), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "allowed", "denied", "failed", name="outcome", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    op.create_index(op.f("ix_audit_events_actor"), "audit_events", ["actor"], unique=False)
    op.create_index(op.f("ix_audit_events_created_at"), "audit_events", ["created_at"], unique=False)
    op.create_index("ix_audit_events_target", "audit_events", ["target_kind", "target_name"], unique=False)
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("region", sa.String(length=63), nullable=False),
        sa.Column("zone", sa.String(length=63), nullable=False),
        sa.Column("residency", sa.String(length=63), nullable=False),
        sa.Column("gloo", sa.JSON(), nullable=False),
        sa.Column("allow_loopback", sa.Boolean(), nullable=False),
        sa.Column("allowed_hosts", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
        sa.UniqueConstraint("name", name=op.f("uq_clusters_name")),
    )
    op.create_index(op.f("ix_clusters_residency"), "clusters", ["residency"], unique=False)
    op.create_table(
        "config_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_generation")),
    )
    # The counter's only row exists from the start, so concurrent first bumps only ever UPDATE it.
    op.bulk_insert(
        sa.table(
            "config_generation",
            sa.column("id", sa.Integer()),
            sa.column("generation", sa.Integer()),
            sa.column("updated_at", sa.DateTime(timezone=True)),
        ),
        [{"id": 1, "generation": 0, "updated_at": datetime.now(UTC)}],
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rate_limit_requests", sa.Integer(), nullable=False),
        sa.Column("rate_limit_per_seconds", sa.Integer(), nullable=False),
        sa.Column("auth_kinds", sa.JSON(), nullable=False),
        sa.Column("auto_approve", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rate_limit_requests > 0 AND rate_limit_per_seconds > 0", name=op.f("ck_plans_positive_rate_limit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_signing_keys_kid")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_users_oidc_subject")),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_applications_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_applications_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_applications_owner_id_name")),
    )
    op.create_index(op.f("ix_applications_owner_id"), "applications", ["owner_id"], unique=False)
    op.create_index(op.f("ix_applications_team_id"), "applications", ["team_id"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "platform-admin",
                "team-admin",
                "team-member",
                "viewer",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_memberships_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("user_id", "team_id", "role", name=op.f("uq_memberships_user_id_team_id_role")),
    )
    op.create_index(op.f("ix_memberships_team_id"), "memberships", ["team_id"], unique=False)
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"], unique=False)
    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_personal_access_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_access_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_personal_access_tokens_prefix")),
    )
    op.create_index(op.f("ix_personal_access_tokens_user_id"), "personal_access_tokens", ["user_id"], unique=False)
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("current_version", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_products_team_id_teams"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("name", name=op.f("uq_products_name")),
    )
    op.create_index(op.f("ix_products_team_id"), "products", ["team_id"], unique=False)
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column(
            "protocol",
            sa.Enum(
                "federation",
                "graphql",
                "openapi",
                name="protocol",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_services_team_id_teams"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("name", name=op.f("uq_services_name")),
    )
    op.create_index(op.f("ix_services_team_id"), "services", ["team_id"], unique=False)
    op.create_table(
        "team_placements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("namespaces", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_team_placements_cluster_id_clusters"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_placements_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_placements")),
        sa.UniqueConstraint("team_id", "cluster_id", name=op.f("uq_team_placements_team_id_cluster_id")),
    )
    op.create_index(op.f("ix_team_placements_cluster_id"), "team_placements", ["cluster_id"], unique=False)
    op.create_index(op.f("ix_team_placements_team_id"), "team_placements", ["team_id"], unique=False)
    op.create_table(
        "cluster_sync_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "synced",
                "degraded",
                "failed",
                name="sync_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("observed_generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_cluster_sync_statuses_cluster_id_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_cluster_sync_statuses_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_sync_statuses")),
        sa.UniqueConstraint("cluster_id", "product_id", name=op.f("uq_cluster_sync_statuses_cluster_id_product_id")),
    )
    op.create_index(op.f("ix_cluster_sync_statuses_cluster_id"), "cluster_sync_statuses", ["cluster_id"], unique=False)
    op.create_index(op.f("ix_cluster_sync_statuses_product_id"), "cluster_sync_statuses", ["product_id"], unique=False)
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "api_key", "oauth2_client", name="credential_kind", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'api_key' AND prefix IS NOT NULL) OR (kind = 'oauth2_client' AND client_id IS NOT NULL)",
            name=op.f("ck_credentials_identifier_for_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_credentials_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("client_id", name=op.f("uq_credentials_client_id")),
        sa.UniqueConstraint("prefix", name=op.f("uq_credentials_prefix")),
    )
    op.create_index(op.f("ix_credentials_application_id"), "credentials", ["application_id"], unique=False)
    op.create_table(
        "product_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_product_plans_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_plans_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_plans")),
        sa.UniqueConstraint("product_id", "plan_id", name=op.f("uq_product_plans_product_id_plan_id")),
    )
    op.create_index(op.f("ix_product_plans_plan_id"), "product_plans", ["plan_id"], unique=False)
    op.create_index(op.f("ix_product_plans_product_id"), "product_plans", ["product_id"], unique=False)
    op.create_table(
        "product_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column(
            "lifecycle",
            sa.Enum(
                "draft",
                "published",
                "deprecated",
                "retired",
                name="lifecycle",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("routing", sa.JSON(), nullable=False),
        sa.Column("rest", sa.JSON(), nullable=False),
        sa.Column("composed_sdl", sa.Text(), nullable=True),
        sa.Column("supergraph_sdl", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_versions_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_versions")),
        sa.UniqueConstraint("product_id", "version", name=op.f("uq_product_versions_product_id_version")),
    )
    op.create_index(op.f("ix_product_versions_product_id"), "product_versions", ["product_id"], unique=False)
    op.create_table(
        "service_deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("kube_service", sa.String(length=253), nullable=True),
        sa.Column("kube_namespace", sa.String(length=63), nullable=True),
        sa.Column("kube_port", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=2048), nullable=True),
        sa.Column("health_path", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kube_service IS NOT NULL OR address IS NOT NULL", name=op.f("ck_service_deployments_kube_or_address")
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_service_deployments_cluster_id_clusters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_deployments_service_id_services"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_deployments")),
        sa.UniqueConstraint("service_id", "cluster_id", name=op.f("uq_service_deployments_service_id_cluster_id")),
    )
    op.create_index(op.f("ix_service_deployments_cluster_id"), "service_deployments", ["cluster_id"], unique=False)
    op.create_index(op.f("ix_service_deployments_service_id"), "service_deployments", ["service_id"], unique=False)
    op.create_table(
        "service_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema_text", sa.Text(), nullable=False),
        sa.Column("schema_hash", sa.String(length=64), nullable=False),
        sa.Column("schema_files", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_versions_service_id_services"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_versions")),
        sa.UniqueConstraint("service_id", "version", name=op.f("uq_service_versions_service_id_version")),
    )
    op.create_index(op.f("ix_service_versions_schema_hash"), "service_versions", ["schema_hash"], unique=False)
    op.create_index(op.f("ix_service_versions_service_id"), "service_versions", ["service_id"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "requested",
                "approved",
                "rejected",
                "revoked",
                name="subscription_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_subscriptions_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_subscriptions_plan_id_plans"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_subscriptions_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_application_id"), "subscriptions", ["application_id"], unique=False)
    op.create_index(op.f("ix_subscriptions_plan_id"), "subscriptions", ["plan_id"], unique=False)
    op.create_index(op.f("ix_subscriptions_product_id"), "subscriptions", ["product_id"], unique=False)
    op.create_index(
        "uq_subscriptions_live_application_product",
        "subscriptions",
        ["application_id", "product_id"],
        unique=True,
        sqlite_where=sa.text("state IN ('requested', 'approved')"),
        postgresql_where=sa.text("state IN ('requested', 'approved')"),
    )
    op.create_table(
        "product_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_version_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("service_version_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("transforms", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_version_id"],
            ["product_versions.id"],
            name=op.f("fk_product_sources_product_version_id_product_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_product_sources_service_id_services"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["service_version_id"],
            ["service_versions.id"],
            name=op.f("fk_product_sources_service_version_id_service_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_sources")),
        sa.UniqueConstraint(
            "product_version_id", "position", name=op.f("uq_product_sources_product_version_id_position")
        ),
    )
    op.create_index(
        op.f("ix_product_sources_product_version_id"), "product_sources", ["product_version_id"], unique=False
    )
    op.create_index(op.f("ix_product_sources_service_id"), "product_sources", ["service_id"], unique=False)
    op.create_index(
        op.f("ix_product_sources_service_version_id"), "product_sources", ["service_version_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_product_sources_service_version_id"), table_name="product_sources")
    op.drop_index(op.f("ix_product_sources_service_id"), table_name="product_sources")
    op.drop_index(op.f("ix_product_sources_product_version_id"), table_name="product_sources")
    op.drop_table("product_sources")
    op.drop_index(
        "uq_subscriptions_live_application_product",
        table_name="subscriptions",
        sqlite_where=sa.text("state IN ('requested', 'approved')"),
        postgresql_where=sa.text("state IN ('requested', 'approved')"),
    )
    op.drop_index(op.f("ix_subscriptions_product_id"), table_name="subscriptions")
    op.drop_index(op.f("ix_subscriptions_plan_id"), table_name="subscriptions")
    op.drop_index(op.f("ix_subscriptions_application_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_service_versions_service_id"), table_name="service_versions")
    op.drop_index(op.f("ix_service_versions_schema_hash"), table_name="service_versions")
    op.drop_table("service_versions")
    op.drop_index(op.f("ix_service_deployments_service_id"), table_name="service_deployments")
    op.drop_index(op.f("ix_service_deployments_cluster_id"), table_name="service_deployments")
    op.drop_table("service_deployments")
    op.drop_index(op.f("ix_product_versions_product_id"), table_name="product_versions")
    op.drop_table("product_versions")
    op.drop_index(op.f("ix_product_plans_product_id"), table_name="product_plans")
    op.drop_index(op.f("ix_product_plans_plan_id"), table_name="product_plans")
    op.drop_table("product_plans")
    op.drop_index(op.f("ix_credentials_application_id"), table_name="credentials")
    op.drop_table("credentials")
    op.drop_index(op.f("ix_cluster_sync_statuses_product_id"), table_name="cluster_sync_statuses")
    op.drop_index(op.f("ix_cluster_sync_statuses_cluster_id"), table_name="cluster_sync_statuses")
    op.drop_table("cluster_sync_statuses")
    op.drop_index(op.f("ix_team_placements_team_id"), table_name="team_placements")
    op.drop_index(op.f("ix_team_placements_cluster_id"), table_name="team_placements")
    op.drop_table("team_placements")
    op.drop_index(op.f("ix_services_team_id"), table_name="services")
    op.drop_table("services")
    op.drop_index(op.f("ix_products_team_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_personal_access_tokens_user_id"), table_name="personal_access_tokens")
    op.drop_table("personal_access_tokens")
    op.drop_index(op.f("ix_memberships_user_id"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_team_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_applications_team_id"), table_name="applications")
    op.drop_index(op.f("ix_applications_owner_id"), table_name="applications")
    op.drop_table("applications")
    op.drop_table("users")
    op.drop_table("teams")
    op.drop_table("signing_keys")
    op.drop_table("plans")
    op.drop_table("config_generation")
    op.drop_index(op.f("ix_clusters_residency"), table_name="clusters")
    op.drop_table("clusters")
    op.drop_index("ix_audit_events_target", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_created_at"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_action"), table_name="audit_events")
    op.drop_table("audit_events")
