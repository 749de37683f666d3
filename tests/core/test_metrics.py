"""The weekly summary of PRODUCT.md, checked against figures computed by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.metrics.weekly import compute_week, report_inputs, summary_json
from core.models.account import Account, PlanChange
from core.services.accounts import create_account
from core.services.session_writes import apply_changes
from core.session_rules import validate_session
from tests.conftest import PASSWORD, unique_email

W47 = date(2026, 11, 16)  # Monday of 2026-W47
# Accounts are created "now" = in 2026-W48, so their creation plan takes effect from W48:
# for the weeks below, it is in force only when no recorded change is.
CREATED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _account(
    db: Session, *, timezone: str = "Europe/Berlin", target: int = 3, minutes: int = 0
) -> Account:
    return create_account(
        db,
        email=unique_email("metrics"),
        password=PASSWORD,
        timezone=timezone,
        now=CREATED,
        sessions_per_week=target,
        minutes_per_week=minutes,
    )


def _log(
    db: Session,
    account: Account,
    started_at: str,
    *,
    duration_s: int = 600,
    before: int = 5,
    after: int = 3,
    region: str = "lower_back",
    tool: str = "massage_ball",
    deleted: bool = False,
    session_id: uuid.UUID | None = None,
) -> uuid.UUID:
    raw = {
        "id": str(session_id or uuid.uuid4()),
        "started_at": started_at,
        "duration_s": duration_s,
        "region": region,
        "tool": tool,
        "pain_before": before,
        "pain_after": after,
        "deleted": deleted,
    }
    item, errors = validate_session(raw, datetime.now(UTC))
    assert item is not None, errors
    apply_changes(db, account.id, [item])
    return item.id


def _week(db: Session, account: Account, monday: date) -> dict[str, Any]:
    compute_week(db, monday, [account.id])
    return _stored(db, account, monday)


def _stored(db: Session, account: Account, monday: date) -> dict[str, Any]:
    row = db.execute(
        text("SELECT * FROM weekly_summaries WHERE account_id = :a AND week = :w"),
        {"a": account.id, "w": monday},
    ).one()
    return summary_json(row)


def test_every_field_of_an_ordinary_week(db: Session) -> None:
    person = _account(db, target=3, minutes=60)
    _log(db, person, "2026-11-16T08:00:00+01:00", duration_s=600, before=6, after=3)
    _log(
        db,
        person,
        "2026-11-16T20:00:00+01:00",
        duration_s=900,
        before=4,
        after=3,
        region="glutes",
        tool="foam_roller",
    )
    _log(db, person, "2026-11-18T07:00:00+01:00", duration_s=1200, before=1, after=0)
    _log(
        db,
        person,
        "2026-11-20T07:00:00+01:00",
        duration_s=300,
        before=3,
        after=6,
        tool="foam_roller",
    )

    summary = _week(db, person, W47)

    assert summary["week"] == "2026-W47"
    assert summary["sessions"] == 4
    assert summary["active_days"] == 3  # Mon, Wed, Fri
    assert summary["minutes"] == 50.0  # 3000 s / 60
    assert summary["target"] == 3
    assert summary["adherence"] == 1.0  # min(4/3, 1)
    assert summary["minutes_target"] == 60
    assert summary["minutes_adherence"] == 0.83  # 50/60 = 0.8333
    assert summary["target_met"] is True
    assert summary["streak_weeks"] == 1
    assert summary["mean_pain_before"] == 3.5  # (6+4+1+3)/4
    assert summary["mean_pain_after"] == 3.0  # (3+3+0+6)/4
    assert summary["mean_relief"] == 0.5
    # pain_before >= 2: 6->3 (drop 3 >= 2 and >= 1.8: yes), 4->3 (no), 3->6 (no): 1/3
    assert summary["meaningful_relief_share"] == 0.33
    assert summary["worsened_sessions"] == 1  # 3 -> 6
    assert summary["baseline_trend"] is None  # no earlier week with sessions
    assert summary["by_region"] == [
        {
            "region": "glutes",
            "sessions": 1,
            "minutes": 15.0,
            "mean_relief": 1.0,
            "meaningful_relief_share": 0.0,
        },
        # (3 + 1 - 3) / 3 = 0.333; eligible 6->3 and 3->6, one meaningful
        {
            "region": "lower_back",
            "sessions": 3,
            "minutes": 35.0,
            "mean_relief": 0.33,
            "meaningful_relief_share": 0.5,
        },
    ]
    assert summary["by_tool"] == [
        {
            "tool": "foam_roller",
            "sessions": 2,
            "minutes": 20.0,
            "mean_relief": -1.0,
            "meaningful_relief_share": 0.0,
        },
        {
            "tool": "massage_ball",
            "sessions": 2,
            "minutes": 30.0,
            "mean_relief": 2.0,
            "meaningful_relief_share": 1.0,
        },
    ]
    assert summary["version"] == 1


def test_meaningful_relief_needs_both_two_points_and_thirty_percent(db: Session) -> None:
    person = _account(db)
    _log(db, person, "2026-11-16T08:00:00+01:00", before=10, after=8)  # 2 points, 20 %: no
    _log(db, person, "2026-11-16T09:00:00+01:00", before=10, after=7)  # 3 points, 30 %: yes
    _log(db, person, "2026-11-16T10:00:00+01:00", before=2, after=1)  # 1 point, 50 %: no
    _log(db, person, "2026-11-16T11:00:00+01:00", before=1, after=0)  # not eligible
    assert _week(db, person, W47)["meaningful_relief_share"] == 0.33  # 1 of 3


def test_rounding_is_half_away_from_zero(db: Session) -> None:
    up, down = _account(db), _account(db)
    for i in range(8):  # reliefs 2 x 7 + 3 = 17 -> 17/8 = 2.125
        _log(
            db,
            up,
            f"2026-11-17T{8 + i:02d}:00:00+01:00",
            before=5,
            after=2 if i == 0 else 3,
            duration_s=3 if i == 0 else 60,
        )
    for i in range(8):  # reliefs -2 x 7 - 3 = -17 -> -2.125
        _log(db, down, f"2026-11-17T{8 + i:02d}:00:00+01:00", before=2, after=5 if i == 0 else 4)
    assert _week(db, up, W47)["mean_relief"] == 2.13
    assert _week(db, down, W47)["mean_relief"] == -2.13

    tiny = _account(db)
    _log(db, tiny, "2026-11-17T08:00:00+01:00", duration_s=3)  # 0.05 min -> 0.1
    assert _week(db, tiny, W47)["minutes"] == 0.1


def test_a_week_crossing_the_autumn_dst_change_uses_each_sessions_own_offset(db: Session) -> None:
    person = _account(db, timezone="Europe/Berlin")
    w43, w44 = date(2026, 10, 19), date(2026, 10, 26)
    _log(db, person, "2026-10-24T23:30:00+02:00")  # Saturday, summer time
    _log(db, person, "2026-10-25T23:30:00+01:00")  # Sunday after the change: still W43
    _log(db, person, "2026-10-26T00:30:00+01:00")  # Monday 00:30 local, Sunday in UTC: W44
    assert _week(db, person, w43)["sessions"] == 2
    assert _week(db, person, w44)["sessions"] == 1


def test_a_traveller_is_counted_by_local_dates(db: Session) -> None:
    person = _account(db, timezone="Europe/Berlin")
    _log(db, person, "2026-11-22T23:30:00-05:00")  # Sunday in New York, Monday 04:30 UTC
    _log(db, person, "2026-11-23T01:00:00+09:00")  # Monday in Tokyo, Sunday 16:00 UTC
    _log(db, person, "2026-11-22T23:30:00+02:00")  # Sunday 23:30 at +02:00
    summary = _week(db, person, W47)
    assert summary["sessions"] == 2
    assert summary["active_days"] == 1  # both on Sunday 2026-11-22
    assert _week(db, person, W47 + timedelta(weeks=1))["sessions"] == 1


def test_the_plan_in_force_follows_the_recorded_history(db: Session) -> None:
    person = _account(db, target=3)  # created in W48: the first row is the creation plan
    w = W47
    db.add(
        PlanChange(
            account_id=person.id,
            effective_week=w - timedelta(weeks=2),
            sessions_per_week=5,
            minutes_per_week=0,
        )
    )
    db.flush()
    # Recorded later and backdated further, to before the account existed (W48).
    db.add(
        PlanChange(
            account_id=person.id,
            effective_week=w - timedelta(weeks=4),
            sessions_per_week=2,
            minutes_per_week=30,
        )
    )
    db.flush()
    targets = {k: _week(db, person, w - timedelta(weeks=k)) for k in range(6)}
    assert targets[5]["target"] == 3  # nothing in force yet: the creation plan
    assert targets[4]["target"] == 2 and targets[4]["minutes_target"] == 30
    assert targets[3]["target"] == 2
    # Both changes are in force from W-2; the most recently recorded one wins.
    assert targets[2]["target"] == 2
    assert targets[0]["target"] == 2


def test_a_later_plan_change_applies_from_its_week_only(db: Session) -> None:
    person = _account(db, target=3)
    db.add(
        PlanChange(
            account_id=person.id, effective_week=W47, sessions_per_week=1, minutes_per_week=0
        )
    )
    db.flush()
    _log(db, person, "2026-11-10T08:00:00+01:00")
    _log(db, person, "2026-11-17T08:00:00+01:00")
    earlier = _week(db, person, W47 - timedelta(weeks=1))
    assert (earlier["target"], earlier["target_met"], earlier["adherence"]) == (3, False, 0.33)
    later = _week(db, person, W47)
    assert (later["target"], later["target_met"], later["adherence"]) == (1, True, 1.0)


def test_a_zero_target_has_no_adherence_and_no_streak(db: Session) -> None:
    person = _account(db, target=0, minutes=0)
    _log(db, person, "2026-11-17T08:00:00+01:00")
    summary = _week(db, person, W47)
    assert summary["adherence"] is None and summary["minutes_adherence"] is None
    assert summary["target_met"] is False and summary["streak_weeks"] == 0


def test_minutes_adherence_uses_unrounded_minutes_and_is_capped(db: Session) -> None:
    person = _account(db, target=3, minutes=7)
    _log(db, person, "2026-11-17T08:00:00+01:00", duration_s=299)  # 4.9833 min
    summary = _week(db, person, W47)
    assert summary["minutes"] == 5.0
    assert summary["minutes_adherence"] == 0.71  # 4.9833/7 = 0.7119 (5.0/7 would be 0.71 too)
    big = _account(db, target=3, minutes=1)
    _log(db, big, "2026-11-17T08:00:00+01:00", duration_s=600)
    assert _week(db, big, W47)["minutes_adherence"] == 1.0


def test_a_week_without_sessions_is_summarised_with_zeros_and_nulls(db: Session) -> None:
    person = _account(db)
    summary = _week(db, person, W47)
    assert summary["sessions"] == 0 and summary["active_days"] == 0 and summary["minutes"] == 0
    assert summary["adherence"] == 0.0 and summary["target_met"] is False
    for field in (
        "mean_pain_before",
        "mean_pain_after",
        "mean_relief",
        "meaningful_relief_share",
        "baseline_trend",
    ):
        assert summary[field] is None
    assert summary["worsened_sessions"] == 0
    assert summary["by_region"] == [] and summary["by_tool"] == []


def test_deleted_sessions_never_count(db: Session) -> None:
    person = _account(db)
    kept = _log(db, person, "2026-11-17T08:00:00+01:00", before=8, after=2)
    gone = _log(db, person, "2026-11-18T08:00:00+01:00", before=2, after=9)
    _log(db, person, "2026-11-18T08:00:00+01:00", session_id=gone, deleted=True)
    assert kept != gone
    summary = _week(db, person, W47)
    assert (summary["sessions"], summary["worsened_sessions"], summary["mean_relief"]) == (
        1,
        0,
        6.0,
    )


def _streak_history(db: Session) -> Account:
    person = _account(db, target=1)
    for weeks_before in (4, 3, 1, 0):  # W-2 is empty: the streak breaks there
        monday = W47 - timedelta(weeks=weeks_before)
        _log(db, person, f"{monday.isoformat()}T08:00:00+01:00")
    return person


def test_a_streak_counts_each_week_against_its_own_plan(db: Session) -> None:
    person = _account(db, target=1)
    db.add(
        PlanChange(
            account_id=person.id,
            effective_week=W47 - timedelta(weeks=3),
            sessions_per_week=2,
            minutes_per_week=0,
        )
    )
    db.flush()
    per_week = {4: 1, 3: 1, 2: 2, 1: 2, 0: 2}  # weeks before W47 -> sessions
    for weeks_before, n in per_week.items():
        monday = W47 - timedelta(weeks=weeks_before)
        for hour in range(n):
            _log(db, person, f"{monday.isoformat()}T{8 + hour:02d}:00:00+01:00")
    # W-4: 1 >= 1 (creation plan) met; W-3: 1 < 2 not met; W-2, W-1, W: 2 >= 2 met -> 3
    assert _week(db, person, W47)["streak_weeks"] == 3  # from the sessions alone
    stored = [_week(db, person, W47 - timedelta(weeks=k))["streak_weeks"] for k in (4, 3, 2, 1)]
    assert stored == [1, 0, 1, 2]
    assert _week(db, person, W47)["streak_weeks"] == 3  # from the stored W-1


def test_a_streak_is_broken_by_an_empty_week(db: Session) -> None:
    # Computed from the sessions alone (no earlier week stored): W-1 and W are met.
    assert _week(db, _streak_history(db), W47)["streak_weeks"] == 2


def test_streaks_from_stored_weeks_equal_those_from_the_sessions(db: Session) -> None:
    person = _streak_history(db)
    streaks = [
        _week(db, person, W47 - timedelta(weeks=k))["streak_weeks"] for k in (5, 4, 3, 2, 1, 0)
    ]
    assert streaks == [0, 1, 2, 0, 1, 2]


def test_baseline_trend_uses_the_weeks_with_sessions_among_the_four_before(db: Session) -> None:
    person = _account(db)
    _log(db, person, "2026-10-19T08:00:00+02:00", before=9)  # W-4: mean 9
    for before in (5, 4, 4):  # W-2: mean 13/3 = 4.333...
        _log(db, person, "2026-11-02T08:00:00+01:00", before=before)
    _log(db, person, "2026-10-12T08:00:00+02:00", before=1)  # W-5: outside the window
    _log(db, person, "2026-11-17T08:00:00+01:00", before=4)  # W: mean 4
    # 4 - (9 + 4.3333) / 2 = 4 - 6.6667 = -2.6667 -> -2.67
    assert _week(db, person, W47)["baseline_trend"] == -2.67

    # Same figure once the earlier weeks are stored summaries (the pipeline's path).
    for k in (5, 4, 3, 2, 1):
        _week(db, person, W47 - timedelta(weeks=k))
    assert _week(db, person, W47)["baseline_trend"] == -2.67


def test_baseline_trend_rounds_an_exact_half_cent_away_from_zero(db: Session) -> None:
    person = _account(db)
    # W-4 empty; W-3: before 1, 1, 0 -> 2/3; W-2: 3, 2, 2 -> 7/3; W-1: 0 -> 0.
    for weeks_before, befores in ((3, (1, 1, 0)), (2, (3, 2, 2)), (1, (0,))):
        monday = W47 - timedelta(weeks=weeks_before)
        for hour, before in enumerate(befores):
            started = f"{monday.isoformat()}T{8 + hour:02d}:00:00+01:00"
            _log(db, person, started, before=before, after=0)
    for hour, before in enumerate((1, 0, 0, 0, 0, 0, 0, 0)):  # W: 1/8
        _log(db, person, f"2026-11-17T{8 + hour:02d}:00:00+01:00", before=before, after=0)
    # 1/8 - (2/3 + 7/3 + 0) / 3 = 0.125 - 1 = -0.875 exactly -> -0.88. With the thirds cut
    # to 20 digits the mean is 0.99999999999999999999 and the trend would round to -0.87.
    assert _week(db, person, W47)["baseline_trend"] == -0.88
    for k in (4, 3, 2, 1):
        _week(db, person, W47 - timedelta(weeks=k))
    assert _week(db, person, W47)["baseline_trend"] == -0.88


def test_baseline_trend_is_null_when_the_four_weeks_before_are_empty(db: Session) -> None:
    person = _account(db)
    _log(db, person, "2026-10-12T08:00:00+02:00", before=7)  # W-5 only
    _log(db, person, "2026-11-17T08:00:00+01:00", before=4)
    assert _week(db, person, W47)["baseline_trend"] is None


def test_baseline_trend_is_unrounded_until_the_end(db: Session) -> None:
    person = _account(db)
    for monday in ("2026-11-09", "2026-11-02"):  # W-1 and W-2: 2/3 each (0.67 when rounded)
        for before in (1, 1, 0):
            _log(db, person, f"{monday}T08:00:00+01:00", before=before, after=0)
    for hour, before in enumerate((1, 1, 1, 1, 1, 0, 0, 0)):  # W: 5/8 = 0.625
        _log(db, person, f"2026-11-17T{8 + hour:02d}:00:00+01:00", before=before, after=0)
    for k in (2, 1):
        _week(db, person, W47 - timedelta(weeks=k))
    # 0.625 - 2/3 = -0.0417 -> -0.04; from rounded means it would be 0.625 - 0.67 -> -0.05
    assert _week(db, person, W47)["baseline_trend"] == -0.04


def test_accounts_sharing_a_session_id_do_not_interfere(db: Session) -> None:
    one, two = _account(db), _account(db)
    shared = uuid.uuid4()
    _log(db, one, "2026-11-17T08:00:00+01:00", session_id=shared, before=9, after=1)
    _log(db, two, "2026-11-18T08:00:00+01:00", session_id=shared, before=3, after=3)
    compute_week(db, W47, [one.id, two.id])
    assert _stored(db, one, W47)["mean_relief"] == 8.0
    assert _stored(db, two, W47)["mean_relief"] == 0.0


def test_a_recompute_raises_the_version(db: Session) -> None:
    person = _account(db)
    assert _week(db, person, W47)["version"] == 1
    _log(db, person, "2026-11-17T08:00:00+01:00")
    summary = _week(db, person, W47)
    assert (summary["version"], summary["sessions"]) == (2, 1)


def test_report_inputs_give_days_cells_and_eight_weeks(db: Session) -> None:
    person = _account(db)
    _log(db, person, "2026-11-17T08:00:00+01:00", before=6, after=2)
    _log(db, person, "2026-11-17T09:00:00+01:00", before=4, after=3, tool="foam_roller")
    compute_week(db, W47, [person.id])
    inputs = report_inputs(db, W47, [person.id])[person.id]
    assert [d["date"] for d in inputs["days"]] == [f"2026-11-{16 + i}" for i in range(7)]
    tuesday = inputs["days"][1]
    assert (tuesday["sessions"], tuesday["mean_pain_before"], tuesday["mean_pain_after"]) == (
        2,
        5.0,
        2.5,
    )
    assert inputs["days"][0]["mean_pain_before"] is None
    assert [(c["tool"], c["sessions"]) for c in inputs["region_tool"]] == [
        ("foam_roller", 1),
        ("massage_ball", 1),
    ]
    assert [w["week"] for w in inputs["baseline_weeks"]][-1] == "2026-W47"
    assert len(inputs["baseline_weeks"]) == 8


def test_report_baseline_weeks_come_from_stored_weeks_else_from_sessions(db: Session) -> None:
    person, idle = _account(db), _account(db)
    _log(db, person, "2026-09-27T23:00:00+02:00", before=9)  # W39 (Sunday): too old
    _log(db, person, "2026-10-01T08:00:00+02:00", before=7)  # W40 (Thursday)
    _log(db, person, "2026-10-02T08:00:00+02:00", before=6)  # W40: 2 sessions, mean 6.5
    _log(db, person, "2026-11-09T08:00:00+01:00", before=3)  # W46: stored below
    compute_week(db, W47 - timedelta(weeks=1), [person.id])
    _log(db, person, "2026-11-10T08:00:00+01:00", before=9)  # after W46 was stored: not shown
    _log(db, person, "2026-11-17T08:00:00+01:00", before=4)  # W47
    compute_week(db, W47, [person.id, idle.id])
    inputs = report_inputs(db, W47, [person.id, idle.id])
    weeks = inputs[person.id]["baseline_weeks"]
    assert [w["week"] for w in weeks] == [f"2026-W{n}" for n in range(40, 48)]
    assert [(w["sessions"], w["mean_pain_before"]) for w in weeks] == [
        (2, 6.5),  # W40 from the sessions: (7 + 6) / 2
        *[(0, None)] * 5,
        (1, 3.0),  # W46 as stored
        (1, 4.0),
    ]
    assert inputs[idle.id]["region_tool"] == []
    assert [d["sessions"] for d in inputs[idle.id]["days"]] == [0] * 7


def test_all_accounts_get_a_row_when_none_are_named(db: Session) -> None:
    busy, idle = _account(db), _account(db)
    _log(db, busy, "2026-11-17T08:00:00+01:00")
    written = compute_week(db, W47)
    assert {busy.id, idle.id} <= set(written)
    assert (_stored(db, busy, W47)["sessions"], _stored(db, idle, W47)["sessions"]) == (1, 0)


def test_a_week_is_named_by_its_monday(db: Session) -> None:
    with pytest.raises(ValueError):
        compute_week(db, W47 + timedelta(days=1), [])


@pytest.mark.parametrize("value", [Decimal("0.005"), Decimal("-0.005")])
def test_postgres_round_is_the_rounding_we_document(db: Session, value: Decimal) -> None:
    rounded = db.execute(text("SELECT round(CAST(:v AS numeric), 2)"), {"v": value}).scalar_one()
    assert abs(rounded) == Decimal("0.01")
