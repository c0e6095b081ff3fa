"""idempotency keys

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-23 09:48:55.468986
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_record',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('principal_key', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_idempotency_record_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record'))
    )
    op.create_index('ix_idempotency_record_created_at', 'idempotency_record', ['created_at'], unique=False)
    op.create_index('uq_idempotency_record_org_id_principal_key_key', 'idempotency_record', ['org_id', 'principal_key', 'key'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_idempotency_record_org_id_principal_key_key', table_name='idempotency_record')
    op.drop_index('ix_idempotency_record_created_at', table_name='idempotency_record')
    op.drop_table('idempotency_record')
