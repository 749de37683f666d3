"""The weekly pipeline's tables: summaries, pending work, and sent emails."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class WeeklySummary(Base):
    """One account's figures for one ISO week (PRODUCT.md, "Weekly summary")."""

    __tablename__ = "weekly_summaries"
    __table_args__ = (
        # compute_week reads the 4 weeks before W for every account at once, and the
        # pipeline reads one week for all: without it, a scan of every week ever stored.
        # The columns compute_week needs ride along, so that read never visits the table.
        Index(
            "ix_weekly_summaries_week_account_id",
            "week",
            "account_id",
            postgresql_include=["sessions", "pain_before_sum", "streak_weeks"],
        ),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)  # Monday of the ISO week
    sessions: Mapped[int] = mapped_column(Integer)
    active_days: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[Decimal] = mapped_column(Numeric(8, 1))
    # Unrounded input of later weeks' baseline_trend (the mean must not be rounded twice).
    pain_before_sum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    target: Mapped[int] = mapped_column(Integer)
    adherence: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    minutes_target: Mapped[int] = mapped_column(Integer)
    minutes_adherence: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    target_met: Mapped[bool] = mapped_column(Boolean)
    streak_weeks: Mapped[int] = mapped_column(Integer)
    mean_pain_before: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    mean_pain_after: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    mean_relief: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    meaningful_relief_share: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    worsened_sessions: Mapped[int] = mapped_column(Integer)
    baseline_trend: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    by_region: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    by_tool: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # Raised on every recompute; reports carry it, so a rewritten report is recognisable.
    version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The version whose report objects are in the store (0: none yet).
    reported_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WeekTask(Base):
    """A finished (account, week) waiting to be (re)summarised and reported.

    Rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED, so any number of
    clock processes share the work and a crashed one leaves its rows to others.
    """

    __tablename__ = "week_tasks"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # "final" (first time) or "stale"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WeeklyEmail(Base):
    """At most one email per (account, week): recorded "pending" with the week's report,
    claimed ("sending") right before the send, then "sent", "failed" or "skipped" (turned off).

    A row left in "sending" means a crash between claim and confirmation: the
    message may have gone out, so it is never retried (SMTP has no idempotency);
    it is counted and logged for an operator instead.
    """

    __tablename__ = "weekly_emails"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(String(500))
