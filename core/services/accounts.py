"""Accounts and their weekly plan history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import vocab
from core.errors import InvalidInput, NotFound, Unavailable
from core.models.account import Account, PlanChange, Token
from core.models.audit import ACCOUNT_DELETED, EMAIL_CHANGED, PASSWORD_CHANGED, AuditEvent
from core.reports.store import ReportStore, account_prefix
from core.security import hash_password
from core.services import audit
from core.services.week_tasks import mark_plan_changed
from core.weeks import current_week_start


@dataclass(frozen=True)
class Plan:
    sessions_per_week: int
    minutes_per_week: int


def create_account(
    db: Session,
    *,
    email: str,
    password: str,
    timezone: str,
    now: datetime,
    sessions_per_week: int = vocab.DEFAULT_SESSIONS_PER_WEEK,
    minutes_per_week: int = vocab.DEFAULT_MINUTES_PER_WEEK,
    weekly_email: bool = False,
) -> Account:
    """Create an account; a taken email surfaces as the database's unique violation (409)."""
    account = Account(
        id=uuid.uuid4(),
        email=normalize_email(email),
        password_hash=hash_password(password),
        timezone=timezone,
        weekly_email=weekly_email,
    )
    db.add(account)
    db.flush()
    db.add(
        PlanChange(
            account_id=account.id,
            effective_week=current_week_start(timezone, now),
            sessions_per_week=sessions_per_week,
            minutes_per_week=minutes_per_week,
        )
    )
    db.flush()
    return account


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_account(db: Session, account_id: uuid.UUID) -> Account:
    account = db.get(Account, account_id)
    if account is None:
        raise NotFound("The account no longer exists.")
    return account


def plan_history(db: Session, account_id: uuid.UUID) -> list[PlanChange]:
    return list(
        db.scalars(
            select(PlanChange).where(PlanChange.account_id == account_id).order_by(PlanChange.id)
        )
    )


def current_plan(history: list[PlanChange]) -> Plan:
    """Effective weeks are never in the future, so the latest recorded change is in force now."""
    latest = history[-1]
    return Plan(latest.sessions_per_week, latest.minutes_per_week)


def plan_for_week(history: list[PlanChange], week: date) -> Plan:
    """PRODUCT.md: the most recently recorded change effective at or before the week, else
    the plan the account was created with (the first recorded row)."""
    in_force = [change for change in history if change.effective_week <= week]
    chosen = max(in_force, key=lambda c: c.id) if in_force else history[0]
    return Plan(chosen.sessions_per_week, chosen.minutes_per_week)


def update_account(
    db: Session,
    account: Account,
    changes: dict[str, Any],
    *,
    now: datetime,
    keep_token_id: uuid.UUID | None = None,
    ip: str | None = None,
) -> list[date]:
    """Apply a PATCH. Returns the effective week of a recorded plan change (empty if none),
    so the caller can mark finished weeks from then on stale."""
    if "email" in changes and normalize_email(changes["email"]) != account.email:
        account.email = normalize_email(changes["email"])
        audit.record(db, EMAIL_CHANGED, account_id=account.id, token_id=keep_token_id, ip=ip)
    if "timezone" in changes:
        account.timezone = changes["timezone"]
    if "weekly_email" in changes:
        account.weekly_email = changes["weekly_email"]
    if "password" in changes:
        account.password_hash = hash_password(changes["password"])
        # A new password ends every other device's session (a stolen token stops working).
        db.execute(delete(Token).where(Token.account_id == account.id, Token.id != keep_token_id))
        audit.record(db, PASSWORD_CHANGED, account_id=account.id, token_id=keep_token_id, ip=ip)

    plan_fields = {"sessions_per_week", "minutes_per_week", "plan_effective_week"}
    recorded: list[date] = []
    if plan_fields & changes.keys():
        this_week = current_week_start(account.timezone, now)
        effective: date = changes.get("plan_effective_week") or this_week
        if effective > this_week:
            raise InvalidInput(
                {"plan_effective_week": ["Must not be a future week in the account's time zone."]}
            )
        plan = current_plan(plan_history(db, account.id))
        db.add(
            PlanChange(
                account_id=account.id,
                effective_week=effective,
                sessions_per_week=changes.get("sessions_per_week", plan.sessions_per_week),
                minutes_per_week=changes.get("minutes_per_week", plan.minutes_per_week),
            )
        )
        recorded.append(effective)
        mark_plan_changed(db, account.id, effective)
    account.updated_at = now
    db.flush()
    return recorded


def delete_account(db: Session, account_id: uuid.UUID, store: ReportStore) -> None:
    """Remove every row (owned tables cascade from accounts, the audit log is erased too)
    and every report object.

    Rows go first: the cascade waits for a weekly runner holding this account's
    tasks, so no report can be written after the objects are deleted. The caller
    commits only after the objects are gone; a store failure rolls the rows back,
    and a retry finishes the job.
    """
    db.execute(delete(Account).where(Account.id == account_id))
    # Erasure reaches the audit log too (it has no cascade: it outlives accounts). What
    # stays is one event naming a random id that no longer leads to anyone: no address.
    db.execute(delete(AuditEvent).where(AuditEvent.account_id == account_id))
    audit.record(db, ACCOUNT_DELETED, account_id=account_id)
    db.flush()
    try:
        store.delete_prefix(account_prefix(account_id))
    except (BotoCoreError, ClientError, OSError) as exc:
        # Transient: the caller rolls the rows back too, and the person can simply retry.
        raise Unavailable(
            "The report store did not answer; nothing was deleted. Try again shortly.",
            retry_after=30,
        ) from exc


def stop_weekly_email(db: Session, account_id: uuid.UUID) -> None:
    """Unsubscribe; an account deleted meanwhile is simply gone, which is no error."""
    account = db.get(Account, account_id)
    if account is not None:
        account.weekly_email = False
        db.flush()
