"""Gateway check-ins: each gateway that reads its cluster's snapshot is recorded with its version, the snapshot it
holds and when it last asked, so the fleet status shows every cluster's gateways.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("snapshot_etag", sa.String(length=80), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_gateway_checkins_cluster_id_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_checkins")),
        sa.UniqueConstraint("cluster_id", "gateway", name=op.f("uq_gateway_checkins_cluster_id_gateway")),
    )
    op.create_index(op.f("ix_gateway_checkins_cluster_id"), "gateway_checkins", ["cluster_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_checkins_cluster_id"), table_name="gateway_checkins")
    op.drop_table("gateway_checkins")
