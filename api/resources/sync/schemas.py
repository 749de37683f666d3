"""Wire shapes of push and pull."""

from __future__ import annotations

from marshmallow import fields, validate

from api.resources.common import BaseSchema
from api.resources.sessions.schemas import SESSION_EXAMPLE, SessionInputSchema, SessionSchema
from core import vocab


class PushRequestSchema(BaseSchema):
    sessions = fields.List(
        fields.Nested(SessionInputSchema),
        required=True,
        validate=validate.Length(max=500),
        metadata={"description": "Up to 500 sessions; invalid ones do not stop the others."},
    )


class PushResultSchema(BaseSchema):
    index = fields.Integer(
        required=True, metadata={"description": "Position in the pushed list.", "example": 0}
    )
    id = fields.UUID(
        required=True,
        allow_none=True,
        metadata={
            "description": "null when unreadable.",
            "example": "9f1d2c3b-4a5e-4f60-8b7a-6c5d4e3f2a1b",
        },
    )
    status = fields.String(
        required=True, validate=validate.OneOf(vocab.PUSH_STATUSES), metadata={"example": "created"}
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        allow_none=True,
        metadata={"description": "Messages per field when status is invalid, else null."},
    )


class PushReplySchema(BaseSchema):
    results = fields.List(fields.Nested(PushResultSchema), required=True)


class PullQuerySchema(BaseSchema):
    cursor = fields.String(
        metadata={"description": "The cursor of the previous pull; omit for a full sync."}
    )
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 1000))


class PullReplySchema(BaseSchema):
    changes = fields.List(fields.Nested(SessionSchema), required=True)
    cursor = fields.String(required=True, metadata={"description": "Pass it to the next pull."})
    has_more = fields.Boolean(required=True)


PUSH_EXAMPLE = {"sessions": [SESSION_EXAMPLE]}
