"""A logged self-massage session, as the phone sends it plus the server's derived fields."""

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
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core import vocab
from core.models import Base


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class LoggedSession(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(
            f"duration_s BETWEEN {vocab.DURATION_MIN_S} AND {vocab.DURATION_MAX_S}",
            name="duration_range",
        ),
        CheckConstraint("pain_before BETWEEN 0 AND 10", name="pain_before_range"),
        CheckConstraint("pain_after BETWEEN 0 AND 10", name="pain_after_range"),
        CheckConstraint(_in("region", vocab.REGIONS), name="region_known"),
        CheckConstraint(_in("tool", vocab.TOOLS), name="tool_known"),
        CheckConstraint(f"side IS NULL OR {_in('side', vocab.SIDES)}", name="side_known"),
        CheckConstraint(f"char_length(note) <= {vocab.NOTE_MAX_CHARS}", name="note_length"),
        # Pull reads one account's changes in counter order.
        Index("uq_sessions_account_id_seq", "account_id", "seq", unique=True),
        # Weekly figures read one account's (or every account's) week by local date.
        Index("ix_sessions_account_id_local_date", "account_id", "local_date"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    utc_offset_s: Mapped[int] = mapped_column(Integer)  # the phone's offset at started_at
    local_date: Mapped[date] = mapped_column(Date)
    duration_s: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(20))
    tool: Mapped[str] = mapped_column(String(20))
    side: Mapped[str | None] = mapped_column(String(10))
    pain_before: Mapped[int] = mapped_column(SmallInteger)
    pain_after: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str | None] = mapped_column(Text)
    client_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
