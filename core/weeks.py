"""ISO weeks written as `2026-W47`, and the Monday dates they start on."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# The published pattern (openapi.yaml) and the parser agree: years 1000-9999, weeks 01-53.
# Week 53 of a year that has only 52 is the one thing the pattern cannot rule out.
WEEK_PATTERN = r"^([1-9]\d{3})-W(0[1-9]|[1-4]\d|5[0-3])$"
_WEEK_RE = re.compile(WEEK_PATTERN)


def parse_week(text: str) -> date:
    """Return the Monday of an ISO week written `YYYY-Www`; ValueError when it is not one."""
    match = _WEEK_RE.fullmatch(text)  # `$` alone would let a trailing newline through
    if not match:
        raise ValueError("must be an ISO week written like 2026-W47")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{text} does not exist: year {year} has no week {week}") from exc


def format_week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def current_week_start(timezone: str, now: datetime) -> date:
    """Monday of the week that `now` falls in, in the given IANA zone."""
    return week_start(now.astimezone(ZoneInfo(timezone)).date())
