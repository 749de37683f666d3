"""Wire shapes of device tokens."""

from __future__ import annotations

from marshmallow import fields, validate

from api.resources.common import BaseSchema
from core import vocab


class TokenRequestSchema(BaseSchema):
    email = fields.String(required=True, validate=validate.Length(1, vocab.EMAIL_MAX_CHARS))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(1, vocab.PASSWORD_MAX_CHARS)
    )
    device_name = fields.String(
        required=True,
        validate=validate.Length(1, vocab.DEVICE_NAME_MAX_CHARS),
        metadata={"example": "Rosa's Pixel 8"},
    )


class TokenSchema(BaseSchema):
    id = fields.UUID(required=True)
    device_name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(
        required=True,
        metadata={
            "description": "The bearer secret. Shown once: the server keeps only its hash.",
            "example": "knotlog_3q2-7wX...",
        },
    )


class TokenPageSchema(BaseSchema):
    items = fields.List(fields.Nested(TokenSchema), required=True)
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "Always null: one page."}
    )
