"""imports: one job table for leads, accounts and contacts

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 17:00:00

The bulk import job (table lead_import, with its row errors in lead_import_error) now
creates accounts and contacts too: a `kind` column says which, every existing row is a
lead import. The table keeps its name (the lead import's COPY and counters name it; a
rename buys nothing but churn). Lists are per kind, so the org's list index leads with
(org_id, kind).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = postgresql.ENUM("leads", "accounts", "contacts", name="import_kind", create_type=False)


def upgrade() -> None:
    KIND.create(op.get_bind(), checkfirst=False)
    op.add_column("lead_import", sa.Column("kind", KIND, server_default=sa.text("'leads'"), nullable=False))
    op.drop_index("ix_lead_import_org_id_created_at_id", table_name="lead_import")
    op.create_index("ix_lead_import_org_id_kind_created_at_id", "lead_import", ["org_id", "kind", "created_at", "id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_lead_import_org_id_kind_created_at_id", table_name="lead_import")
    op.execute("DELETE FROM lead_import WHERE kind <> 'leads'")
    op.drop_column("lead_import", "kind")
    KIND.drop(op.get_bind(), checkfirst=False)
    op.create_index("ix_lead_import_org_id_created_at_id", "lead_import", ["org_id", "created_at", "id"], unique=False)
