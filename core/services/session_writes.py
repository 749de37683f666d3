"""The one write path for sessions (push, PUT, DELETE): last writer wins, per-account order.

Every write of an account first locks its `accounts` row and takes numbers from
its `change_seq` counter. Writers of one account therefore commit in counter
order, so a puller that has seen counter N can never later find a committed
change numbered below N: the race that skips rows with a global sequence or a
timestamp (STACK-NOTES, "Pull cursors") cannot happen.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.services.week_tasks import mark_dates_changed
from core.session_rules import SessionInput

CREATED, UPDATED, UNCHANGED, STALE, INVALID = "created", "updated", "unchanged", "stale", "invalid"

_LOCK_ACCOUNT = text("SELECT change_seq FROM accounts WHERE id = :account_id FOR UPDATE")
_EXISTING = text(
    """
    SELECT id, started_at, utc_offset_s, duration_s, region, tool, side, pain_before,
           pain_after, note, deleted, client_updated_at, local_date
    FROM sessions WHERE account_id = :account_id AND id = ANY(:ids)
    """
)
# One statement for the whole batch: arrays in, no per-row round trips.
_UPSERT = text(
    """
    INSERT INTO sessions (account_id, id, started_at, utc_offset_s, local_date, duration_s,
                          region, tool, side, pain_before, pain_after, note,
                          client_updated_at, deleted, seq, created_at, updated_at)
    SELECT :account_id, u.*, now(), now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:started_at AS timestamptz[]),
                CAST(:utc_offset_s AS int[]), CAST(:local_date AS date[]),
                CAST(:duration_s AS int[]), CAST(:region AS text[]), CAST(:tool AS text[]),
                CAST(:side AS text[]), CAST(:pain_before AS smallint[]),
                CAST(:pain_after AS smallint[]), CAST(:note AS text[]),
                CAST(:client_updated_at AS timestamptz[]), CAST(:deleted AS boolean[]),
                CAST(:seq AS bigint[])) AS u
    ON CONFLICT (account_id, id) DO UPDATE SET
        started_at = EXCLUDED.started_at, utc_offset_s = EXCLUDED.utc_offset_s,
        local_date = EXCLUDED.local_date, duration_s = EXCLUDED.duration_s,
        region = EXCLUDED.region, tool = EXCLUDED.tool, side = EXCLUDED.side,
        pain_before = EXCLUDED.pain_before, pain_after = EXCLUDED.pain_after,
        note = EXCLUDED.note, client_updated_at = EXCLUDED.client_updated_at,
        deleted = EXCLUDED.deleted, seq = EXCLUDED.seq, updated_at = now()
    """
)
_ADVANCE = text("UPDATE accounts SET change_seq = :seq WHERE id = :account_id")


@dataclass
class WriteOutcome:
    statuses: list[str]
    # local dates whose weekly figures may have changed (old and new date of each write)
    touched_dates: set[date] = field(default_factory=set)


def _content(row: Any) -> tuple[Any, ...]:
    return (
        row.started_at,
        row.utc_offset_s,
        row.duration_s,
        row.region,
        row.tool,
        row.side,
        row.pain_before,
        row.pain_after,
        row.note,
        row.deleted,
    )


def apply_changes(db: Session, account_id: uuid.UUID, items: list[SessionInput]) -> WriteOutcome:
    """Store valid items under last-writer-wins and return one status per item, in order."""
    outcome = WriteOutcome(statuses=[])
    if not items:
        return outcome
    base_seq = db.execute(_LOCK_ACCOUNT, {"account_id": account_id}).scalar_one()
    ids = list({item.id for item in items})
    stored: dict[uuid.UUID, Any] = {
        row.id: row for row in db.execute(_EXISTING, {"account_id": account_id, "ids": ids})
    }
    # (content, client_updated_at) of the newest version, including earlier items of this batch
    current = {sid: (_content(row), row.client_updated_at) for sid, row in stored.items()}
    winners: dict[uuid.UUID, SessionInput] = {}
    for item in items:
        known = current.get(item.id)
        if known is None:
            status = CREATED
        elif known[0] == item.content():
            status = UNCHANGED
        elif item.client_updated_at > known[1]:
            status = UPDATED
        else:
            status = STALE  # ties keep the stored version
        outcome.statuses.append(status)
        if status in (CREATED, UPDATED):
            current[item.id] = (item.content(), item.client_updated_at)
            winners.pop(item.id, None)  # re-insert so the counter follows the batch's order
            winners[item.id] = item

    if winners:
        rows = list(winners.values())
        for item in rows:
            outcome.touched_dates.add(item.local_date)
            if item.id in stored:
                outcome.touched_dates.add(stored[item.id].local_date)
        seqs = list(range(base_seq + 1, base_seq + 1 + len(rows)))
        db.execute(_UPSERT, _columns(account_id, rows, seqs))
        db.execute(_ADVANCE, {"seq": seqs[-1], "account_id": account_id})
        # Late data for a finished week: its summary and reports must be recomputed.
        mark_dates_changed(db, account_id, outcome.touched_dates, datetime.now(UTC))
    return outcome


def _columns(account_id: uuid.UUID, rows: list[SessionInput], seqs: list[int]) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "ids": [r.id for r in rows],
        "started_at": [r.started_at for r in rows],
        "utc_offset_s": [r.utc_offset_s for r in rows],
        "local_date": [r.local_date for r in rows],
        "duration_s": [r.duration_s for r in rows],
        "region": [r.region for r in rows],
        "tool": [r.tool for r in rows],
        "side": [r.side for r in rows],
        "pain_before": [r.pain_before for r in rows],
        "pain_after": [r.pain_after for r in rows],
        "note": [r.note for r in rows],
        "client_updated_at": [r.client_updated_at for r in rows],
        "deleted": [r.deleted for r in rows],
        "seq": seqs,
    }


_STORED_ONE = text(
    """
    SELECT id, started_at, utc_offset_s, local_date, duration_s, region, tool, side,
           pain_before, pain_after, note, client_updated_at, deleted
    FROM sessions WHERE account_id = :account_id AND id = :id
    """
)


def delete_session(
    db: Session, account_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> WriteOutcome:
    """Turn a live session into a tombstone that sync passes on; 404 when there is none."""
    row = db.execute(_STORED_ONE, {"account_id": account_id, "id": session_id}).one_or_none()
    if row is None or row.deleted:
        raise NotFound("No session with this id.")
    # The server's delete must beat the version it deletes, even one stamped slightly ahead.
    stamp = max(now, row.client_updated_at + timedelta(milliseconds=1))
    tombstone = SessionInput(**{**row._asdict(), "deleted": True, "client_updated_at": stamp})
    return apply_changes(db, account_id, [tombstone])
