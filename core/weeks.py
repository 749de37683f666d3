"""ISO weeks written as `2026-W47`, and the Monday dates they start on."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(text: str) -> date:
    """Return the Monday of an ISO week written `YYYY-Www`; ValueError when it is not one."""
    match = _WEEK_RE.match(text)
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
