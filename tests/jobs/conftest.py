"""Fixtures of the weekly pipeline: its own committed database, S3 (moto) and SMTP peers.

The pipeline commits, claims rows across connections and scans every account, so
these tests get a database of their own, emptied before each test, instead of the
rolled-back transaction the API tests use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core.database import Database
from core.mail import SmtpMailer
from core.migrate import upgrade
from core.models import Base, load_all
from core.reports.store import S3ReportStore
from core.services.accounts import create_account
from core.services.session_writes import apply_changes
from core.session_rules import validate_session
from core.settings import Settings
from core.weeks import week_start
from jobs.pipeline import Pipeline
from tests.conftest import PASSWORD, create_scratch_database, drop_database, unique_email
from tests.services import Inbox


@pytest.fixture(scope="module")
def pipeline_url(pg_server: str) -> Iterator[str]:
    url = create_scratch_database(pg_server, "knotlog_jobs")
    upgrade(url)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="module")
def pipeline_database(pipeline_url: str) -> Iterator[Database]:
    engine = create_engine(pipeline_url, pool_size=10, max_overflow=10)
    yield Database.from_engine(engine)
    engine.dispose()


@pytest.fixture
def database(pipeline_database: Database) -> Database:
    load_all()
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with pipeline_database.session() as db:
        db.execute(text(f"TRUNCATE {tables} CASCADE"))
    return pipeline_database


@pytest.fixture
def pipeline_settings(
    settings: Settings, pipeline_url: str, s3_endpoint: str, s3_bucket: str, smtp_server: Any
) -> Settings:
    return replace(
        settings,
        database_url=pipeline_url,
        reports_url=f"s3://{s3_bucket}/reports",
        s3_endpoint_url=s3_endpoint,
        smtp_url=smtp_server[0],
        public_base_url="https://knotlog.example",
    )


@pytest.fixture
def pipeline(database: Database, pipeline_settings: Settings, inbox: Inbox) -> Iterator[Pipeline]:
    store = S3ReportStore(
        bucket=pipeline_settings.reports_url.removeprefix("s3://").split("/")[0],
        prefix="reports",
        endpoint_url=pipeline_settings.s3_endpoint_url,
    )
    assert pipeline_settings.smtp_url is not None
    pipeline = Pipeline(database, pipeline_settings, store, SmtpMailer(pipeline_settings.smtp_url))
    yield pipeline
    pipeline.close()


def latest_final_week(now: datetime | None = None) -> date:
    """The latest final week of an account in UTC (final after Monday 06:00)."""
    now = now or datetime.now(UTC)
    return week_start((now - timedelta(hours=6)).date()) - timedelta(weeks=1)


@dataclass
class Person:
    id: uuid.UUID
    email: str


def make_person(
    database: Database,
    *,
    weekly_email: bool = True,
    timezone: str = "UTC",
    sessions_per_week: int = 3,
    weeks_ago_created: int = 6,
) -> Person:
    now = datetime.now(UTC)
    with database.session() as db:
        account = create_account(
            db,
            email=unique_email("weekly"),
            password=PASSWORD,
            timezone=timezone,
            now=now,
            sessions_per_week=sessions_per_week,
            weekly_email=weekly_email,
        )
        # Backdate the account so its earlier weeks count as its own.
        db.execute(
            text("UPDATE accounts SET created_at = :t WHERE id = :id"),
            {"t": now - timedelta(weeks=weeks_ago_created), "id": account.id},
        )
        return Person(account.id, account.email)


def log_sessions(
    database: Database, person: Person, day: date, count: int, **fields: Any
) -> list[uuid.UUID]:
    """Store `count` sessions on a local date, as a phone push would."""
    now = datetime.now(UTC)
    items = []
    for i in range(count):
        raw = {
            "id": str(uuid.uuid4()),
            "started_at": f"{day.isoformat()}T{8 + i:02d}:00:00+00:00",
            "duration_s": 600,
            "region": "lower_back",
            "tool": "massage_ball",
            "pain_before": 6,
            "pain_after": 3,
            "client_updated_at": now.isoformat(),
            **fields,
        }
        item, errors = validate_session(raw, now)
        assert item is not None, errors
        items.append(item)
    with database.session() as db:
        apply_changes(db, person.id, items)
    return [item.id for item in items]
