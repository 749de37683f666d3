"""A person's data as JSON: the profile shown by /v1/me and the full export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.models.account import Account
from core.services.accounts import current_plan, get_account, plan_history
from core.services.session_reads import session_json
from core.services.tokens import list_tokens
from core.weeks import format_week


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def profile(db: Session, account: Account) -> dict[str, Any]:
    history = plan_history(db, account.id)
    plan = current_plan(history)
    db.refresh(account)  # server-side timestamps
    return {
        "id": str(account.id),
        "email": account.email,
        "timezone": account.timezone,
        "sessions_per_week": plan.sessions_per_week,
        "minutes_per_week": plan.minutes_per_week,
        "weekly_email": account.weekly_email,
        "created_at": _iso(account.created_at),
        "updated_at": _iso(account.updated_at),
        "plan_history": [
            {
                "effective_week": format_week(change.effective_week),
                "sessions_per_week": change.sessions_per_week,
                "minutes_per_week": change.minutes_per_week,
                "recorded_at": _iso(change.recorded_at),
            }
            for change in history
        ],
    }


def export_account(db: Session, account_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    account = get_account(db, account_id)
    sessions = db.execute(
        text(
            """SELECT id, started_at, utc_offset_s, local_date, duration_s, region, tool, side,
                      pain_before, pain_after, note, client_updated_at, deleted, seq,
                      created_at, updated_at
               FROM sessions WHERE account_id = :a ORDER BY seq"""
        ),
        {"a": account_id},
    )
    return {
        "account": profile(db, account),
        "tokens": [
            {
                "id": str(t.id),
                "device_name": t.device_name,
                "created_at": _iso(t.created_at),
                "last_used_at": _iso(t.last_used_at),
            }
            for t in list_tokens(db, account_id)
        ],
        "sessions": [session_json(row) for row in sessions],
        "exported_at": now.isoformat(),
    }
