"""Bearer-token authentication for every call but account and token creation and health."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from api.db import get_db
from core.errors import Unauthorized
from core.services.login_throttle import LoginPolicy
from core.services.tokens import authenticate
from core.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def bearer_credentials() -> str | None:
    """The credentials of an `Authorization: Bearer ...` header, or None."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return (credentials.strip() or None) if scheme.lower() == "bearer" else None


def require_token(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        credentials = bearer_credentials()
        if credentials is None:
            raise Unauthorized("Send 'Authorization: Bearer <token>'; create a token first.")
        now = datetime.now(UTC)
        db = get_db()
        token = authenticate(db, credentials, now)
        if token.last_used_at == now:
            db.commit()  # keep the last-used stamp even when the call itself only reads
        g.account_id = token.account_id
        g.token_id = token.id
        return view(*args, **kwargs)

    return cast(F, wrapper)


def account_id() -> uuid.UUID:
    value: uuid.UUID = g.account_id
    return value


def token_id() -> uuid.UUID:
    value: uuid.UUID = g.token_id
    return value


def login_policy() -> LoginPolicy:
    """The per-account lockout of failed passwords, from the settings."""
    settings: Settings = current_app.extensions["knotlog.settings"]
    return LoginPolicy(
        max_failures=settings.login_max_failures,
        lockout=timedelta(seconds=settings.login_lockout_s),
    )
