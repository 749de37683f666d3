"""The audit log is append-only and purged only past its retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.models.audit import EXPORTED, TOKEN_ISSUED
from core.services import audit


def test_events_can_be_added_but_never_rewritten(db: Session) -> None:
    account_id = uuid.uuid4()
    audit.record(db, TOKEN_ISSUED, account_id=account_id, ip="203.0.113.9")
    db.flush()
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(
            text("UPDATE audit_events SET action = 'nothing' WHERE account_id = :a"),
            {"a": account_id},
        )
    rows = db.execute(
        text("SELECT action, ip FROM audit_events WHERE account_id = :a"), {"a": account_id}
    ).all()
    assert rows == [(TOKEN_ISSUED, "203.0.113.9")]


def test_the_purge_drops_only_events_past_the_retention(db: Session) -> None:
    account_id = uuid.uuid4()
    audit.record(db, EXPORTED, account_id=account_id, detail="json")
    db.flush()
    assert audit.purge_before(db, datetime.now(UTC) - timedelta(days=1)) == 0
    assert audit.purge_before(db, datetime.now(UTC) + timedelta(seconds=1)) >= 1
    left = db.execute(
        text("SELECT count(*) FROM audit_events WHERE account_id = :a"), {"a": account_id}
    ).scalar_one()
    assert left == 0
