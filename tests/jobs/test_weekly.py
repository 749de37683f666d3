"""The weekly run end to end: summaries in PostgreSQL, reports on S3 (moto), mail over SMTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text

from core.database import Database
from core.logs import json_formatter
from core.mail import SmtpMailer
from core.reports.store import S3ReportStore
from core.services.session_writes import delete_session
from core.services.week_tasks import enqueue_weeks
from core.weeks import format_week
from jobs.pipeline import Pipeline
from jobs.weekly import process_tasks, weekly_pass
from tests.jobs.conftest import latest_final_week, log_sessions, make_person
from tests.services import Inbox, free_port, s3_client

BATCH = 12  # accounts per batch where a test runs two


def _report(pipeline: Pipeline, person_id: Any, week: Any, ext: str = "json") -> bytes:
    settings = pipeline.settings
    bucket = settings.reports_url.removeprefix("s3://").split("/")[0]
    key = f"reports/accounts/{person_id}/weekly/{format_week(week)}.{ext}"
    assert settings.s3_endpoint_url is not None
    body: bytes = (
        s3_client(settings.s3_endpoint_url).get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    return body


def _summary_rows(database: Database, person_id: Any) -> dict[Any, Any]:
    with database.session() as db:
        rows = db.execute(
            text("SELECT * FROM weekly_summaries WHERE account_id = :a ORDER BY week"),
            {"a": person_id},
        ).all()
    return {row.week: row for row in rows}


def _count(database: Database, sql: str, **params: Any) -> int:
    with database.session() as db:
        return int(db.execute(text(sql), params).scalar_one())


def test_a_final_week_is_summarised_reported_and_mailed_once(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week + timedelta(days=1), 2)
    log_sessions(database, person, week + timedelta(days=3), 2, pain_before=5, pain_after=5)

    stats = weekly_pass(pipeline)

    summary = _summary_rows(database, person.id)[week]
    assert (summary.sessions, summary.active_days, summary.target_met) == (4, 2, True)
    assert summary.version == 1 and summary.reported_version == 1
    report = json.loads(_report(pipeline, person.id, week))
    assert report["week"] == format_week(week)
    assert report["version"] == 1
    assert report["summary"]["sessions"] == 4
    html = _report(pipeline, person.id, week, "html").decode()
    assert "not medical advice" in html.lower()
    assert stats.emails == 1
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == person.email
    assert format_week(week) in message["Subject"]
    assert message["List-Unsubscribe"].startswith("<https://knotlog.example/v1/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # A second pass (a restarted clock, another machine) changes nothing and mails nobody.
    again = weekly_pass(pipeline)
    assert again.summaries == 0 and again.emails == 0
    assert len(inbox.messages) == 1
    assert _summary_rows(database, person.id)[week].version == 1


def test_earlier_missed_weeks_are_caught_up_without_email(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database, weeks_ago_created=3)
    log_sessions(database, person, week - timedelta(weeks=2), 3)

    weekly_pass(pipeline)

    rows = _summary_rows(database, person.id)
    assert week - timedelta(weeks=2) in rows and week in rows
    assert rows[week - timedelta(weeks=2)].sessions == 3
    assert rows[week].sessions == 0
    assert len(inbox.messages) == 1  # only about the latest week
    assert format_week(week) in inbox.messages[0]["Subject"]


def test_opted_out_people_get_reports_but_no_email(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database, weekly_email=False)
    log_sessions(database, person, week, 1)

    weekly_pass(pipeline)

    assert json.loads(_report(pipeline, person.id, week))["summary"]["sessions"] == 1
    assert inbox.messages == []


def test_late_data_recomputes_with_a_higher_version_and_no_second_email(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week + timedelta(days=2), 1)
    weekly_pass(pipeline)
    assert len(inbox.messages) == 1

    # An offline phone uploads two more sessions of that finished week.
    log_sessions(database, person, week + timedelta(days=4), 2)
    assert (
        _count(
            database,
            "SELECT count(*) FROM week_tasks WHERE account_id = :a AND week = :w",
            a=person.id,
            w=week,
        )
        == 1
    )
    weekly_pass(pipeline)

    summary = _summary_rows(database, person.id)[week]
    assert summary.sessions == 3 and summary.version == 2 and summary.reported_version == 2
    report = json.loads(_report(pipeline, person.id, week))
    assert report["version"] == 2 and report["summary"]["sessions"] == 3
    assert len(inbox.messages) == 1


def test_late_data_also_refreshes_the_weeks_that_depend_on_it(
    pipeline: Pipeline, database: Database
) -> None:
    week = latest_final_week()
    earlier = week - timedelta(weeks=2)
    person = make_person(database, sessions_per_week=1)
    for w in (earlier, week - timedelta(weeks=1), week):
        log_sessions(database, person, w, 1, pain_before=6)
    weekly_pass(pipeline)
    before = _summary_rows(database, person.id)
    assert before[week].streak_weeks == 3

    # Deleting the only session of `earlier` breaks the streak and moves the baseline.
    with database.session() as db:
        sid = db.execute(
            text("SELECT id FROM sessions WHERE account_id = :a AND local_date = :d"),
            {"a": person.id, "d": earlier},
        ).scalar_one()
    with database.session() as db:
        delete_session(db, person.id, sid, datetime.now(UTC))
    weekly_pass(pipeline)

    after = _summary_rows(database, person.id)
    assert after[earlier].sessions == 0
    assert after[week].streak_weeks == 2
    assert after[week].version == before[week].version + 1
    assert json.loads(_report(pipeline, person.id, week))["summary"]["streak_weeks"] == 2


def test_one_off_backfill_sends_no_email_unless_asked(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week() - timedelta(weeks=3)
    person = make_person(database, weeks_ago_created=8)
    log_sessions(database, person, week, 2)

    with database.session() as db:
        enqueue_weeks(db, [week, week + timedelta(weeks=1)], person.id, send_email=False)
    stats = process_tasks(pipeline)
    assert stats.summaries == 2 and stats.emails == 0
    assert _summary_rows(database, person.id)[week].sessions == 2
    assert inbox.messages == []

    with database.session() as db:
        enqueue_weeks(db, [week], person.id, send_email=True)
    assert process_tasks(pipeline).emails == 1
    with database.session() as db:
        enqueue_weeks(db, [week], person.id, send_email=True)
    assert process_tasks(pipeline).emails == 0  # never twice for one (account, week)
    assert len(inbox.messages) == 1
    assert _summary_rows(database, person.id)[week].version == 3


def test_concurrent_runners_share_the_work_and_mail_each_person_once(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    people = [make_person(database, weeks_ago_created=1) for _ in range(24)]
    for i, person in enumerate(people):
        log_sessions(database, person, week + timedelta(days=i % 7), 1 + i % 4)

    errors: list[BaseException] = []

    def run() -> None:
        try:
            weekly_pass(pipeline, batch_size=5)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    runners = [threading.Thread(target=run) for _ in range(4)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()

    assert errors == []
    assert _count(database, "SELECT count(*) FROM week_tasks") == 0
    for i, person in enumerate(people):
        summary = _summary_rows(database, person.id)[week]
        assert summary.sessions == 1 + i % 4
        report = json.loads(_report(pipeline, person.id, week))
        assert report["version"] == summary.version == summary.reported_version
    recipients = sorted(str(m["To"]) for m in inbox.messages)
    assert recipients == sorted(p.email for p in people)
    assert _count(database, "SELECT count(*) FROM weekly_emails WHERE status = 'sent'") == 24


def test_a_failing_store_leaves_the_work_for_the_next_run(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week, 2)

    # A real boto3 client against a port where no S3 endpoint listens.
    down = S3ReportStore(
        bucket="reports", prefix="reports", endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    broken = Pipeline(database, pipeline.settings, down, pipeline.mailer)
    stats = weekly_pass(broken)  # logs the failure; the tasks wait for the next pass
    assert stats.failed_batches == 1 and stats.summaries == 0
    assert _count(database, "SELECT count(*) FROM weekly_summaries") == 0
    assert _count(database, "SELECT count(*) FROM week_tasks") > 0
    assert inbox.messages == []

    weekly_pass(pipeline)
    assert _summary_rows(database, person.id)[week].reported_version == 1
    assert len(inbox.messages) == 1


def test_an_unreachable_smtp_server_leaves_the_email_for_the_next_run(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week, 2)

    down = Pipeline(
        database, pipeline.settings, pipeline.store, SmtpMailer(f"smtp://127.0.0.1:{free_port()}")
    )
    stats = weekly_pass(down)
    assert stats.emails == 0 and stats.email_failures == 1
    # Never claimed, so it stays due: no message can have left. (A run killed after its
    # batch committed leaves the same state; the next run sends what is pending.)
    assert _count(database, "SELECT count(*) FROM weekly_emails WHERE status <> 'pending'") == 0

    weekly_pass(pipeline)
    assert [m["To"] for m in inbox.messages] == [person.email]
    assert _count(database, "SELECT count(*) FROM weekly_emails WHERE status = 'sent'") == 1
    weekly_pass(pipeline)
    assert len(inbox.messages) == 1


def test_a_run_reports_its_steps_as_json_lines_and_counts_its_work_in_metrics(
    pipeline: Pipeline, database: Database, inbox: Inbox, caplog: Any
) -> None:
    week = latest_final_week()
    people = [make_person(database) for _ in range(3)]
    for person in people:
        log_sessions(database, person, week, 2)

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "summaries": value("knotlog_weekly_summaries_total"),
        "sent": value("knotlog_weekly_emails_total", outcome="sent"),
        "runs": value("knotlog_weekly_runs_total", outcome="ok"),
    }
    caplog.set_level(logging.INFO, logger="jobs")
    stats = weekly_pass(pipeline)  # their earlier weeks too, without email

    assert stats.summaries > 3
    assert value("knotlog_weekly_summaries_total") - before["summaries"] == stats.summaries
    assert value("knotlog_weekly_emails_total", outcome="sent") - before["sent"] == 3
    assert value("knotlog_weekly_runs_total", outcome="ok") - before["runs"] == 1
    lines = [json.loads(json_formatter().format(r)) for r in caplog.records]
    batches = [line for line in lines if line.get("event") == "weekly.batch"]
    assert {"week": format_week(week), "accounts": 3, "emails_due": 3}.items() <= batches[
        -1
    ].items()
    [emails] = [line for line in lines if line.get("event") == "weekly.emails"]
    assert emails["sent"] == 3
    [run] = [line for line in lines if line.get("event") == "weekly.run"]
    assert run["summaries"] == stats.summaries and run["emails_sent"] == 3
    assert all(p.email not in json.dumps(lines) for p in people)


def test_big_batches_are_drawn_by_worker_processes_that_may_die(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    people = [make_person(database, weeks_ago_created=1) for _ in range(2 * BATCH)]
    with database.session() as db:
        for i, person in enumerate(people):
            log_sessions(database, person, week + timedelta(days=i % 7), 1 + i % 3)
            enqueue_weeks(db, [week], person.id, send_email=True)
    pooled = Pipeline(
        database, replace(pipeline.settings, render_processes=2), pipeline.store, pipeline.mailer
    )
    killed: list[int] = []

    def kill_the_workers_after_the_first_batch(done: int) -> None:
        # As the out-of-memory killer or an operator would, between two batches.
        if not killed:
            killed.extend(pooled.renderer.worker_pids())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    first = process_tasks(pooled, batch_size=BATCH, on_batch=kill_the_workers_after_the_first_batch)
    assert len(killed) == 2
    # The second batch met the dead pool: it rolled back and stays queued, nothing half-done.
    assert (first.summaries, first.emails, first.failed_batches) == (
        BATCH,
        BATCH,
        1,
    )
    assert _count(database, "SELECT count(*) FROM week_tasks") == BATCH
    second = process_tasks(pooled, batch_size=BATCH)  # new workers
    assert (second.summaries, second.emails, second.failed_batches) == (
        BATCH,
        BATCH,
        0,
    )
    assert pooled.renderer.jobs_in_workers >= len(people)
    assert pooled.renderer.worker_pids() == []  # workers live for one run

    for i, person in enumerate(people):
        report = json.loads(_report(pipeline, person.id, week))
        assert report["summary"]["sessions"] == 1 + i % 3
        html = _report(pipeline, person.id, week, "html").decode()
        assert '<b data-field="active_days">1</b>' in html
        assert 'src="data:image/png;base64,' in html
    by_recipient = {str(m["To"]): m for m in inbox.messages}
    assert len(inbox.messages) == len(by_recipient) == len(people)  # each once
    assert sorted(by_recipient) == sorted(p.email for p in people)
    for message in by_recipient.values():
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        images = [p for p in message.walk() if p.get_content_type() == "image/png"]
        assert len(images) == 1 and images[0].get_payload(decode=True).startswith(b"\x89PNG")


def test_an_unusable_address_fails_only_that_email(
    pipeline: Pipeline, database: Database, inbox: Inbox
) -> None:
    week = latest_final_week()
    people = [make_person(database, weeks_ago_created=1) for _ in range(3)]
    for person in people:
        log_sessions(database, person, week, 1)
    with database.session() as db:  # as an address stored before today's validation might be
        db.execute(text("UPDATE accounts SET email = '' WHERE id = :id"), {"id": people[0].id})

    stats = weekly_pass(pipeline)

    assert (stats.summaries, stats.emails, stats.email_failures, stats.failed_batches) == (
        3,
        2,
        1,
        0,
    )
    assert json.loads(_report(pipeline, people[0].id, week))["summary"]["sessions"] == 1
    assert sorted(str(m["To"]) for m in inbox.messages) == sorted(p.email for p in people[1:])
    with database.session() as db:
        row = db.execute(
            text("SELECT status, error FROM weekly_emails WHERE account_id = :id"),
            {"id": people[0].id},
        ).one()
    assert row.status == "failed" and "recipient address" in row.error
    with database.session() as db:  # asked for again (a backfill with email): still never sent
        enqueue_weeks(db, [week], people[0].id, send_email=True)
    again = weekly_pass(pipeline)
    assert (again.emails, again.email_failures, len(inbox.messages)) == (0, 1, 2)
