"""Wire shapes of a session. Input is validated by core.session_rules; these document it."""

from __future__ import annotations

from marshmallow import fields, validate

from api.resources.common import NO_NUL, BaseSchema
from core import vocab

SESSION_EXAMPLE = {
    "id": "0b8a3c1e-6f1d-4c5e-9a57-2d7f0e4b9c11",
    "started_at": "2026-11-20T07:30:00+01:00",
    "duration_s": 600,
    "region": "lower_back",
    "tool": "massage_ball",
    "side": "both",
    "pain_before": 6,
    "pain_after": 3,
    "note": "Slow pressure-and-release on the left QL.",
    "client_updated_at": "2026-11-20T07:41:12Z",
    "deleted": False,
}


class SessionInputSchema(BaseSchema):
    """A session as the phone sends it. Unknown fields are ignored."""

    id = fields.UUID(
        required=True, metadata={"description": "Made by the phone; scoped to the account."}
    )
    started_at = fields.DateTime(
        required=True,
        metadata={
            "description": "RFC 3339 with the phone's UTC offset at the time; no offset or more "
            "than 24 h in the future is rejected."
        },
    )
    duration_s = fields.Integer(
        required=True, validate=validate.Range(vocab.DURATION_MIN_S, vocab.DURATION_MAX_S)
    )
    region = fields.String(required=True, validate=validate.OneOf(vocab.REGIONS))
    tool = fields.String(required=True, validate=validate.OneOf(vocab.TOOLS))
    side = fields.String(allow_none=True, validate=validate.OneOf(vocab.SIDES))
    pain_before = fields.Integer(
        required=True, validate=validate.Range(vocab.PAIN_MIN, vocab.PAIN_MAX)
    )
    pain_after = fields.Integer(
        required=True, validate=validate.Range(vocab.PAIN_MIN, vocab.PAIN_MAX)
    )
    note = fields.String(
        allow_none=True, validate=[validate.Length(max=vocab.NOTE_MAX_CHARS), NO_NUL]
    )
    client_updated_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "The phone's time of its last edit (RFC 3339 with offset); absent or "
            "null: the time received. A later one wins; ties keep the stored version."
        },
    )
    deleted = fields.Boolean(
        load_default=False,
        allow_none=True,
        metadata={"description": "true makes a tombstone that sync passes on; null is false."},
    )


class SessionReplaceSchema(SessionInputSchema):
    """The body of PUT /v1/sessions/{session_id}: the path names the session."""

    id = fields.UUID(
        allow_none=True,
        metadata={"description": "May be left out; when sent, must equal the path's session_id."},
    )


class SessionSchema(SessionInputSchema):
    """A stored session, with the fields the server derives."""

    side = fields.String(required=True, allow_none=True, validate=validate.OneOf(vocab.SIDES))
    note = fields.String(
        required=True, allow_none=True, validate=validate.Length(max=vocab.NOTE_MAX_CHARS)
    )
    client_updated_at = fields.DateTime(required=True)
    deleted = fields.Boolean(required=True)
    local_date = fields.Date(
        required=True,
        dump_only=True,
        metadata={"description": "Date of started_at in its own offset."},
    )
    week = fields.String(
        required=True,
        dump_only=True,
        metadata={"description": "ISO week of local_date.", "example": "2026-W47"},
    )
    created_at = fields.DateTime(required=True, dump_only=True)
    updated_at = fields.DateTime(required=True, dump_only=True)


class SessionListQuerySchema(BaseSchema):
    from_ = fields.Date(data_key="from", metadata={"description": "First local_date included."})
    to = fields.Date(metadata={"description": "Last local_date included."})
    region = fields.String(validate=validate.OneOf(vocab.REGIONS))
    tool = fields.String(validate=validate.OneOf(vocab.TOOLS))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    cursor = fields.String(metadata={"description": "next_cursor of the previous page."})


class SessionPageSchema(BaseSchema):
    items = fields.List(fields.Nested(SessionSchema), required=True)
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "null on the last page."}
    )
