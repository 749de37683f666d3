"""The link-signing secret, and the signed, expiring unsubscribe token.

With SECRET_KEY unset, a secret is generated once and kept in the database, so
every web and clock process signs and checks links with the same key.
"""

from __future__ import annotations

import secrets
import uuid

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models.secret import ServerSecret
from core.settings import Settings

UNSUBSCRIBE_MAX_AGE_S = 60 * 24 * 3600  # older weekly emails stop unsubscribing
_SALT = "knotlog.unsubscribe"
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


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def sign_unsubscribe(secret: str, account_id: uuid.UUID) -> str:
    return _serializer(secret).dumps(str(account_id))


def verify_unsubscribe(
    secret: str, token: str, max_age_s: int = UNSUBSCRIBE_MAX_AGE_S
) -> uuid.UUID:
    try:
        return uuid.UUID(str(_serializer(secret).loads(token, max_age=max_age_s)))
    except (BadSignature, ValueError, TypeError):
        raise InvalidInput(
            {"token": ["This unsubscribe link is invalid or has expired."]}
        ) from None
