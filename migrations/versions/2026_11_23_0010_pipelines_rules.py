"""pipelines: stage rules, search indexes

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:00:00

Reserved in the chain so the domains can be built in parallel; the pipelines domain fills it in.
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
