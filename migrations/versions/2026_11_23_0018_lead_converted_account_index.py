"""leads: index the leads converted into each account (the account timeline)

Revision ID: 0018
Revises: 0014
Create Date: 2026-11-23 18:00:00

The account 360 view shows the activities of the leads converted into the account. A
partial index: only converted leads are in it, so lead inserts and imports (which create
unconverted leads) never pay for it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_lead_org_id_converted_account_id", "lead", ["org_id", "converted_account_id"],
                    postgresql_where="converted_account_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_lead_org_id_converted_account_id", table_name="lead")
