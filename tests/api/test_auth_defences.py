"""Authentication defences (OWASP API2): sign-in throttling per account, common passwords,
token revocation on a password change, and no secret in any response."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from api import create_app
from core.database import Database
from core.models.account import Account, Token
from core.passwords import is_common_password
from core.services.login_throttle import DEFAULT_LOGIN_POLICY
from core.settings import Settings
from tests.conftest import PASSWORD, register, unique_email

MAX_FAILURES = 5  # the tests' threshold; the default (100) is asserted below


@pytest.fixture
def client(settings: Settings, engine: Engine, connection: Connection) -> FlaskClient:
    """The app with a low failure threshold and no per-address limit in the way."""
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    changed = dataclasses.replace(
        settings,
        login_max_failures=MAX_FAILURES,
        login_lockout_s=600,
        login_limit_per_ip="10000 per minute",
        rate_limit_per_ip="10000 per minute",
    )
    app: Flask = create_app(changed, Database(engine=engine, sessions=sessions))
    return app.test_client()


def sign_in(client: FlaskClient, email: str, password: str) -> TestResponse:
    return client.post(
        "/v1/tokens", json={"email": email, "password": password, "device_name": "phone"}
    )


def account_row(db: Session, email: str) -> Account:
    account = db.scalar(select(Account).where(Account.email == email))
    assert account is not None
    db.refresh(account)
    return account


# ---- failed sign-ins per account ------------------------------------------------------


def test_the_default_threshold_is_nists_100_and_the_lockout_15_minutes() -> None:
    defaults = Settings.from_env({})
    assert defaults.login_max_failures == 100
    assert defaults.login_lockout_s == 15 * 60
    assert DEFAULT_LOGIN_POLICY.max_failures == 100
    assert DEFAULT_LOGIN_POLICY.lockout == timedelta(minutes=15)
    configured = Settings.from_env(
        {"KNOTLOG_LOGIN_MAX_FAILURES": "20", "KNOTLOG_LOGIN_LOCKOUT_SECONDS": "60"}
    )
    assert (configured.login_max_failures, configured.login_lockout_s) == (20, 60)


def test_too_many_wrong_passwords_lock_the_account_even_for_the_right_one(
    client: FlaskClient, db: Session
) -> None:
    user = register(client)
    for _ in range(MAX_FAILURES):
        assert sign_in(client, user["email"], "wrong password!").status_code == 401

    locked = sign_in(client, user["email"], PASSWORD)
    assert locked.status_code == 429
    assert locked.content_type == "application/problem+json"
    body = locked.get_json()
    assert body["status"] == 429
    assert body["code"] == "sign_in_locked"
    assert "failed sign-ins" in body["detail"]
    assert 590 <= int(locked.headers["Retry-After"]) <= 600
    assert "token" not in body
    assert sign_in(client, user["email"], "wrong password!").status_code == 429

    # Tokens issued before keep working: the lock guards sign-ins, not the phone's sync.
    assert client.get("/v1/me", headers=user["headers"]).status_code == 200
    account = account_row(db, user["email"])
    assert account.failed_logins == MAX_FAILURES
    assert account.login_locked_until is not None


def test_a_success_before_the_threshold_resets_the_count(client: FlaskClient, db: Session) -> None:
    user = register(client)
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(client, user["email"], "wrong password!").status_code == 401
    assert account_row(db, user["email"]).failed_logins == MAX_FAILURES - 1

    assert sign_in(client, user["email"], PASSWORD).status_code == 201
    assert account_row(db, user["email"]).failed_logins == 0

    for _ in range(MAX_FAILURES - 1):
        assert sign_in(client, user["email"], "wrong password!").status_code == 401
    assert sign_in(client, user["email"], PASSWORD).status_code == 201


def test_once_the_lock_expires_the_right_password_signs_in_and_a_wrong_one_relocks(
    client: FlaskClient, db: Session
) -> None:
    user = register(client)
    for _ in range(MAX_FAILURES):
        sign_in(client, user["email"], "wrong password!")
    expire_lock(db, user["email"])

    # Still past the threshold: one more wrong password locks again at once.
    assert sign_in(client, user["email"], "wrong password!").status_code == 401
    assert sign_in(client, user["email"], PASSWORD).status_code == 429

    expire_lock(db, user["email"])
    assert sign_in(client, user["email"], PASSWORD).status_code == 201
    account = account_row(db, user["email"])
    assert (account.failed_logins, account.login_locked_until) == (0, None)


def expire_lock(db: Session, email: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    db.execute(update(Account).where(Account.email == email).values(login_locked_until=past))
    db.flush()


def test_the_lock_is_per_account(client: FlaskClient) -> None:
    locked, other = register(client), register(client)
    for _ in range(MAX_FAILURES):
        sign_in(client, locked["email"], "wrong password!")
    assert sign_in(client, locked["email"], PASSWORD).status_code == 429
    assert sign_in(client, other["email"], PASSWORD).status_code == 201


def test_an_unknown_email_answers_exactly_like_a_wrong_password(client: FlaskClient) -> None:
    user = register(client)
    wrong = sign_in(client, user["email"], "wrong password!")
    unknown = sign_in(client, unique_email("nobody"), "wrong password!")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.content_type == unknown.content_type
    for header in ("WWW-Authenticate", "Retry-After", "Content-Length"):
        assert wrong.headers.get(header) == unknown.headers.get(header)


# ---- common passwords (NIST SP 800-63B 5.1.1.2) --------------------------------------------


@pytest.mark.parametrize("password", ["password", "12345678", "iloveyou", "SunShine", "QWERTYUIOP"])
def test_a_common_password_is_refused_at_sign_up(client: FlaskClient, password: str) -> None:
    body = {"email": unique_email(), "password": password, "timezone": "Europe/Berlin"}
    response = client.post("/v1/accounts", json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    errors = response.get_json()["errors"]
    assert set(errors) == {"password"}
    assert any("too common" in message for message in errors["password"])


def test_a_common_password_is_refused_at_a_change_and_changes_nothing(
    client: FlaskClient,
) -> None:
    user = register(client)
    other = sign_in(client, user["email"], PASSWORD).get_json()
    response = client.patch(
        "/v1/me",
        json={"password": "Football1", "current_password": PASSWORD},
        headers=user["headers"],
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"password"}
    # Nothing changed: the old password works and no token was revoked.
    assert sign_in(client, user["email"], PASSWORD).status_code == 201
    assert (
        client.get("/v1/me", headers={"Authorization": f"Bearer {other['token']}"}).status_code
        == 200
    )


def test_no_composition_rules_and_uncommon_passwords_pass() -> None:
    for password in (
        "correct horse battery staple",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaazx",
        "züri-fäscht 2026",
    ):
        assert not is_common_password(password)
    assert is_common_password("PASSWORD") and is_common_password("trustno1")


# ---- tokens ------------------------------------------------------------------------------------


def test_tokens_start_with_the_knotlog_prefix(client: FlaskClient) -> None:
    user = register(client)
    assert user["token"]["token"].startswith("knotlog_")


def test_a_password_change_revokes_every_other_token(client: FlaskClient) -> None:
    user = register(client)
    others = [sign_in(client, user["email"], PASSWORD).get_json()["token"] for _ in range(2)]
    changed = client.patch(
        "/v1/me",
        json={"password": "a fresh and long passphrase", "current_password": PASSWORD},
        headers=user["headers"],
    )
    assert changed.status_code == 200
    for token in others:
        revoked = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert revoked.status_code == 401
    assert client.get("/v1/me", headers=user["headers"]).status_code == 200


def test_no_response_carries_a_password_or_token_hash(client: FlaskClient, db: Session) -> None:
    user = register(client)
    headers = user["headers"]
    replies = [
        client.get("/v1/me", headers=headers),
        client.get("/v1/tokens", headers=headers),
        client.get("/v1/me/export", headers=headers),
        client.patch("/v1/me", json={"weekly_email": True}, headers=headers),
        sign_in(client, user["email"], PASSWORD),
        sign_in(client, user["email"], "wrong password!"),
    ]
    account = account_row(db, user["email"])
    hashes = [
        row.secret_hash for row in db.scalars(select(Token).where(Token.account_id == account.id))
    ]
    assert hashes
    forbidden = [account.password_hash, *(_encodings(h) for h in hashes)]
    bodies = [user["account"], user["token"], *(reply.get_json() for reply in replies)]
    for body in bodies:
        text = repr(body)
        for secret in _flatten(forbidden):
            assert secret not in text
        for key in ("password", "password_hash", "secret_hash", "failed_logins"):
            assert key not in _keys(body), key


def _encodings(raw: bytes) -> list[str]:
    return [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def _flatten(items: list[Any]) -> list[str]:
    flat: list[str] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return flat


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_account_id_in_a_token_is_no_secret_but_the_rest_is(client: FlaskClient) -> None:
    """A token carries its account id (for the lookup) and 256 random bits."""
    user = register(client)
    token = user["token"]["token"]
    body = token.removeprefix("knotlog_")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert uuid.UUID(bytes=raw[:16]) == uuid.UUID(user["account"]["id"])
    assert len(raw) - 16 == 32


def test_a_token_alone_cannot_take_the_account_over(client: FlaskClient) -> None:
    """Changing the email or password, or deleting the account, asks for the password."""
    user = register(client)
    stolen = {
        "Authorization": f"Bearer {sign_in(client, user['email'], PASSWORD).get_json()['token']}"
    }
    for change in ({"password": "a thief's new passphrase"}, {"email": unique_email("thief")}):
        missing = client.patch("/v1/me", json=change, headers=stolen)
        assert missing.status_code == 422
        assert set(missing.get_json()["errors"]) == {"current_password"}
        wrong = client.patch(
            "/v1/me", json={**change, "current_password": "a guess!"}, headers=stolen
        )
        assert wrong.status_code == 403
    assert client.delete("/v1/me", json={"password": "a guess!"}, headers=stolen).status_code == 403
    # Nothing changed: the owner still signs in with the old password, all tokens work.
    assert sign_in(client, user["email"], PASSWORD).status_code == 201
    assert client.get("/v1/me", headers=user["headers"]).get_json()["email"] == user["email"]


def test_wrong_passwords_sent_with_a_token_count_toward_the_lockout(
    settings: Settings, engine: Engine
) -> None:
    policy = dataclasses.replace(settings, login_max_failures=3)
    app = create_app(policy, Database.from_engine(engine))
    client = app.test_client()
    user = register(client)
    for _ in range(3):
        guess = client.delete("/v1/me", json={"password": "a guess!"}, headers=user["headers"])
        assert guess.status_code == 403
    locked = client.patch(
        "/v1/me",
        json={"password": "another new passphrase", "current_password": PASSWORD},
        headers=user["headers"],
    )
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert sign_in(client, user["email"], PASSWORD).status_code == 429
