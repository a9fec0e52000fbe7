"""The sync worker: where each cluster's gateway runs, per-service traffic overrides, and what the worker saw
(verdicts, applied generations, reachability, versions, upstream health).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("gateway", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("traffic", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("cluster_sync_statuses") as batch:
        batch.add_column(sa.Column("applied_generation", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("verdict", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("reachable", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("versions", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("upstreams", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
    # The defaults only filled existing rows: the models give every new row its value.
    for table, columns in (
        ("clusters", ("gateway",)),
        ("services", ("traffic",)),
        ("cluster_sync_statuses", ("applied_generation", "versions", "upstreams")),
    ):
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("cluster_sync_statuses") as batch:
        for column in ("last_success_at", "upstreams", "versions", "reachable", "verdict", "applied_generation"):
            batch.drop_column(column)
    with op.batch_alter_table("services") as batch:
        batch.drop_column("traffic")
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("gateway")
