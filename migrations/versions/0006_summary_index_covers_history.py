"""The (week, account_id) index of summaries carries what compute_week reads back.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The streak and baseline read sessions, pain_before_sum and streak_weeks of the 4
    # weeks before W for every account: an index-only scan once these are included.
    op.drop_index("ix_weekly_summaries_week_account_id", table_name="weekly_summaries")
    op.create_index(
        "ix_weekly_summaries_week_account_id",
        "weekly_summaries",
        ["week", "account_id"],
        postgresql_include=["sessions", "pain_before_sum", "streak_weeks"],
    )


def downgrade() -> None:
    op.drop_index("ix_weekly_summaries_week_account_id", table_name="weekly_summaries")
    op.create_index(
        "ix_weekly_summaries_week_account_id", "weekly_summaries", ["week", "account_id"]
    )
