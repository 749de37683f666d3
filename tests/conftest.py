"""Fixtures on a real PostgreSQL: DATABASE_URL when set, else the embedded server.

Each run gets its own freshly migrated database. Most tests run inside one
outer transaction that is rolled back at the end ("Joining a Session into an
External Transaction"); tests that need real commits (concurrency, live HTTP
server) use their own accounts, so nothing they leave interferes.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from api import create_app
from core.database import Database, libpq_url, normalize_url, start_embedded
from core.migrate import upgrade
from core.settings import Settings

pytest_plugins = ["tests.services"]

PASSWORD = "correct horse battery staple"


def server_url(tmp_root: Path) -> str:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return normalize_url(configured)
    return start_embedded(tmp_root)


def create_scratch_database(base_url: str, prefix: str) -> str:
    """Create an empty database on the same server and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(libpq_url(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def drop_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq_url(base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Not under pytest's tmp dir: pytest keeps that private to root (0700), and the embedded
# server runs as its own system user, which then loses its data folder mid-run.
EMBEDDED_ROOT = Path(__file__).resolve().parents[1] / "var" / "test-postgres"


@pytest.fixture(scope="session")
def pg_server() -> str:
    return server_url(EMBEDDED_ROOT)


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> Iterator[str]:
    url = create_scratch_database(pg_server, "knotlog_test")
    upgrade(url)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_size=20, max_overflow=20)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("knotlog-data")
    env = {
        "DATABASE_URL": database_url,
        "KNOTLOG_DATA_DIR": str(data_dir),
        "SECRET_KEY": "test-secret-key",
        # Far above what any test sends (the session-wide live server, a busy puller):
        # tests/api/test_rate_limits.py sets the small limits it tests.
        "KNOTLOG_RATE_LIMIT_PER_TOKEN": "100000 per minute",
        "KNOTLOG_RATE_LIMIT_PER_IP": "100000 per minute",
        "KNOTLOG_LOGIN_LIMIT_PER_IP": "100000 per minute",
    }
    return Settings.from_env(env)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture
def app(settings: Settings, engine: Engine, connection: Connection) -> Flask:
    """The app with every request joined to the test's outer transaction."""
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return create_app(settings, Database(engine=engine, sessions=sessions))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def live_app(settings: Settings, engine: Engine) -> Flask:
    """An app that really commits, for tests that need several connections."""
    return create_app(settings, Database.from_engine(engine))


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


def register(client: FlaskClient, email: str | None = None, **account: Any) -> dict[str, Any]:
    """Create an account and a token; returns auth headers and the account."""
    email = email or unique_email()
    body = {"email": email, "password": PASSWORD, "timezone": "Europe/Berlin", **account}
    created = client.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.get_json()
    token = client.post(
        "/v1/tokens", json={"email": email, "password": PASSWORD, "device_name": "test phone"}
    )
    assert token.status_code == 201, token.get_json()
    return {
        "headers": {"Authorization": f"Bearer {token.get_json()['token']}"},
        "account": created.get_json(),
        "token": token.get_json(),
        "email": email,
    }
