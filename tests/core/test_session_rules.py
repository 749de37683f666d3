"""The session rules a phone's data must pass, checked without HTTP or a database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from core.session_rules import parse_rfc3339, validate_session

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def raw(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "started_at": "2026-11-20T07:30:00+01:00",
        "duration_s": 600,
        "region": "lower_back",
        "tool": "foam_roller",
        "pain_before": 6,
        "pain_after": 3,
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T07:30:00+01:00", datetime(2026, 11, 20, 6, 30, tzinfo=UTC)),
        ("2026-11-20T07:30:00-05:30", datetime(2026, 11, 20, 13, 0, tzinfo=UTC)),
        ("2026-11-20T07:30:00Z", datetime(2026, 11, 20, 7, 30, tzinfo=UTC)),
        ("2026-11-20t07:30:00z", datetime(2026, 11, 20, 7, 30, tzinfo=UTC)),
        ("2026-11-20T07:30:00.5Z", datetime(2026, 11, 20, 7, 30, 0, 500000, tzinfo=UTC)),
        # nanoseconds from a phone are cut to microseconds, not refused
        (
            "2026-11-20T07:30:00.123456789+00:00",
            datetime(2026, 11, 20, 7, 30, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_rfc3339_offsets_z_and_fractions(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-20T07:30:00", "offset"),
        ("2026-11-20T07:30:00.25", "offset"),
        ("2026-11-20", "RFC 3339"),
        ("20 Nov 2026 07:30", "RFC 3339"),
        ("2026-02-30T07:30:00Z", "calendar"),
        ("2026-11-20T07:30:00+25:00", "date-time|offset"),
    ],
)
def test_rfc3339_rejects_naive_and_broken_values(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rfc3339(text)


@pytest.mark.parametrize("value", [None, 1700000000, ["2026-11-20T07:30:00Z"]])
def test_rfc3339_rejects_non_strings(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(value)


def test_local_date_comes_from_the_phones_own_offset() -> None:
    # Sunday 23:30 in New York is already Monday in UTC: the session belongs to Sunday.
    item, errors = validate_session(raw(started_at="2026-11-22T23:30:00-05:00"), NOW)
    assert errors == {}
    assert item is not None
    assert item.local_date == date(2026, 11, 22)
    assert item.started_at.astimezone(UTC).date() == date(2026, 11, 23)
    assert item.utc_offset_s == -5 * 3600


def test_local_date_east_of_utc_is_ahead_of_the_utc_date() -> None:
    item, _ = validate_session(raw(started_at="2026-11-23T00:30:00+13:00"), NOW)
    assert item is not None
    assert item.local_date == date(2026, 11, 23)
    assert item.started_at.astimezone(UTC).date() == date(2026, 11, 22)
    assert item.utc_offset_s == 13 * 3600


def test_whole_floats_count_as_integers() -> None:
    item, errors = validate_session(raw(duration_s=600.0, pain_before=3.0), NOW)
    assert errors == {}
    assert item is not None
    assert (item.duration_s, item.pain_before) == (600, 3)
    assert isinstance(item.duration_s, int)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration_s", True),
        ("pain_before", False),
        ("pain_after", 2.5),
        ("duration_s", "600"),
    ],
)
def test_booleans_fractions_and_strings_are_not_integers(field: str, value: Any) -> None:
    item, errors = validate_session(raw(**{field: value}), NOW)
    assert item is None
    assert errors == {field: ["Not a valid integer."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration_s", 0), ("duration_s", 14401), ("pain_before", -1), ("pain_after", 11)],
)
def test_integer_ranges(field: str, value: int) -> None:
    _, errors = validate_session(raw(**{field: value}), NOW)
    assert list(errors) == [field]
    assert "between" in errors[field][0]


def test_range_edges_are_accepted() -> None:
    item, errors = validate_session(raw(duration_s=14400, pain_before=10, pain_after=0), NOW)
    assert errors == {} and item is not None


def test_future_limit_is_24_hours_by_the_servers_clock() -> None:
    just_inside = (NOW + timedelta(hours=23, minutes=59)).astimezone(timezone(timedelta(hours=9)))
    just_outside = NOW + timedelta(hours=24, minutes=1)
    assert validate_session(raw(started_at=just_inside.isoformat()), NOW)[1] == {}
    _, errors = validate_session(raw(started_at=just_outside.isoformat()), NOW)
    assert "future" in errors["started_at"][0]
    _, errors = validate_session(raw(client_updated_at=just_outside.isoformat()), NOW)
    assert "future" in errors["client_updated_at"][0]


def test_client_updated_at_defaults_to_the_time_received() -> None:
    item, _ = validate_session(raw(), NOW)
    assert item is not None and item.client_updated_at == NOW
    item, _ = validate_session(raw(client_updated_at=None), NOW)
    assert item is not None and item.client_updated_at == NOW


def test_vocabularies_and_optional_fields() -> None:
    _, errors = validate_session(raw(region="back", tool=None, side="middle"), NOW)
    assert set(errors) == {"region", "tool", "side"}
    item, errors = validate_session(raw(side=None, note=None), NOW)
    assert errors == {} and item is not None and item.side is None and item.note is None


def test_note_length_and_type() -> None:
    assert validate_session(raw(note="x" * 2000), NOW)[1] == {}
    assert "2000" in validate_session(raw(note="x" * 2001), NOW)[1]["note"][0]
    assert "note" in validate_session(raw(note=42), NOW)[1]
    # PostgreSQL text cannot hold NUL; refuse it rather than fail the whole batch
    assert "note" in validate_session(raw(note="a\x00b"), NOW)[1]


def test_deleted_must_be_a_boolean() -> None:
    assert validate_session(raw(deleted="yes"), NOW)[1] == {"deleted": ["Not a valid boolean."]}
    item, _ = validate_session(raw(deleted=True), NOW)
    assert item is not None and item.deleted is True


def test_missing_fields_are_named_each() -> None:
    item, errors = validate_session({}, NOW)
    assert item is None
    assert set(errors) == {
        "id",
        "started_at",
        "duration_s",
        "region",
        "tool",
        "pain_before",
        "pain_after",
    }


def test_id_rules() -> None:
    path_id = uuid.uuid4()
    assert validate_session(raw(id="nope"), NOW)[1] == {"id": ["Not a valid UUID."]}
    assert validate_session(raw(id=7), NOW)[1] == {"id": ["Not a valid UUID."]}
    _, errors = validate_session(raw(id=str(uuid.uuid4())), NOW, path_id=path_id)
    assert "path" in errors["id"][0]
    body = raw()
    del body["id"]
    item, errors = validate_session(body, NOW, path_id=path_id)
    assert errors == {} and item is not None and item.id == path_id


def test_server_fields_and_unknown_fields_are_ignored() -> None:
    item, errors = validate_session(
        raw(
            local_date="1999-01-01",
            week="1999-W01",
            account_id=str(uuid.uuid4()),
            created_at="1999-01-01T00:00:00Z",
            seq=-5,
            colour="blue",
        ),
        NOW,
    )
    assert errors == {} and item is not None
    assert item.local_date == date(2026, 11, 20)


def test_an_item_that_is_not_an_object_is_refused() -> None:
    item, errors = validate_session(["not", "an", "object"], NOW)
    assert item is None and "_schema" in errors
