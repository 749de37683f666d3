"""Accounts, the history of their weekly plan, and their device tokens."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64))
    weekly_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Per-account change counter: taken under this row's lock, so changes of one
    # account commit in counter order and a pull cursor can never skip one.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Tombstones up to this counter value were purged; older cursors get 410.
    purged_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Consecutive failed sign-ins, and until when sign-ins are refused after too many
    # (core/services/login_throttle.py); a success resets both.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    login_locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PlanChange(Base):
    """One recorded weekly plan; the first row is the plan the account was created with."""

    __tablename__ = "plan_changes"
    __table_args__ = (
        CheckConstraint("sessions_per_week BETWEEN 0 AND 21", name="sessions_per_week_range"),
        CheckConstraint("minutes_per_week BETWEEN 0 AND 1200", name="minutes_per_week_range"),
        CheckConstraint("extract(isodow FROM effective_week) = 1", name="effective_week_monday"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    # Recording order decides between changes (PRODUCT.md: "most recently recorded").
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    effective_week: Mapped[date] = mapped_column(Date)  # the Monday of the ISO week
    sessions_per_week: Mapped[int] = mapped_column(Integer)
    minutes_per_week: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Token(Base):
    """A device's bearer token; only a SHA-256 of its secret is kept."""

    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("account_id", "secret_hash"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    device_name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
