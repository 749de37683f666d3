"""Wire shapes of device tokens."""

from __future__ import annotations

from marshmallow import fields, validate

from api.resources.common import NO_NUL, BaseSchema
from core import vocab


class TokenRequestSchema(BaseSchema):
    email = fields.String(
        required=True, validate=[validate.Length(1, vocab.EMAIL_MAX_CHARS), NO_NUL]
    )
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(1, vocab.PASSWORD_MAX_CHARS)
    )
    device_name = fields.String(
        required=True,
        validate=[validate.Length(1, vocab.DEVICE_NAME_MAX_CHARS), NO_NUL],
        metadata={"example": "Rosa's Pixel 8"},
    )


class TokenSchema(BaseSchema):
    id = fields.UUID(required=True, metadata={"example": "0b7c52f4-3f0e-4a59-9d55-0d2f1f6c8a11"})
    device_name = fields.String(required=True, metadata={"example": "Pixel 9"})
    created_at = fields.DateTime(required=True, metadata={"example": "2026-11-20T07:45:00+00:00"})
    last_used_at = fields.DateTime(
        required=True, allow_none=True, metadata={"example": "2026-11-24T19:02:11+00:00"}
    )


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
