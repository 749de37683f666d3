"""Reading stored weekly summaries and locating their reports."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.metrics.weekly import summary_json
from core.weeks import format_week

MAX_RANGE_WEEKS = 157  # three years a page


def list_summaries(
    db: Session, account_id: uuid.UUID, first: date | None, last: date | None
) -> list[dict[str, Any]]:
    """Stored summaries between two ISO weeks (inclusive), oldest first."""
    if first is not None and last is not None:
        if last < first:
            raise InvalidInput({"to": ["Must not be before 'from'."]})
        if (last - first).days // 7 >= MAX_RANGE_WEEKS:
            raise InvalidInput({"to": [f"A range spans at most {MAX_RANGE_WEEKS} weeks."]})
    last = last or date.max - timedelta(days=7)
    first = first or last - timedelta(weeks=MAX_RANGE_WEEKS - 1)
    rows = db.execute(
        text(
            """SELECT * FROM weekly_summaries
               WHERE account_id = :a AND week BETWEEN :first AND :last ORDER BY week"""
        ),
        {"a": account_id, "first": first, "last": last},
    )
    return [summary_json(row) for row in rows]


def get_summary(db: Session, account_id: uuid.UUID, week: date) -> dict[str, Any]:
    row = db.execute(
        text("SELECT * FROM weekly_summaries WHERE account_id = :a AND week = :w"),
        {"a": account_id, "w": week},
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"No summary for {format_week(week)}: a week is summarised after Monday 06:00 "
            "in the account's time zone."
        )
    return summary_json(row)


def reported_version(db: Session, account_id: uuid.UUID, week: date) -> int:
    """The version of the report objects in the store; NotFound when none was written."""
    version = db.execute(
        text("SELECT reported_version FROM weekly_summaries WHERE account_id = :a AND week = :w"),
        {"a": account_id, "w": week},
    ).scalar_one_or_none()
    if not version:
        raise NotFound(f"No report for {format_week(week)} yet.")
    return int(version)
