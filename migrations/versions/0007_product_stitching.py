"""Product stitching (``spec.prefer`` and ``spec.links`` of a Product resource): which service's definition of a
shared type wins, and fields that join services sharing no entity; kept per product version, as written.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("product_versions") as batch:
        batch.add_column(sa.Column("stitching", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("product_versions") as batch:
        batch.alter_column("stitching", server_default=None)  # the model gives every new row its value


def downgrade() -> None:
    with op.batch_alter_table("product_versions") as batch:
        batch.drop_column("stitching")
