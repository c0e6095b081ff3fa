"""leads: index merged_into_id (only merged leads are in it)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-23 18:20:00

Deleting a lead (or an organisation's leads) checks `lead.merged_into_id` for rows pointing
at it: without an index that is a scan of the whole table per deleted lead. Partial, so
lead inserts and imports, whose rows are never merged, do not pay for it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_lead_merged_into_id", "lead", ["merged_into_id"],
                    postgresql_where="merged_into_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_lead_merged_into_id", table_name="lead")
