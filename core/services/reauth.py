"""The password asked again before what a stolen token must not be able to do alone:
changing the email or the password, deleting the account.

A wrong password here counts as a failed sign-in (the same per-account lockout), so a
token holder cannot guess the password through these calls either.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.errors import Forbidden
from core.models.account import Account
from core.services.login_throttle import DEFAULT_LOGIN_POLICY, LoginPolicy, password_matches


def reconfirm_password(
    db: Session,
    account: Account,
    password: str,
    *,
    now: datetime,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    ip: str | None = None,
) -> None:
    """Forbidden for a wrong password, SignInLocked (429) while locked; the caller commits
    in both cases, so the failure counts."""
    ok = password_matches(db, account, password, now=now, policy=policy, ip=ip, detail="reconfirm")
    if not ok:
        raise Forbidden("The current password does not match; nothing was changed.")
