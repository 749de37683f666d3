"""Which (account, week) pairs need (re)summarising: finality, catch-up and stale marking.

A week is final for an account once its own time zone passes Monday 06:00 after
it. Shifting local time back six hours and truncating to the ISO week gives the
Monday of the current "pipeline week"; the week before it is the latest final one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, text
from sqlalchemy.orm import Session

from core.weeks import week_start

# The latest final week of account `a` (SQL expression over accounts a).
LATEST_FINAL_WEEK = (
    "(date_trunc('week', (now() AT TIME ZONE a.timezone) - interval '6 hours'))::date - 7"
)
CATCH_UP_WEEKS = 4  # a clock that was down this long still summarises every missed week

FINAL, STALE, MANUAL, MANUAL_EMAIL = "final", "stale", "manual", "manual_email"


def enqueue_final_weeks(db: Session) -> int:
    """Queue every final week not yet summarised (the latest and a few missed ones)."""
    result = db.execute(
        text(
            f"""
            INSERT INTO week_tasks (account_id, week, reason)
            SELECT a.id, w.week, :reason
            FROM accounts a
            CROSS JOIN LATERAL (
                SELECT ({LATEST_FINAL_WEEK} - 7 * k) AS week
                FROM generate_series(0, :catch_up - 1) AS k
            ) w
            WHERE w.week >= date_trunc('week', a.created_at AT TIME ZONE a.timezone)::date
              AND NOT EXISTS (SELECT 1 FROM weekly_summaries s
                              WHERE s.account_id = a.id AND s.week = w.week)
            ON CONFLICT (account_id, week) DO NOTHING
            """
        ),
        {"reason": FINAL, "catch_up": CATCH_UP_WEEKS},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def enqueue_weeks(
    db: Session, weeks: Iterable[date], account_id: uuid.UUID | None, *, send_email: bool
) -> int:
    """Queue a one-off recompute; emails only when asked (a backfill must not mail people).

    Weeks not yet final in an account's zone are skipped: summarised early, they would
    look done and the clock would never summarise them once final.
    """
    reason = MANUAL_EMAIL if send_email else MANUAL
    result = db.execute(
        text(
            f"""
            INSERT INTO week_tasks (account_id, week, reason)
            SELECT a.id, w, :reason FROM accounts a, unnest(CAST(:weeks AS date[])) AS w
            WHERE (CAST(:account_id AS uuid) IS NULL OR a.id = :account_id)
              AND w <= {LATEST_FINAL_WEEK}
            ON CONFLICT (account_id, week) DO UPDATE SET reason = EXCLUDED.reason
            """
        ),
        {"reason": reason, "weeks": sorted(set(weeks)), "account_id": account_id},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def may_touch_final_week(dates: Iterable[date], now: datetime) -> bool:
    """False when every date is in the current week for any zone on Earth (the hot path of
    pushing today's sessions then skips the stale-marking statement)."""
    earliest = min(dates, default=None)
    if earliest is None:
        return False
    # Local dates run at most a day ahead of UTC, so this Monday is <= every zone's Monday.
    safe_from = week_start(now.astimezone(UTC).date() + timedelta(days=1))
    return earliest < safe_from


def mark_dates_changed(db: Session, account_id: uuid.UUID, dates: set[date], now: datetime) -> None:
    """A write touched these local dates: queue their final weeks and the weeks depending on
    them (baseline_trend looks back 4 weeks; a streak runs back through the week)."""
    if not may_touch_final_week(dates, now):
        return
    weeks = sorted({week_start(d) for d in dates})
    db.execute(
        text(
            f"""
            INSERT INTO week_tasks (account_id, week, reason)
            SELECT a.id, w.week, :reason
            FROM accounts a
            CROSS JOIN LATERAL (
                SELECT unnest(CAST(:weeks AS date[])) AS week
                UNION
                SELECT s.week FROM weekly_summaries s
                WHERE s.account_id = a.id AND s.week > :first
                  AND (s.week <= :first + 28 OR s.streak_weeks >= (s.week - :first) / 7)
            ) w
            WHERE a.id = :account_id AND w.week <= {LATEST_FINAL_WEEK}
            ON CONFLICT (account_id, week) DO NOTHING
            """
        ),
        {"reason": STALE, "weeks": weeks, "first": weeks[0], "account_id": account_id},
    )


def mark_plan_changed(db: Session, account_id: uuid.UUID, effective_week: date) -> None:
    """A plan change (possibly backdated) changes the target of every summarised week since."""
    db.execute(
        text(
            """
            INSERT INTO week_tasks (account_id, week, reason)
            SELECT account_id, week, :reason FROM weekly_summaries
            WHERE account_id = :account_id AND week >= :effective
            ON CONFLICT (account_id, week) DO NOTHING
            """
        ),
        {"reason": STALE, "account_id": account_id, "effective": effective_week},
    )


# What the clocks still have to do, and what needs a person: emails claimed over an
# hour ago and never confirmed (a crash mid-send; never resent, so someone must look).
_BACKLOG = text(
    """
    SELECT (SELECT count(*) FROM week_tasks) AS tasks,
           (SELECT count(*) FROM weekly_emails WHERE status = 'pending') AS pending_emails,
           (SELECT count(*) FROM weekly_emails
             WHERE status = 'sending' AND claimed_at < now() - interval '1 hour') AS stuck_emails
    """
)


def pipeline_backlog(db: Connection | Session) -> Row[Any]:
    """(tasks, pending_emails, stuck_emails), counted now."""
    return db.execute(_BACKLOG).one()
