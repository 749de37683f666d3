"""Count each account's consecutive failed sign-ins and lock it after too many.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant server default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "accounts",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "accounts",
        sa.Column("login_locked_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("accounts", "login_locked_until")
    op.drop_column("accounts", "failed_logins")
