"""leads, accounts, contacts, activities, tasks

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 12:00:00

Leads (with scoring and assignment rules, per-org lead settings, bulk imports and their
per-row errors), accounts and contacts, activities and tasks; and the foreign keys from
opportunity to account and to the lead it was converted from.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tables in dependency order; then the pipeline's opportunity gets its account and lead links.
    op.create_table('lead_import',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('filename', sa.String(length=300), nullable=True),
    sa.Column('status', sa.Enum('queued', 'running', 'completed', 'failed', name='lead_import_status'), nullable=False),
    sa.Column('skip_duplicates', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('default_source', sa.String(length=30), server_default=sa.text("'import'"), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('total_rows', sa.Integer(), nullable=True),
    sa.Column('processed_rows', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('duplicate_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('error_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lead_import_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_import'))
    )
    op.create_index('ix_lead_import_org_id_created_at_id', 'lead_import', ['org_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_lead_import_queued', 'lead_import', ['created_at'], unique=False, postgresql_where=sa.text("status = 'queued'"))
    op.create_table('lead_scoring_rule',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('field', sa.String(length=50), nullable=False),
    sa.Column('operator', sa.String(length=20), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lead_scoring_rule_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_scoring_rule'))
    )
    op.create_index('ix_lead_scoring_rule_org_id_position', 'lead_scoring_rule', ['org_id', 'position'], unique=False)
    op.create_table('lead_settings',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('grade_a_min', sa.Integer(), server_default=sa.text('80'), nullable=False),
    sa.Column('grade_b_min', sa.Integer(), server_default=sa.text('50'), nullable=False),
    sa.Column('grade_c_min', sa.Integer(), server_default=sa.text('20'), nullable=False),
    sa.Column('response_target_minutes', sa.Integer(), server_default=sa.text('60'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lead_settings_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_lead_settings'))
    )
    op.create_table('lead_import_error',
    sa.Column('import_id', sa.UUID(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('duplicate_of', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['lead_import.id'], name=op.f('fk_lead_import_error_import_id_lead_import'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lead_import_error_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'row_number', name=op.f('pk_lead_import_error'))
    )
    op.create_table('account',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('name_normalized', sa.String(length=300), nullable=False),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('tier', sa.String(length=50), nullable=True),
    sa.Column('lifecycle', sa.Enum('prospect', 'customer', 'churned', name='account_lifecycle'), server_default=sa.text("'prospect'"), nullable=False),
    sa.Column('website', sa.String(length=300), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('value_class', sa.String(length=1), nullable=True),
    sa.Column('won_amount_12m', sa.Numeric(precision=18, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('value_computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_account_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_account_owner_id_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account'))
    )
    op.create_index('ix_account_org_id_created_at_id', 'account', ['org_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_account_org_id_name_normalized', 'account', ['org_id', 'name_normalized'], unique=False)
    op.create_index('ix_account_org_id_owner_id', 'account', ['org_id', 'owner_id'], unique=False)
    op.create_table('lead_assignment_rule',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('target_user_id', sa.UUID(), nullable=True),
    sa.Column('target_team_id', sa.UUID(), nullable=True),
    sa.Column('last_assigned_user_id', sa.UUID(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['last_assigned_user_id'], ['user.id'], name=op.f('fk_lead_assignment_rule_last_assigned_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lead_assignment_rule_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_team_id'], ['team.id'], name=op.f('fk_lead_assignment_rule_target_team_id_team'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_user_id'], ['user.id'], name=op.f('fk_lead_assignment_rule_target_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_assignment_rule'))
    )
    op.create_index('ix_lead_assignment_rule_org_id_position', 'lead_assignment_rule', ['org_id', 'position'], unique=False)
    op.create_table('contact',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_normalized', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('phone_normalized', sa.String(length=20), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_contact_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_contact_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_contact_owner_id_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact'))
    )
    op.create_index('ix_contact_org_id_account_id', 'contact', ['org_id', 'account_id'], unique=False)
    op.create_index('ix_contact_org_id_created_at_id', 'contact', ['org_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_contact_org_id_email_normalized', 'contact', ['org_id', 'email_normalized'], unique=False)
    op.create_index('ix_contact_org_id_phone_normalized', 'contact', ['org_id', 'phone_normalized'], unique=False)
    op.create_table('lead',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_normalized', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('phone_normalized', sa.String(length=20), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('company', sa.String(length=300), nullable=True),
    sa.Column('company_normalized', sa.String(length=300), nullable=True),
    sa.Column('company_size', sa.Integer(), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('product_interest', sa.String(length=100), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('campaign', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.Enum('new', 'contacted', 'qualified', 'disqualified', 'converted', name='lead_status'), server_default=sa.text("'new'"), nullable=False),
    sa.Column('disqualify_reason', sa.Text(), nullable=True),
    sa.Column('score', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('grade', sa.String(length=1), server_default=sa.text("'D'"), nullable=False),
    sa.Column('score_breakdown', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('assigned_by_rule_id', sa.UUID(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('response_overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('converted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('converted_opportunity_id', sa.UUID(), nullable=True),
    sa.Column('converted_account_id', sa.UUID(), nullable=True),
    sa.Column('converted_contact_id', sa.UUID(), nullable=True),
    sa.Column('merged_into_id', sa.UUID(), nullable=True),
    sa.Column('import_id', sa.UUID(), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_rule_id'], ['lead_assignment_rule.id'], name=op.f('fk_lead_assigned_by_rule_id_lead_assignment_rule'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['converted_account_id'], ['account.id'], name=op.f('fk_lead_converted_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['converted_contact_id'], ['contact.id'], name=op.f('fk_lead_converted_contact_id_contact'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['converted_opportunity_id'], ['opportunity.id'], name=op.f('fk_lead_converted_opportunity_id_opportunity'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['lead.id'], name=op.f('fk_lead_merged_into_id_lead'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_lead_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_lead_owner_id_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead'))
    )
    op.create_index('ix_lead_awaiting_response', 'lead', ['created_at'], unique=False, postgresql_where=sa.text("first_response_at IS NULL AND response_overdue_at IS NULL AND status = 'new'"))
    op.create_index('ix_lead_org_id_company_normalized', 'lead', ['org_id', 'company_normalized'], unique=False)
    op.create_index('ix_lead_org_id_created_at_id', 'lead', ['org_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_lead_org_id_email_normalized', 'lead', ['org_id', 'email_normalized'], unique=False)
    op.create_index('ix_lead_org_id_owner_id_status', 'lead', ['org_id', 'owner_id', 'status'], unique=False)
    op.create_index('ix_lead_org_id_phone_normalized', 'lead', ['org_id', 'phone_normalized'], unique=False)
    op.create_table('activity',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('call', 'email', 'meeting', 'visit', 'proposal', 'note', name='activity_kind'), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('lead_id', sa.UUID(), nullable=True),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('contact_id', sa.UUID(), nullable=True),
    sa.Column('opportunity_id', sa.UUID(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('num_nonnulls(lead_id, account_id, contact_id, opportunity_id) >= 1', name=op.f('ck_activity_has_subject')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_activity_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_activity_contact_id_contact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_activity_lead_id_lead'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunity.id'], name=op.f('fk_activity_opportunity_id_opportunity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_activity_org_id_org'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_activity_owner_id_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity'))
    )
    op.create_index('ix_activity_org_id_account_id_occurred_at', 'activity', ['org_id', 'account_id', 'occurred_at'], unique=False)
    op.create_index('ix_activity_org_id_contact_id_occurred_at', 'activity', ['org_id', 'contact_id', 'occurred_at'], unique=False)
    op.create_index('ix_activity_org_id_lead_id_occurred_at', 'activity', ['org_id', 'lead_id', 'occurred_at'], unique=False)
    op.create_index('ix_activity_org_id_occurred_at_id', 'activity', ['org_id', 'occurred_at', 'id'], unique=False)
    op.create_index('ix_activity_org_id_opportunity_id_occurred_at', 'activity', ['org_id', 'opportunity_id', 'occurred_at'], unique=False)
    op.create_index('ix_activity_org_id_owner_id_occurred_at', 'activity', ['org_id', 'owner_id', 'occurred_at'], unique=False)
    op.create_table('task',
    sa.Column('org_id', sa.UUID(), nullable=False),
    sa.Column('assignee_id', sa.UUID(), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Enum('open', 'done', 'cancelled', name='task_status'), server_default=sa.text("'open'"), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lead_id', sa.UUID(), nullable=True),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('contact_id', sa.UUID(), nullable=True),
    sa.Column('opportunity_id', sa.UUID(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_task_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['assignee_id'], ['user.id'], name=op.f('fk_task_assignee_id_user'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_task_contact_id_contact'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_task_lead_id_lead'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunity.id'], name=op.f('fk_task_opportunity_id_opportunity'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_task_org_id_org'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task'))
    )
    op.create_index('ix_task_due_unnotified', 'task', ['due_at'], unique=False, postgresql_where=sa.text("status = 'open' AND due_notified_at IS NULL"))
    op.create_index('ix_task_org_id_assignee_id_status_due_at', 'task', ['org_id', 'assignee_id', 'status', 'due_at'], unique=False)
    op.create_index('ix_task_reminder_unnotified', 'task', ['remind_at'], unique=False, postgresql_where=sa.text("status = 'open' AND reminded_at IS NULL AND remind_at IS NOT NULL"))
    op.add_column('opportunity', sa.Column('lead_id', sa.UUID(), nullable=True))
    op.create_foreign_key(op.f('fk_opportunity_lead_id_lead'), 'opportunity', 'lead', ['lead_id'], ['id'], ondelete='SET NULL', use_alter=True)
    op.create_foreign_key(op.f('fk_opportunity_account_id_account'), 'opportunity', 'account', ['account_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_opportunity_account_id_account'), 'opportunity', type_='foreignkey')
    op.drop_constraint(op.f('fk_opportunity_lead_id_lead'), 'opportunity', type_='foreignkey')
    op.drop_column('opportunity', 'lead_id')
    op.drop_index('ix_task_reminder_unnotified', table_name='task', postgresql_where=sa.text("status = 'open' AND reminded_at IS NULL AND remind_at IS NOT NULL"))
    op.drop_index('ix_task_org_id_assignee_id_status_due_at', table_name='task')
    op.drop_index('ix_task_due_unnotified', table_name='task', postgresql_where=sa.text("status = 'open' AND due_notified_at IS NULL"))
    op.drop_table('task')
    op.drop_index('ix_activity_org_id_owner_id_occurred_at', table_name='activity')
    op.drop_index('ix_activity_org_id_opportunity_id_occurred_at', table_name='activity')
    op.drop_index('ix_activity_org_id_occurred_at_id', table_name='activity')
    op.drop_index('ix_activity_org_id_lead_id_occurred_at', table_name='activity')
    op.drop_index('ix_activity_org_id_contact_id_occurred_at', table_name='activity')
    op.drop_index('ix_activity_org_id_account_id_occurred_at', table_name='activity')
    op.drop_table('activity')
    op.drop_index('ix_lead_org_id_phone_normalized', table_name='lead')
    op.drop_index('ix_lead_org_id_owner_id_status', table_name='lead')
    op.drop_index('ix_lead_org_id_email_normalized', table_name='lead')
    op.drop_index('ix_lead_org_id_created_at_id', table_name='lead')
    op.drop_index('ix_lead_org_id_company_normalized', table_name='lead')
    op.drop_index('ix_lead_awaiting_response', table_name='lead', postgresql_where=sa.text("first_response_at IS NULL AND response_overdue_at IS NULL AND status = 'new'"))
    op.drop_table('lead')
    op.drop_index('ix_contact_org_id_phone_normalized', table_name='contact')
    op.drop_index('ix_contact_org_id_email_normalized', table_name='contact')
    op.drop_index('ix_contact_org_id_created_at_id', table_name='contact')
    op.drop_index('ix_contact_org_id_account_id', table_name='contact')
    op.drop_table('contact')
    op.drop_index('ix_lead_assignment_rule_org_id_position', table_name='lead_assignment_rule')
    op.drop_table('lead_assignment_rule')
    op.drop_index('ix_account_org_id_owner_id', table_name='account')
    op.drop_index('ix_account_org_id_name_normalized', table_name='account')
    op.drop_index('ix_account_org_id_created_at_id', table_name='account')
    op.drop_table('account')
    op.drop_table('lead_import_error')
    op.drop_table('lead_settings')
    op.drop_index('ix_lead_scoring_rule_org_id_position', table_name='lead_scoring_rule')
    op.drop_table('lead_scoring_rule')
    op.drop_index('ix_lead_import_queued', table_name='lead_import', postgresql_where=sa.text("status = 'queued'"))
    op.drop_index('ix_lead_import_org_id_created_at_id', table_name='lead_import')
    op.drop_table('lead_import')
    for enum_name in ('task_status', 'activity_kind', 'lead_status', 'account_lifecycle', 'lead_import_status'):
        op.execute(f'DROP TYPE IF EXISTS {enum_name}')
