"""core and identity base

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:32:04.834605
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('org',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org'))
    )
    op.create_table('event',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('entity_type', sa.String(length=50), nullable=False),
    sa.Column('entity_id', sa.UUID(), nullable=True),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_event_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    op.create_index('ix_event_org_id_entity_id_seq', 'event', ['org_id', 'entity_id', 'seq'], unique=False)
    op.create_index('ix_event_org_id_type_seq', 'event', ['org_id', 'type', 'seq'], unique=False)
    op.create_index('uq_event_org_id_seq', 'event', ['org_id', 'seq'], unique=True)
    op.create_table('org_event_counter',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_org_event_counter_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_org_event_counter'))
    )
    op.create_table('team',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.UUID(), nullable=True),
    sa.Column('manager_id', sa.UUID(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_team_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['team.id'], name=op.f('fk_team_parent_id_team'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team'))
    )
    op.create_index('ix_team_org_id_parent_id', 'team', ['org_id', 'parent_id'], unique=False)
    op.create_table('user',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'manager', 'rep', 'viewer', name='user_role'), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('approval_groups', postgresql.ARRAY(sa.String(length=50)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_user_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_user_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user'))
    )
    op.create_index('ix_user_org_id_team_id', 'user', ['org_id', 'team_id'], unique=False)
    op.create_index('uq_user_email_lower', 'user', [sa.literal_column('lower(email)')], unique=True)
    # team and user refer to each other: the manager link is added once both exist.
    op.create_foreign_key(
        op.f('fk_team_manager_id_user'), 'team', 'user', ['manager_id'], ['id'], ondelete='SET NULL'
    )


def downgrade() -> None:
    op.drop_constraint(op.f('fk_team_manager_id_user'), 'team', type_='foreignkey')
    op.drop_index('uq_user_email_lower', table_name='user')
    op.drop_index('ix_user_org_id_team_id', table_name='user')
    op.drop_table('user')
    op.drop_index('ix_team_org_id_parent_id', table_name='team')
    op.drop_table('team')
    op.drop_table('org_event_counter')
    op.drop_index('uq_event_org_id_seq', table_name='event')
    op.drop_index('ix_event_org_id_type_seq', table_name='event')
    op.drop_index('ix_event_org_id_entity_id_seq', table_name='event')
    op.drop_table('event')
    op.drop_table('org')
    sa.Enum(name='user_role').drop(op.get_bind(), checkfirst=True)
