"""Writing and reading the audit log (core/models/audit.py): no health values, ever."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.models.audit import AuditEvent


def record(
    db: Session,
    action: str,
    *,
    account_id: uuid.UUID | None = None,
    token_id: uuid.UUID | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """Add an event to the caller's transaction (it commits or rolls back with the action)."""
    db.add(
        AuditEvent(
            action=action,
            account_id=account_id,
            token_id=token_id,
            ip=(ip or None) and ip[:45],
            detail=detail,
        )
    )


def purge_before(db: Session, cutoff: datetime) -> int:
    """Drop events older than the retention; the only deletion the log ever sees."""
    result = db.execute(delete(AuditEvent).where(AuditEvent.occurred_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
