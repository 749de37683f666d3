"""The weekly run under faults: S3 failing for a while, the database dropping connections.

S3 faults come from a real HTTP hop in front of the S3 server (tests.services.FlakyS3);
database faults from pg_terminate_backend on the runner's connections. Afterwards every
(account, week) has one summary and a current report, and nobody got two emails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from core.database import Database
from core.reports.store import S3ReportStore
from core.services.week_tasks import enqueue_weeks
from core.settings import Settings
from core.weeks import format_week
from jobs.pipeline import Pipeline
from jobs.weekly import process_tasks, weekly_pass
from tests.jobs.conftest import latest_final_week, log_sessions, make_person
from tests.jobs.test_clock_crash import _clock_env
from tests.services import FlakyS3, Inbox, s3_client


def _through(pipeline: Pipeline, flaky: FlakyS3) -> Pipeline:
    bucket = pipeline.settings.reports_url.removeprefix("s3://").split("/")[0]
    store = S3ReportStore(bucket=bucket, prefix="reports", endpoint_url=flaky.endpoint)
    return Pipeline(pipeline.database, pipeline.settings, store, pipeline.mailer)


def _check_end_state(database: Database, settings: Settings, inbox: Inbox, people: int) -> None:
    week = latest_final_week()
    with database.session() as db:
        rows = db.execute(text("SELECT * FROM weekly_summaries WHERE week = :w"), {"w": week}).all()
        pending = db.execute(text("SELECT count(*) FROM week_tasks")).scalar_one()
        unsent = db.execute(
            text("SELECT count(*) FROM weekly_emails WHERE status = 'pending'")
        ).scalar_one()
    assert (len(rows), pending, unsent) == (people, 0, 0)
    assert settings.s3_endpoint_url is not None
    s3 = s3_client(settings.s3_endpoint_url)
    bucket = settings.reports_url.removeprefix("s3://").split("/")[0]
    for row in rows:
        assert row.reported_version == row.version
        key = f"reports/accounts/{row.account_id}/weekly/{format_week(week)}.json"
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert report["version"] == row.version
    mailed = Counter(str(m["To"]) for m in inbox.messages)
    assert all(count == 1 for count in mailed.values()), mailed


def test_s3_failing_for_a_few_requests_is_absorbed_by_retries_with_backoff(
    pipeline: Pipeline, database: Database, inbox: Inbox, flaky_s3: FlakyS3
) -> None:
    for _ in range(3):
        log_sessions(database, make_person(database, weeks_ago_created=1), latest_final_week(), 2)
    flaky_s3.fail(3)

    stats = weekly_pass(_through(pipeline, flaky_s3))

    assert flaky_s3.refused == 3
    assert stats.failed_batches == 0 and stats.emails == 3
    _check_end_state(database, pipeline.settings, inbox, 3)


def test_s3_down_past_the_retries_fails_the_batch_and_the_next_pass_resumes(
    pipeline: Pipeline, database: Database, inbox: Inbox, flaky_s3: FlakyS3
) -> None:
    for _ in range(2):
        log_sessions(database, make_person(database, weeks_ago_created=1), latest_final_week(), 1)
    flaky = _through(pipeline, flaky_s3)
    flaky_s3.fail(-1)

    down = weekly_pass(flaky)
    assert down.failed_batches == 1 and down.summaries == 0 and inbox.messages == []

    flaky_s3.fail(0)  # the endpoint is back
    again = weekly_pass(flaky)
    assert again.failed_batches == 0 and again.emails == 2
    _check_end_state(database, pipeline.settings, inbox, 2)


def test_database_connections_dropped_mid_run_lose_nothing_and_mail_nobody_twice(
    database: Database, pipeline_settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    people = 50
    week = latest_final_week()
    for i in range(people):  # 5 earlier weeks each too: more than one batch of work
        log_sessions(database, make_person(database, weeks_ago_created=5), week, 1 + i % 3)
    env = _clock_env(pipeline_settings, tmp_path)
    clock = [sys.executable, "-m", "knotlog.cli", "clock", "--once"]

    with database.session() as db:
        # Writes to weekly_summaries wait on this lock, so the runner is caught for certain
        # inside a batch: tasks claimed, nothing committed.
        db.execute(text("LOCK TABLE weekly_summaries IN SHARE MODE"))
        running = subprocess.Popen(clock, env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and running.poll() is None:
            db.execute(text("SELECT pg_stat_clear_snapshot()"))  # fresh activity each look
            waiting = db.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting:
                break
            time.sleep(0.02)
        assert running.poll() is None, "the run ended before the fault could be injected"
        # Every other connection to this database goes, the runner's included.
        db.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        db.commit()
    database.engine.dispose()  # this test's own idle pooled connections went too
    _, stderr = running.communicate(timeout=120)
    # 1: a batch failed and was logged (its work stays queued); never a crash.
    assert running.returncode == 1, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr

    finished = subprocess.run(clock, env=env, capture_output=True, timeout=120)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    _check_end_state(database, pipeline_settings, inbox, people)
    assert len(inbox.messages) >= people - 1  # at most the one in flight may be lost


def test_a_batch_failing_after_others_still_sends_their_emails_once(
    pipeline: Pipeline, database: Database, inbox: Inbox, flaky_s3: FlakyS3
) -> None:
    week = latest_final_week()
    people = [make_person(database, weeks_ago_created=1) for _ in range(12)]
    with database.session() as db:
        for person in people:
            log_sessions(database, person, week, 1)
            enqueue_weeks(db, [week], person.id, send_email=True)
    flaky = _through(pipeline, flaky_s3)
    batches = 0

    def s3_goes_down_after_two_batches(done: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            flaky_s3.fail(-1)

    # Batches of 5: two commit and hand their emails to the sender thread, the third fails.
    stats = process_tasks(flaky, batch_size=5, on_batch=s3_goes_down_after_two_batches)

    # One failed batch, and the cohort report of the week (S3 is still down).
    assert (stats.failed_batches, stats.summaries, stats.emails) == (2, 10, 10)
    assert len(inbox.messages) == 10
    with database.session() as db:
        statuses = Counter(
            db.execute(
                text("SELECT status FROM weekly_emails WHERE account_id = ANY(:ids)"),
                {"ids": [p.id for p in people]},
            ).scalars()
        )
    assert statuses == {"sent": 10}
    flaky_s3.fail(0)
    again = process_tasks(flaky, batch_size=5)
    assert (again.failed_batches, again.summaries, again.emails) == (0, 2, 2)
    _check_end_state(database, pipeline.settings, inbox, len(people))
