"""Per-account sign-in throttling, after NIST SP 800-63B 5.2.2.

An account counts its consecutive failed sign-ins in its own row, so every web
process agrees. Once the count reaches the policy's maximum, sign-ins are refused
until a lock expires, even with the right password; each further failure after
that renews the lock, and only a success resets the count.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from core.errors import TooManyRequests
from core.models.account import Account
from core.models.audit import LOGIN_FAILED, LOGIN_LOCKED
from core.security import verify_password
from core.services import audit


class SignInLocked(TooManyRequests):
    code = "sign_in_locked"


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 100  # NIST SP 800-63B: no more than 100 consecutive failures
    lockout: timedelta = timedelta(minutes=15)


def password_matches(
    db: Session,
    account: Account,
    password: str,
    *,
    now: datetime,
    policy: LoginPolicy,
    ip: str | None = None,
    detail: str | None = None,
) -> bool:
    """Check an account's password under the lockout, for a sign-in or a re-confirmation.

    SignInLocked while locked; a wrong password counts and is audited, a right one resets
    the count. The caller commits even when it then refuses the call, so failures count.
    """
    try:
        _check_unlocked(account, now)
    except SignInLocked:
        audit.record(db, LOGIN_LOCKED, account_id=account.id, ip=ip, detail=detail)
        raise
    if not verify_password(account.password_hash, password):
        _record_failure(db, account.id, now, policy)
        audit.record(db, LOGIN_FAILED, account_id=account.id, ip=ip, detail=detail)
        return False
    _record_success(account)
    return True


def _check_unlocked(account: Account, now: datetime) -> None:
    """Refuse at once while locked: a locked account costs no password hash."""
    locked_until = account.login_locked_until
    if locked_until is not None and now < locked_until:
        wait = max(1, math.ceil((locked_until - now).total_seconds()))
        raise SignInLocked(
            "Too many failed sign-ins for this account; try again later.", retry_after=wait
        )


def _record_failure(db: Session, account_id: uuid.UUID, now: datetime, policy: LoginPolicy) -> None:
    # One UPDATE (both SET expressions read the old row): concurrent failures all count.
    reached = Account.failed_logins + 1 >= policy.max_failures
    db.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            failed_logins=Account.failed_logins + 1,
            login_locked_until=case(
                (reached, now + policy.lockout), else_=Account.login_locked_until
            ),
        )
        .execution_options(synchronize_session=False)
    )


def _record_success(account: Account) -> None:
    if account.failed_logins or account.login_locked_until is not None:
        account.failed_logins = 0
        account.login_locked_until = None


DEFAULT_LOGIN_POLICY = LoginPolicy()
