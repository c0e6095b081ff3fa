"""audit trail

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:39:43.748983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_entry',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('actor_kind', sa.String(length=20), nullable=False),
    sa.Column('entity_type', sa.String(length=50), nullable=False),
    sa.Column('entity_id', sa.UUID(), nullable=False),
    sa.Column('action', sa.Enum('create', 'update', 'state_change', 'delete', name='audit_action'), nullable=False),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_audit_entry_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    op.create_index('ix_audit_entry_org_id_actor_id_occurred_at', 'audit_entry', ['org_id', 'actor_id', 'occurred_at'], unique=False)
    op.create_index('ix_audit_entry_org_id_entity_id_occurred_at', 'audit_entry', ['org_id', 'entity_id', 'occurred_at'], unique=False)
    op.create_index('ix_audit_entry_org_id_occurred_at', 'audit_entry', ['org_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_entry_org_id_occurred_at', table_name='audit_entry')
    op.drop_index('ix_audit_entry_org_id_entity_id_occurred_at', table_name='audit_entry')
    op.drop_index('ix_audit_entry_org_id_actor_id_occurred_at', table_name='audit_entry')
    op.drop_table('audit_entry')
    sa.Enum(name='audit_action').drop(op.get_bind(), checkfirst=True)
