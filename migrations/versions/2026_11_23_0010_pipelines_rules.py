"""pipelines: stage rules, search indexes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:00:00

- pg_trgm and a trigram GIN index on opportunity.name: `q=` search in any language
  (Chinese has no word boundaries, so trigrams rather than full-text search).
- opportunity.deleted_at (soft delete; history stays) and an index for the stalled scan.
- stage_transition.seq, unique per opportunity: the history is one chain even under
  racing writers; and a trigger that refuses UPDATE on stage_transition (history is
  append-only; deletes only cascade from the deal or the organisation).
- lost_reason.labels for other-language names.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.add_column("opportunity", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_opportunity_name_trgm", "opportunity", ["name"], unique=False,
        postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_opportunity_org_id_status_stage_entered_at", "opportunity",
        ["org_id", "status", "stage_entered_at"], unique=False,
    )
    op.add_column("stage_transition", sa.Column("seq", sa.Integer(), nullable=True))
    op.create_index(
        "uq_stage_transition_opportunity_id_seq", "stage_transition", ["opportunity_id", "seq"], unique=True
    )
    op.add_column(
        "lost_reason",
        sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
    )
    op.execute(
        """
        CREATE FUNCTION stage_transition_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'stage_transition is append-only' USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER stage_transition_append_only BEFORE UPDATE ON stage_transition "
        "FOR EACH ROW EXECUTE FUNCTION stage_transition_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS stage_transition_append_only ON stage_transition")
    op.execute("DROP FUNCTION IF EXISTS stage_transition_append_only()")
    op.drop_column("lost_reason", "labels")
    op.drop_index("uq_stage_transition_opportunity_id_seq", table_name="stage_transition")
    op.drop_column("stage_transition", "seq")
    op.drop_index("ix_opportunity_org_id_status_stage_entered_at", table_name="opportunity")
    op.drop_index("ix_opportunity_name_trgm", table_name="opportunity", postgresql_using="gin")
    op.drop_column("opportunity", "deleted_at")
    # pg_trgm stays: other objects (or other domains) may use it.
