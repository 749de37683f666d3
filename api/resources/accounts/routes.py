"""Creating an account, and the signed-in person's own account (/v1/me)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, request
from sqlalchemy.orm import Session

from api.auth import account_id, login_policy, require_token, token_id
from api.db import get_db
from api.reports import report_store
from api.resources.accounts.schemas import (
    AccountCreateSchema,
    AccountSchema,
    AccountUpdateSchema,
    DeleteConfirmationSchema,
    ExportSchema,
)
from api.resources.common import BEARER, PUBLIC, Blueprint, errors_documented, json_response
from core.errors import Forbidden, InvalidInput, TooManyRequests
from core.models.account import Account
from core.models.audit import EXPORTED
from core.services import accounts, audit, exports
from core.services.reauth import reconfirm_password

blp = Blueprint("accounts", __name__, url_prefix="/v1", description="Accounts")

_CREATE_EXAMPLE = {
    "email": "rosa@example.com",
    "password": "correct horse battery staple",
    "timezone": "Europe/Berlin",
    "sessions_per_week": 4,
    "minutes_per_week": 60,
    "weekly_email": True,
}


@blp.route("/accounts", methods=["POST"])
@blp.doc(operationId="createAccount", security=PUBLIC)
@blp.arguments(AccountCreateSchema, example=_CREATE_EXAMPLE)
@blp.response(201, AccountSchema)
@blp.doc(
    responses={
        201: {
            "links": {
                "CreateToken": {
                    "operationId": "createToken",
                    "description": "Sign in a device with the new account.",
                    "requestBody": {
                        "email": "$request.body#/email",
                        "password": "$request.body#/password",
                        "device_name": "knotlog app",
                    },
                }
            }
        }
    }
)
@errors_documented(blp, 400, 409, 413, 422)
def create_account(body: dict[str, Any]) -> Response:
    """Create an account"""
    db = get_db()
    account = accounts.create_account(db, now=datetime.now(UTC), **body)
    profile = exports.profile(db, account)
    db.commit()
    return json_response(profile, 201)


@blp.route("/me", methods=["GET"])
@blp.doc(operationId="getMe", security=BEARER)
@blp.response(200, AccountSchema)
@errors_documented(blp, 401)
@require_token
def get_me() -> Response:
    """Read my account and plan history"""
    db = get_db()
    return json_response(exports.profile(db, accounts.get_account(db, account_id())))


@blp.route("/me", methods=["PATCH"])
@blp.doc(operationId="updateMe", security=BEARER)
@require_token  # before the arguments: no validation errors for strangers
@blp.arguments(
    AccountUpdateSchema, example={"sessions_per_week": 5, "plan_effective_week": "2026-W45"}
)
@blp.response(200, AccountSchema)
@errors_documented(blp, 400, 401, 403, 409, 422)
def update_me(changes: dict[str, Any]) -> Response:
    """Change my account or weekly plan"""
    db = get_db()
    account = accounts.get_account(db, account_id())
    now = datetime.now(UTC)
    if {"email", "password"} & changes.keys():
        if "current_password" not in changes:
            raise InvalidInput(
                {"current_password": ["Send the current password to change the email or password."]}
            )
        _reconfirm(db, account, changes["current_password"], now)
    accounts.update_account(
        db, account, changes, now=now, keep_token_id=token_id(), ip=request.remote_addr
    )
    profile = exports.profile(db, account)
    db.commit()
    return json_response(profile)


@blp.route("/me", methods=["DELETE"])
@blp.doc(operationId="deleteMe", security=BEARER)
@require_token  # before the arguments: no validation errors for strangers
@blp.arguments(DeleteConfirmationSchema, example={"password": "correct horse battery staple"})
@blp.response(204, description="The account and everything it owned are gone.")
@errors_documented(blp, 400, 401, 403, 422, 503)
def delete_me(confirmation: dict[str, Any]) -> Response:
    """Delete my account and all its data

    The password is asked again: a stolen token alone cannot erase a person's history.
    Every row and every report object goes; the account's tokens stop working at once.
    """
    db = get_db()
    account = accounts.get_account(db, account_id())
    _reconfirm(db, account, confirmation["password"], datetime.now(UTC))
    accounts.delete_account(db, account_id(), report_store())
    db.commit()
    return Response(status=204)


def _reconfirm(db: Session, account: Account, password: str, now: datetime) -> None:
    try:
        reconfirm_password(
            db, account, password, now=now, policy=login_policy(), ip=request.remote_addr
        )
    except (Forbidden, TooManyRequests):
        db.commit()  # a wrong password counts toward the lockout, though the call fails
        raise


@blp.route("/me/export", methods=["GET"])
@blp.doc(operationId="exportMe", security=BEARER)
@blp.response(200, ExportSchema)
@errors_documented(blp, 401)
@require_token
def export_me() -> Response:
    """Export all my data"""
    db = get_db()
    export = exports.export_account(db, account_id(), datetime.now(UTC))
    audit.record(db, EXPORTED, account_id=account_id(), ip=request.remote_addr, detail="json")
    db.commit()
    return json_response(export)


@blp.route("/me/export/sessions.csv", methods=["GET"])
@blp.doc(
    operationId="exportMySessionsCsv",
    security=BEARER,
    responses={
        "200": {
            "description": "Every stored session, tombstones included, as CSV (RFC 4180, "
            "header row first, UTF-8). Cells a spreadsheet would run as formulas start with '.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
@errors_documented(blp, 401)
@require_token
def export_sessions_csv() -> Response:
    """Export my sessions as CSV"""
    db = get_db()
    audit.record(db, EXPORTED, account_id=account_id(), ip=request.remote_addr, detail="csv")
    db.commit()
    body = "".join(exports.sessions_csv(db, account_id()))
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="knotlog-sessions.csv"'},
    )
