"""Signed, expiring links: the secret they are signed with, unsubscribe tokens, report links.

With SECRET_KEY unset, a secret is generated once and kept in the database, so
every web and clock process signs and checks links with the same key. Each kind of
link has its own salt, so one can never be passed off as the other. A report link
opens one weekly report page without a bearer token (the Monday email carries it).
"""

from __future__ import annotations

import secrets
import uuid

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models.secret import ServerSecret
from core.settings import Settings

UNSUBSCRIBE_MAX_AGE_S = 60 * 24 * 3600  # older weekly emails stop unsubscribing
LINK_MAX_AGE_S = 30 * 24 * 3600  # report links
_UNSUBSCRIBE_SALT = "knotlog.unsubscribe"
_REPORT_SALT = "knotlog.report-link"
_SECRET_NAME = "link_signing"


def secret_key(db: Session, settings: Settings) -> str:
    """SECRET_KEY when set; else the one generated secret every process reads from the database.

    Flushes only: the caller's transaction commits the new row (the edge owns the transaction).
    """
    if settings.secret_key:
        return settings.secret_key
    # Whoever inserts first wins; everyone then reads the same row.
    db.execute(
        insert(ServerSecret)
        .values(name=_SECRET_NAME, value=secrets.token_urlsafe(48))
        .on_conflict_do_nothing(index_elements=[ServerSecret.name])
    )
    value: str = db.execute(
        select(ServerSecret.value).where(ServerSecret.name == _SECRET_NAME)
    ).scalar_one()
    return value


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def sign_unsubscribe(secret: str, account_id: uuid.UUID) -> str:
    return _serializer(secret, _UNSUBSCRIBE_SALT).dumps(str(account_id))


def verify_unsubscribe(
    secret: str, token: str, max_age_s: int = UNSUBSCRIBE_MAX_AGE_S
) -> uuid.UUID:
    try:
        payload = _serializer(secret, _UNSUBSCRIBE_SALT).loads(token, max_age=max_age_s)
        return uuid.UUID(str(payload))
    except (BadSignature, ValueError, TypeError):
        raise InvalidInput(
            {"token": ["This unsubscribe link is invalid or has expired."]}
        ) from None


def report_link(base_url: str, secret: str, account_id: uuid.UUID, week_label: str) -> str:
    token = _serializer(secret, _REPORT_SALT).dumps({"a": str(account_id), "w": week_label})
    return f"{base_url}/v1/report-pages/{token}"


def verify_report_token(secret: str, token: str) -> tuple[uuid.UUID, str]:
    """(account id, week label) of a valid link; NotFound for a bad or expired one."""
    try:
        payload = _serializer(secret, _REPORT_SALT).loads(token, max_age=LINK_MAX_AGE_S)
        return uuid.UUID(payload["a"]), str(payload["w"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("This report link is invalid or has expired.") from None
