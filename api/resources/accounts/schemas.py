"""Wire shapes of accounts, the weekly plan and the data export."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from api.resources.common import BaseSchema, WeekField
from api.resources.sessions.schemas import SessionSchema
from core import vocab
from core.timezones import is_valid_timezone


def _password(*, required: bool, description: str = "") -> fields.String:
    return fields.String(
        required=required,
        load_only=True,
        validate=validate.Length(vocab.PASSWORD_MIN_CHARS, vocab.PASSWORD_MAX_CHARS),
        metadata={"description": description} if description else {},
    )


def _check_timezone(value: str) -> None:
    if not is_valid_timezone(value):
        raise ValidationError("Not an IANA time zone name, like Europe/Berlin.")


class AccountCreateSchema(BaseSchema):
    email = fields.Email(required=True, validate=validate.Length(max=vocab.EMAIL_MAX_CHARS))
    password = _password(required=True)
    timezone = fields.String(
        required=True, validate=_check_timezone, metadata={"example": "Europe/Berlin"}
    )
    sessions_per_week = fields.Integer(
        load_default=vocab.DEFAULT_SESSIONS_PER_WEEK,
        validate=validate.Range(0, vocab.SESSIONS_PER_WEEK_MAX),
    )
    minutes_per_week = fields.Integer(
        load_default=vocab.DEFAULT_MINUTES_PER_WEEK,
        validate=validate.Range(0, vocab.MINUTES_PER_WEEK_MAX),
        metadata={"description": "0 means no minutes goal."},
    )
    weekly_email = fields.Boolean(load_default=False, metadata={"description": "Opt-in."})


class AccountUpdateSchema(BaseSchema):
    email = fields.Email(validate=validate.Length(max=vocab.EMAIL_MAX_CHARS))
    password = _password(required=False, description="Changing it revokes every other token.")
    timezone = fields.String(validate=_check_timezone)
    sessions_per_week = fields.Integer(validate=validate.Range(0, vocab.SESSIONS_PER_WEEK_MAX))
    minutes_per_week = fields.Integer(validate=validate.Range(0, vocab.MINUTES_PER_WEEK_MAX))
    weekly_email = fields.Boolean()
    plan_effective_week = WeekField(
        metadata={
            "description": "ISO week the plan change takes effect from; default the current "
            "week in the account's zone; never a future week."
        }
    )


class PlanChangeSchema(BaseSchema):
    effective_week = WeekField(required=True)
    sessions_per_week = fields.Integer(required=True)
    minutes_per_week = fields.Integer(required=True)
    recorded_at = fields.DateTime(required=True)


class AccountSchema(BaseSchema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    timezone = fields.String(required=True)
    sessions_per_week = fields.Integer(required=True, metadata={"description": "In force now."})
    minutes_per_week = fields.Integer(required=True, metadata={"description": "In force now."})
    weekly_email = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    plan_history = fields.List(fields.Nested(PlanChangeSchema), required=True)


class ExportTokenSchema(BaseSchema):
    id = fields.UUID(required=True)
    device_name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True)


class ExportSchema(BaseSchema):
    account = fields.Nested(AccountSchema, required=True)
    tokens = fields.List(fields.Nested(ExportTokenSchema), required=True)
    sessions = fields.List(
        fields.Nested(SessionSchema),
        required=True,
        metadata={"description": "Every stored session, tombstones included."},
    )
    exported_at = fields.DateTime(required=True)
