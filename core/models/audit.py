"""The append-only audit log: who signed in, which tokens came and went, exports, deletions.

A security record: an account id, the action, a token id and the client's IP address,
never an email, a password, a token or a health value. Rows are never updated (a
trigger refuses it). It has no foreign key: deleting an account erases its events and
leaves one `account_deleted` event with the bare id (nothing leads from it to a person),
so the deletion itself stays on record. The clock purges events older than
KNOTLOG_AUDIT_RETENTION_DAYS.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base

# What can happen; the strings are stored, so they never change meaning.
TOKEN_ISSUED = "token_issued"  # a successful sign-in
LOGIN_FAILED = "login_failed"
LOGIN_LOCKED = "login_locked"
TOKEN_REVOKED = "token_revoked"
PASSWORD_CHANGED = "password_changed"  # the account's other tokens are revoked with it
EMAIL_CHANGED = "email_changed"
EXPORTED = "exported"
ACCOUNT_DELETED = "account_deleted"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # None: an unknown email
    action: Mapped[str] = mapped_column(String(32))
    token_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str | None] = mapped_column(String(100))  # e.g. the export's format

    __table_args__ = (Index(None, "account_id", "occurred_at"),)
