"""Wire shapes of accounts, the weekly plan and the data export."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from api.resources.common import BaseSchema, StrictBoolean, StrictInteger, WeekField
from api.resources.sessions.schemas import SessionSchema
from core import vocab
from core.passwords import COMMON_PASSWORD_MESSAGE, is_common_password
from core.timezones import is_valid_timezone

_PASSWORD_RULES = (
    f"At least {vocab.PASSWORD_MIN_CHARS} characters, any characters; "
    "a commonly used password is refused."
)


def _check_not_common(value: str) -> None:
    if is_common_password(value):
        raise ValidationError(COMMON_PASSWORD_MESSAGE)


def _password(*, required: bool, description: str = "") -> fields.String:
    return fields.String(
        required=required,
        load_only=True,
        validate=[
            validate.Length(vocab.PASSWORD_MIN_CHARS, vocab.PASSWORD_MAX_CHARS),
            _check_not_common,
        ],
        metadata={"description": f"{_PASSWORD_RULES} {description}".strip()},
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
    sessions_per_week = StrictInteger(
        load_default=vocab.DEFAULT_SESSIONS_PER_WEEK,
        validate=validate.Range(0, vocab.SESSIONS_PER_WEEK_MAX),
    )
    minutes_per_week = StrictInteger(
        load_default=vocab.DEFAULT_MINUTES_PER_WEEK,
        validate=validate.Range(0, vocab.MINUTES_PER_WEEK_MAX),
        metadata={"description": "0 means no minutes goal."},
    )
    weekly_email = StrictBoolean(load_default=False, metadata={"description": "Opt-in."})


class AccountUpdateSchema(BaseSchema):
    current_password = fields.String(
        load_only=True,
        metadata={
            "description": "The account's password, required to change `email` or "
            "`password` (a token alone must not be enough to take an account over)."
        },
    )
    email = fields.Email(validate=validate.Length(max=vocab.EMAIL_MAX_CHARS))
    password = _password(required=False, description="Changing it revokes every other token.")
    timezone = fields.String(validate=_check_timezone)
    sessions_per_week = StrictInteger(validate=validate.Range(0, vocab.SESSIONS_PER_WEEK_MAX))
    minutes_per_week = StrictInteger(validate=validate.Range(0, vocab.MINUTES_PER_WEEK_MAX))
    weekly_email = StrictBoolean()
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
    records = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Dict()),
        required=True,
        metadata={
            "description": "Every other table holding rows of the account (weekly summaries, "
            "emails, audit events...), row by row, found by walking the schema."
        },
    )
    exported_at = fields.DateTime(required=True)


class DeleteConfirmationSchema(BaseSchema):
    password = fields.String(
        required=True,
        load_only=True,
        metadata={"description": "The account's password, confirming the deletion."},
    )
