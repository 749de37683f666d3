"""Keep each summary's unrounded pain-before total, and index summaries by week.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:49:03.045451
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "weekly_summaries",
        sa.Column("pain_before_sum", sa.Integer(), server_default="0", nullable=False),
    )
    # Summaries stored before: the total back from the 2-decimal mean, exact below 100
    # sessions a week (the rounding error, at most 0.005 x sessions, stays under 0.5).
    op.execute(
        "UPDATE weekly_summaries SET pain_before_sum = round(mean_pain_before * sessions) "
        "WHERE sessions > 0"
    )
    op.create_index(
        "ix_weekly_summaries_week_account_id",
        "weekly_summaries",
        ["week", "account_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_weekly_summaries_week_account_id", table_name="weekly_summaries")
    op.drop_column("weekly_summaries", "pain_before_sum")
