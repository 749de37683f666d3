"""A person's data: the profile shown by /v1/me, the full export (JSON) and a CSV of sessions.

The export walks the schema: every table with an `account_id` column is exported,
those the API already shows in their own shape (the account with its plan history,
tokens, sessions) in that shape, every other one row by row under `records`. A new
table is therefore exported without anyone remembering to add it. Secrets (password
and token hashes) are never exported.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import LargeBinary, Table, select, text
from sqlalchemy.orm import Session

from core.models import load_all
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


# Shown in their API shape by export_account; every other owned table goes under `records`.
CURATED_TABLES = frozenset({"accounts", "plan_changes", "tokens", "sessions"})
SECRET_COLUMNS = frozenset({"password_hash", "secret_hash"})


def owned_tables() -> list[Table]:
    """Every table holding rows of an account (the walk the export and its test share)."""
    return [t for t in load_all().sorted_tables if "account_id" in t.c]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _records(db: Session, account_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    for table in owned_tables():
        if table.name in CURATED_TABLES:
            continue
        columns = [
            c
            for c in table.c
            if c.name not in SECRET_COLUMNS and not isinstance(c.type, LargeBinary)
        ]
        order = list(table.primary_key.columns)
        rows = db.execute(
            select(*columns).where(table.c.account_id == account_id).order_by(*order)
        ).mappings()
        # str(): names are quoted_name, a str subclass orjson refuses as a key
        records[str(table.name)] = [{str(k): _plain(v) for k, v in row.items()} for row in rows]
    return records


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
        "records": _records(db, account_id),
        "exported_at": now.isoformat(),
    }


CSV_COLUMNS = (
    "id", "started_at", "local_date", "week", "duration_s", "region", "tool", "side",
    "pain_before", "pain_after", "note", "client_updated_at", "deleted", "created_at",
    "updated_at",
)  # fmt: skip
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text_value = value.isoformat() if isinstance(value, datetime | date) else str(value)
    if isinstance(value, str) and text_value.startswith(_FORMULA_START):
        return "'" + text_value
    return text_value


def sessions_csv(db: Session, account_id: uuid.UUID) -> Iterator[str]:
    """The account's sessions, tombstones included, as CSV lines (RFC 4180, header first)."""
    rows = db.execute(
        text(
            """SELECT id, started_at, utc_offset_s, local_date, duration_s, region, tool, side,
                      pain_before, pain_after, note, client_updated_at, deleted, seq,
                      created_at, updated_at
               FROM sessions WHERE account_id = :a ORDER BY local_date, started_at"""
        ),
        {"a": account_id},
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    for row in rows:
        session = session_json(row)
        yield line([_cell(session[name]) for name in CSV_COLUMNS])
