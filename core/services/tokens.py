"""Device tokens: issued for email + password, checked on every authenticated call."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.errors import NotFound, Unauthorized
from core.models.account import Account, Token
from core.models.audit import LOGIN_FAILED, TOKEN_ISSUED, TOKEN_REVOKED
from core.security import (
    DUMMY_PASSWORD_HASH,
    new_token,
    parse_token,
    verify_password,
)
from core.services import audit
from core.services.accounts import normalize_email
from core.services.login_throttle import DEFAULT_LOGIN_POLICY, LoginPolicy, password_matches

# Writing last_used_at on every call would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def issue_token(
    db: Session,
    *,
    email: str,
    password: str,
    device_name: str,
    now: datetime,
    policy: LoginPolicy = DEFAULT_LOGIN_POLICY,
    ip: str | None = None,
) -> tuple[Token, str]:
    """Raises Unauthorized for a wrong email or password and TooManyRequests while the
    account is locked; the caller commits either way, so the failure and its audit count."""
    account = db.scalar(select(Account).where(Account.email == normalize_email(email)))
    if account is None:
        # Verify against a dummy hash, so timing does not reveal which emails have accounts.
        verify_password(DUMMY_PASSWORD_HASH, password)
        audit.record(db, LOGIN_FAILED, ip=ip)
        raise Unauthorized("The email or the password is wrong.")
    if not password_matches(db, account, password, now=now, policy=policy, ip=ip):
        raise Unauthorized("The email or the password is wrong.")
    issued = new_token(account.id)
    token = Token(
        account_id=account.id,
        id=uuid.uuid4(),
        device_name=device_name,
        secret_hash=issued.secret_hash,
        created_at=now,
    )
    db.add(token)
    audit.record(db, TOKEN_ISSUED, account_id=account.id, token_id=token.id, ip=ip)
    db.flush()
    return token, issued.token


def authenticate(db: Session, bearer: str, now: datetime) -> Token:
    parsed = parse_token(bearer)
    if parsed is None:
        raise Unauthorized("The bearer token is malformed.")
    account_id, secret_hash = parsed
    token = db.scalar(
        select(Token).where(Token.account_id == account_id, Token.secret_hash == secret_hash)
    )
    if token is None:
        raise Unauthorized("The bearer token is unknown or was revoked.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        db.execute(
            update(Token)
            .where(Token.account_id == account_id, Token.id == token.id)
            .values(last_used_at=now)
        )
        token.last_used_at = now
    return token


def list_tokens(db: Session, account_id: uuid.UUID) -> list[Token]:
    return list(
        db.scalars(
            select(Token).where(Token.account_id == account_id).order_by(Token.created_at, Token.id)
        )
    )


def revoke_token(
    db: Session, account_id: uuid.UUID, token_id: uuid.UUID, ip: str | None = None
) -> None:
    result = db.execute(delete(Token).where(Token.account_id == account_id, Token.id == token_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("No token with this id.")
    audit.record(db, TOKEN_REVOKED, account_id=account_id, token_id=token_id, ip=ip)
