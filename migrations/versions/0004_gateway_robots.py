"""Gateway robot accounts: ``users.robot`` and the clusters whose snapshot each robot may read (the snapshot no
longer needs a platform admin's token).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("robot", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("robot", server_default=None)  # the model gives every new row its value
    op.create_table(
        "gateway_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_gateway_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_gateway_grants_cluster_id_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_grants")),
        sa.UniqueConstraint("user_id", "cluster_id", name=op.f("uq_gateway_grants_user_id_cluster_id")),
    )
    op.create_index(op.f("ix_gateway_grants_user_id"), "gateway_grants", ["user_id"], unique=False)
    op.create_index(op.f("ix_gateway_grants_cluster_id"), "gateway_grants", ["cluster_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_gateway_grants_cluster_id"), table_name="gateway_grants")
    op.drop_index(op.f("ix_gateway_grants_user_id"), table_name="gateway_grants")
    op.drop_table("gateway_grants")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("robot")
