"""Product tags (``metadata.tags`` of a Product resource): what the catalog filters by.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("products") as batch:
        batch.alter_column("tags", server_default=None)  # the model gives every new row its value


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("tags")
