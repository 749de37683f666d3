"""Migration hygiene: one head, every revision up/down/up (the stairway), no model drift."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from core.migrate import alembic_config
from core.models import Base, load_all
from tests.conftest import create_scratch_database, drop_database


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/db"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[str]:
    url = create_scratch_database(pg_server, "knotlog_migrations")
    yield url
    drop_database(pg_server, url)


def test_there_is_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/db"))
    assert len(script.get_heads()) == 1


def test_every_revision_upgrades_downgrades_and_upgrades_again(empty_database: str) -> None:
    config = alembic_config(empty_database)
    revisions = _revisions()
    assert revisions, "no migrations found"
    for revision in revisions:
        command.upgrade(config, revision)
        command.downgrade(config, "-1")
        command.upgrade(config, revision)
    command.downgrade(config, "base")  # and all the way down from head


def test_models_and_migrations_do_not_drift(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), "head")
    load_all()
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
