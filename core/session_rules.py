"""Validation of a session as the phone sends it: one fast pass shared by PUT and push.

Push validates up to 500 items per request, so this is plain Python over the
parsed JSON rather than a marshmallow load (about 20 x slower, STACK-NOTES).
The marshmallow schemas in api/ describe the same rules for the OpenAPI spec;
both read their limits from core.vocab.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core import vocab
from core.errors import FieldErrors

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_REGIONS = frozenset(vocab.REGIONS)
_TOOLS = frozenset(vocab.TOOLS)
_SIDES = frozenset(vocab.SIDES)
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class SessionInput:
    """A valid session with the server's derived fields, ready to store."""

    id: uuid.UUID
    started_at: datetime  # aware, in the phone's offset
    utc_offset_s: int
    local_date: date
    duration_s: int
    region: str
    tool: str
    side: str | None
    pain_before: int
    pain_after: int
    note: str | None
    client_updated_at: datetime
    deleted: bool

    def content(self) -> tuple[Any, ...]:
        """Every stored field but client_updated_at: equal content means `unchanged`."""
        return (
            self.started_at,
            self.utc_offset_s,
            self.duration_s,
            self.region,
            self.tool,
            self.side,
            self.pain_before,
            self.pain_after,
            self.note,
            self.deleted,
        )


def parse_rfc3339(value: Any) -> datetime:
    """An RFC 3339 date-time with an explicit offset; ValueError with a message otherwise."""
    if not isinstance(value, str):
        raise ValueError("Must be an RFC 3339 date-time string.")
    if not _RFC3339.match(value):
        if re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?$", value):
            raise ValueError("Must include a UTC offset, like 2026-11-20T07:30:00+01:00.")
        raise ValueError("Must be an RFC 3339 date-time like 2026-11-20T07:30:00+01:00.")
    text = value.replace("z", "Z").replace("t", "T")
    if "." in text:  # Python keeps microseconds; drop digits beyond six
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest)
        assert digits is not None
        text = f"{head}.{digits.group(0)[:6].ljust(6, '0')}{rest[digits.end() :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("Is not a valid calendar date-time.") from None
    offset = parsed.utcoffset()
    assert offset is not None
    if abs(offset) >= timedelta(hours=24) or offset % timedelta(minutes=1):
        raise ValueError("Has an impossible UTC offset.")
    return parsed


def _integer(raw: dict[str, Any], name: str, low: int, high: int, errors: FieldErrors) -> int:
    value = raw.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema counts 3.0 as an integer
    if not isinstance(value, int) or isinstance(value, bool):
        errors[name] = (
            ["Missing data for required field."] if value is None else ["Not a valid integer."]
        )
        return 0
    if not low <= value <= high:
        errors[name] = [f"Must be between {low} and {high}."]
    return value


def _choice(
    raw: dict[str, Any], name: str, allowed: frozenset[str], errors: FieldErrors, optional: bool
) -> str | None:
    value = raw.get(name)
    if value is None:
        if not optional:
            errors[name] = ["Missing data for required field."]
        return None
    if not isinstance(value, str) or value not in allowed:
        errors[name] = [f"Must be one of: {', '.join(sorted(allowed))}."]
        return None
    return value


def _timestamp(
    raw: dict[str, Any], name: str, now: datetime, errors: FieldErrors
) -> datetime | None:
    try:
        value = parse_rfc3339(raw[name])
    except KeyError:
        return None
    except ValueError as exc:
        errors[name] = [str(exc)]
        return None
    if value > now + timedelta(seconds=vocab.FUTURE_TOLERANCE_S):
        errors[name] = ["Is more than 24 hours in the future by the server's clock."]
    elif value < _EARLIEST:
        errors[name] = ["Is before 1970-01-01."]
    return value


def validate_session(
    raw: Any, now: datetime, path_id: uuid.UUID | None = None
) -> tuple[SessionInput | None, FieldErrors]:
    """Validate one pushed or PUT session; unknown fields are ignored, server fields never read."""
    if not isinstance(raw, dict):
        return None, {"_schema": ["Each session must be a JSON object."]}
    errors: FieldErrors = {}

    session_id: uuid.UUID | None = None
    raw_id = raw.get("id")
    if raw_id is None:
        session_id = path_id
        if session_id is None:
            errors["id"] = ["Missing data for required field."]
    else:
        try:
            if not isinstance(raw_id, str) or len(raw_id) > 45:
                raise ValueError
            session_id = uuid.UUID(raw_id)
        except ValueError:
            errors["id"] = ["Not a valid UUID."]
        else:
            if path_id is not None and session_id != path_id:
                errors["id"] = ["Must equal the session id in the path."]

    if "started_at" not in raw:
        errors["started_at"] = ["Missing data for required field."]
    started_at = _timestamp(raw, "started_at", now, errors)
    duration_s = _integer(raw, "duration_s", vocab.DURATION_MIN_S, vocab.DURATION_MAX_S, errors)
    region = _choice(raw, "region", _REGIONS, errors, optional=False)
    tool = _choice(raw, "tool", _TOOLS, errors, optional=False)
    side = _choice(raw, "side", _SIDES, errors, optional=True)
    pain_before = _integer(raw, "pain_before", vocab.PAIN_MIN, vocab.PAIN_MAX, errors)
    pain_after = _integer(raw, "pain_after", vocab.PAIN_MIN, vocab.PAIN_MAX, errors)

    note = raw.get("note")
    if note is not None:
        if not isinstance(note, str):
            errors["note"] = ["Not a valid string."]
        elif len(note) > vocab.NOTE_MAX_CHARS:
            errors["note"] = [f"Longer than maximum length {vocab.NOTE_MAX_CHARS}."]
        elif "\x00" in note:
            errors["note"] = ["Must not contain NUL characters."]

    client_updated_at = (
        _timestamp(raw, "client_updated_at", now, errors)
        if raw.get("client_updated_at") is not None
        else now
    )

    deleted = raw.get("deleted", False)
    if deleted is None:
        deleted = False
    if not isinstance(deleted, bool):
        errors["deleted"] = ["Not a valid boolean."]

    if errors:
        return None, errors
    assert session_id is not None and started_at is not None and client_updated_at is not None
    offset = started_at.utcoffset()
    assert offset is not None
    return SessionInput(
        id=session_id,
        started_at=started_at,
        utc_offset_s=int(offset.total_seconds()),
        local_date=started_at.date(),
        duration_s=duration_s,
        region=region or "",
        tool=tool or "",
        side=side,
        pain_before=pain_before,
        pain_after=pain_after,
        note=note,
        client_updated_at=client_updated_at,
        deleted=deleted,
    ), {}
