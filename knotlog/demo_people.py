"""The demo's people and their months of sessions: realistic, deterministic, varied.

Each person is a small story the weekly figures should tell: one who improves, one
who keeps at it without relief, one who travels across time zones, one who stops
logging, one who sees a therapist. Ids are derived from the person and the day, so
running the demo again replays the same sessions (`unchanged`), never duplicates.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

DEMO_PASSWORD = "demo-password-1234"
DEMO_WEEKS = 16
_NAMESPACE = uuid.UUID("6f0c1f6e-7d2b-4c59-9a7e-3c1f2b8d9e10")


@dataclass(frozen=True)
class Day:
    """What a person does on one day, given the day's index in the history (0 = oldest)."""

    index: int
    on: date
    progress: float  # 0 at the start of the history, 1 today


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    timezone: str
    story: str
    sessions_per_week: int
    minutes_per_week: int
    log: Callable[[Day, random.Random], dict[str, Any] | None]
    seed: int
    plan_change: tuple[int, int] | None = None  # (weeks ago, new sessions per week)
    weekly_email: bool = True
    devices: tuple[str, ...] = field(default=("phone",))


def _session(
    person: str,
    day: Day,
    offset_hours: float,
    clock: time,
    minutes: int,
    region: str,
    tool: str,
    before: int,
    after: int,
    side: str | None = "both",
    note: str | None = None,
) -> dict[str, Any]:
    zone = timezone(timedelta(hours=offset_hours))
    started = datetime.combine(day.on, clock, zone)
    return {
        "id": str(uuid.uuid5(_NAMESPACE, f"{person}/{day.on.isoformat()}")),
        "started_at": started.isoformat(),
        "duration_s": minutes * 60,
        "region": region,
        "tool": tool,
        "side": side,
        "pain_before": max(0, min(10, before)),
        "pain_after": max(0, min(10, after)),
        "note": note,
        "client_updated_at": (started + timedelta(minutes=minutes + 5)).isoformat(),
    }


def _anna(day: Day, rng: random.Random) -> dict[str, Any] | None:
    """Improves: 4-5 sessions a week, resting pain 7 -> 3, relief of 2-3 points each time."""
    if rng.random() > 0.66:
        return None
    before = round(7 - 4 * day.progress + rng.uniform(-0.8, 0.8))
    region = rng.choice(["lower_back", "lower_back", "glutes", "hips"])
    tool = "quadballer" if region == "lower_back" and rng.random() < 0.4 else "massage_ball"
    return _session(
        "anna",
        day,
        1,
        time(7, rng.randrange(0, 40)),
        rng.randrange(8, 20),
        region,
        tool,
        before,
        before - rng.randrange(2, 4),
    )


def _ben(day: Day, rng: random.Random) -> dict[str, Any] | None:
    """Keeps at it without relief: pain stays near 6, rolling moves it a point at most."""
    if day.on.weekday() not in (0, 2, 4) or rng.random() > 0.8:
        return None
    before = 6 + rng.choice([-1, 0, 0, 1])
    region = rng.choice(["hamstrings", "it_band", "quadriceps", "lower_back"])
    after = before - rng.choice([0, 0, 1]) + (2 if rng.random() < 0.1 else 0)
    return _session(
        "ben",
        day,
        -5,
        time(21, rng.randrange(0, 50)),
        rng.randrange(5, 15),
        region,
        "foam_roller",
        before,
        after,
        side=None,
    )


# Chloé lives in Paris and travels: weeks 9-11 of the history in Tokyo, 13 in New York.
_TRAVEL = {9: 9.0, 10: 9.0, 11: 9.0, 13: -5.0}


def _chloe(day: Day, rng: random.Random) -> dict[str, Any] | None:
    """A traveller: the phone sends its local offset wherever she is."""
    if rng.random() > 0.55:
        return None
    offset = _TRAVEL.get(day.index // 7, 1.0)
    before = round(5 - 1.5 * day.progress + rng.uniform(-1, 1))
    # Late in the evening: in Tokyo, a Sunday 23:30 session is still Sunday locally.
    clock = time(23, 30) if offset == 9.0 and day.on.weekday() == 6 else time(19, 15)
    region = rng.choice(["shoulders", "neck", "upper_back", "lower_back"])
    return _session(
        "chloe",
        day,
        offset,
        clock,
        rng.randrange(6, 16),
        region,
        rng.choice(["massage_ball", "hands"]),
        before,
        before - rng.randrange(1, 4),
        side=rng.choice(["left", "right", "both"]),
    )


def _dev(day: Day, rng: random.Random) -> dict[str, Any] | None:
    """Stops logging six weeks ago: the summaries show the streak ending and empty weeks."""
    if day.progress > 0.62 or rng.random() > 0.5:
        return None
    before = round(6 - 2 * day.progress + rng.uniform(-1, 1))
    return _session(
        "dev",
        day,
        5.5,
        time(6, 45),
        rng.randrange(10, 25),
        rng.choice(["calves", "feet"]),
        rng.choice(["massage_ball", "foam_roller"]),
        before,
        before - rng.randrange(1, 3),
    )


def _eva(day: Day, rng: random.Random) -> dict[str, Any] | None:
    """A weekly therapist visit plus short sessions at home, with a minutes goal."""
    if day.on.weekday() == 1:
        before = round(7 - 2.5 * day.progress)
        return _session(
            "eva",
            day,
            0,
            time(17, 0),
            45,
            "lower_back",
            "therapist",
            before,
            before - 3,
            note="Dry needling and soft-tissue work on the QL.",
        )
    if rng.random() > 0.45:
        return None
    before = round(6 - 2 * day.progress + rng.uniform(-1, 1))
    return _session(
        "eva",
        day,
        0,
        time(8, 10),
        rng.randrange(5, 12),
        "glutes",
        "massage_ball",
        before,
        before - rng.randrange(0, 3),
    )


PEOPLE: tuple[Person, ...] = (
    Person(
        "Anna",
        "demo@knotlog.example",
        "Europe/Berlin",
        "improving",
        3,
        60,
        _anna,
        seed=1,
        plan_change=(6, 4),
        devices=("phone", "tablet"),
    ),
    Person("Ben", "ben@knotlog.example", "America/New_York", "no relief yet", 3, 0, _ben, seed=2),
    Person("Chloé", "chloe@knotlog.example", "Europe/Paris", "traveller", 3, 0, _chloe, seed=3),
    Person("Dev", "dev@knotlog.example", "Asia/Kolkata", "stopped logging", 3, 0, _dev, seed=4),
    Person(
        "Eva",
        "eva@knotlog.example",
        "Europe/London",
        "with a therapist",
        3,
        90,
        _eva,
        seed=5,
        weekly_email=False,
    ),
)


def sessions_of(person: Person, today: date, weeks: int = DEMO_WEEKS) -> list[dict[str, Any]]:
    """The person's history: `weeks` ISO weeks ending with the current one, up to today."""
    rng = random.Random(person.seed)
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    total = 7 * weeks
    sessions = []
    for index in range(total):
        on = start + timedelta(days=index)
        if on > today:
            break
        session = person.log(Day(index, on, index / total), rng)
        if session is not None:
            sessions.append(session)
    return sessions
