"""pipelines opportunities stage history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:38:17.866240
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lost_reason',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lost_reason_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lost_reason'))
    )
    op.create_index('uq_lost_reason_org_id_name', 'lost_reason', ['org_id', 'name'], unique=True)
    op.create_table('pipeline',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_default', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('is_archived', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_pipeline_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline'))
    )
    op.create_index('uq_pipeline_org_id_default', 'pipeline', ['org_id'], unique=True, postgresql_where=sa.text('is_default'))
    op.create_table('stage',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('pipeline_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('labels', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('open', 'won', 'lost', name='stage_kind'), nullable=False),
    sa.Column('probability', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('sla_days', sa.Integer(), nullable=True),
    sa.Column('criteria', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('is_retired', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('probability >= 0 AND probability <= 1', name=op.f('ck_stage_probability_range')),
    sa.CheckConstraint('sla_days IS NULL OR sla_days > 0', name=op.f('ck_stage_sla_days_positive')),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_stage_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_stage_pipeline_id_pipeline'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage'))
    )
    op.create_index('ix_stage_org_id_pipeline_id_position', 'stage', ['org_id', 'pipeline_id', 'position'], unique=False)
    op.create_table('opportunity',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('pipeline_id', sa.UUID(), nullable=False),
    sa.Column('stage_id', sa.UUID(), nullable=False),
    sa.Column('stage_entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'won', 'lost', name='opportunity_status'), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=50), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.String(length=50)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('lost_reason_id', sa.UUID(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stalled_notified_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount IS NULL OR amount >= 0', name=op.f('ck_opportunity_amount_non_negative')),
    sa.ForeignKeyConstraint(['lost_reason_id'], ['lost_reason.id'], name=op.f('fk_opportunity_lost_reason_id_lost_reason'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_opportunity_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_opportunity_owner_id_user'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_opportunity_pipeline_id_pipeline'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['stage_id'], ['stage.id'], name=op.f('fk_opportunity_stage_id_stage'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_opportunity_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity'))
    )
    op.create_index('ix_opportunity_org_id_created_at_id', 'opportunity', ['org_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_opportunity_org_id_expected_close_date', 'opportunity', ['org_id', 'expected_close_date'], unique=False)
    op.create_index('ix_opportunity_org_id_owner_id_status', 'opportunity', ['org_id', 'owner_id', 'status'], unique=False)
    op.create_index('ix_opportunity_org_id_pipeline_id_stage_id', 'opportunity', ['org_id', 'pipeline_id', 'stage_id'], unique=False)
    op.create_table('stage_interval',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('opportunity_id', sa.UUID(), nullable=False),
    sa.Column('pipeline_id', sa.UUID(), nullable=False),
    sa.Column('stage_id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exit_kind', sa.Enum('advanced', 'regressed', 'won', 'lost', 'reopened', 'moved', 'still_open', name='stage_exit_kind'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint('exited_at IS NULL OR exited_at >= entered_at', name=op.f('ck_stage_interval_exit_after_entry')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunity.id'], name=op.f('fk_stage_interval_opportunity_id_opportunity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_stage_interval_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_stage_interval_owner_id_user'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_stage_interval_pipeline_id_pipeline'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['stage_id'], ['stage.id'], name=op.f('fk_stage_interval_stage_id_stage'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_stage_interval_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_interval'))
    )
    op.create_index('ix_stage_interval_org_id_opportunity_id_entered_at', 'stage_interval', ['org_id', 'opportunity_id', 'entered_at'], unique=False)
    op.create_index('ix_stage_interval_org_id_pipeline_id_stage_id_entered_at', 'stage_interval', ['org_id', 'pipeline_id', 'stage_id', 'entered_at'], unique=False)
    op.create_index('uq_stage_interval_open', 'stage_interval', ['opportunity_id'], unique=True, postgresql_where=sa.text('exited_at IS NULL'))
    op.create_table('stage_transition',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('opportunity_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('created', 'advanced', 'regressed', 'won', 'lost', 'reopened', 'pipeline_changed', name='transition_kind'), nullable=False),
    sa.Column('from_stage_id', sa.UUID(), nullable=True),
    sa.Column('to_stage_id', sa.UUID(), nullable=False),
    sa.Column('from_pipeline_id', sa.UUID(), nullable=True),
    sa.Column('to_pipeline_id', sa.UUID(), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('lost_reason_id', sa.UUID(), nullable=True),
    sa.Column('override', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['from_pipeline_id'], ['pipeline.id'], name=op.f('fk_stage_transition_from_pipeline_id_pipeline'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['from_stage_id'], ['stage.id'], name=op.f('fk_stage_transition_from_stage_id_stage'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lost_reason_id'], ['lost_reason.id'], name=op.f('fk_stage_transition_lost_reason_id_lost_reason'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunity.id'], name=op.f('fk_stage_transition_opportunity_id_opportunity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_stage_transition_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_pipeline_id'], ['pipeline.id'], name=op.f('fk_stage_transition_to_pipeline_id_pipeline'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['to_stage_id'], ['stage.id'], name=op.f('fk_stage_transition_to_stage_id_stage'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_transition'))
    )
    op.create_index('ix_stage_transition_org_id_opportunity_id_occurred_at', 'stage_transition', ['org_id', 'opportunity_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stage_transition_org_id_opportunity_id_occurred_at', table_name='stage_transition')
    op.drop_table('stage_transition')
    op.drop_index('uq_stage_interval_open', table_name='stage_interval', postgresql_where=sa.text('exited_at IS NULL'))
    op.drop_index('ix_stage_interval_org_id_pipeline_id_stage_id_entered_at', table_name='stage_interval')
    op.drop_index('ix_stage_interval_org_id_opportunity_id_entered_at', table_name='stage_interval')
    op.drop_table('stage_interval')
    op.drop_index('ix_opportunity_org_id_pipeline_id_stage_id', table_name='opportunity')
    op.drop_index('ix_opportunity_org_id_owner_id_status', table_name='opportunity')
    op.drop_index('ix_opportunity_org_id_expected_close_date', table_name='opportunity')
    op.drop_index('ix_opportunity_org_id_created_at_id', table_name='opportunity')
    op.drop_table('opportunity')
    op.drop_index('ix_stage_org_id_pipeline_id_position', table_name='stage')
    op.drop_table('stage')
    op.drop_index('uq_pipeline_org_id_default', table_name='pipeline', postgresql_where=sa.text('is_default'))
    op.drop_table('pipeline')
    for name in ('transition_kind', 'stage_exit_kind', 'opportunity_status', 'stage_kind'):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
    op.drop_index('uq_lost_reason_org_id_name', table_name='lost_reason')
    op.drop_table('lost_reason')
