"""Alembic environment: the URL comes from knotlog's settings, the target from core's metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from core.database import resolve_url
from core.models import load_all
from core.settings import Settings

config = context.config
target_metadata = load_all()


def _url() -> str:
    return config.attributes.get("url") or resolve_url(Settings.from_env())


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
