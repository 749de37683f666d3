"""`knotlog weekly`: a one-off recompute as an operator runs it, in a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from core.database import Database
from core.settings import Settings
from core.weeks import format_week
from tests.jobs.conftest import latest_final_week, log_sessions, make_person
from tests.jobs.test_clock_crash import _clock_env
from tests.services import Inbox, free_port, s3_client


def _weekly(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knotlog.cli", "weekly", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_backfill_rewrites_reports_and_mails_only_when_asked(
    database: Database, pipeline_settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    week = latest_final_week() - timedelta(weeks=2)
    person = make_person(database, weeks_ago_created=6)
    log_sessions(database, person, week, 3)
    env = _clock_env(pipeline_settings, tmp_path)

    done = _weekly(env, "--week", format_week(week - timedelta(weeks=1)), "--to", format_week(week))
    assert done.returncode == 0, done.stderr
    # 2 weeks x (JSON + HTML) + one cohort report per week
    assert "2 summaries" in done.stdout and "6 report objects" in done.stdout
    assert "0 emails sent" in done.stdout
    assert inbox.messages == []

    again = _weekly(env, "--week", format_week(week), "--account", str(person.id), "--send-email")
    assert again.returncode == 0, again.stderr
    assert "1 emails sent" in again.stdout
    assert [m["To"] for m in inbox.messages] == [person.email]
    with database.session() as db:
        version = db.execute(
            text("SELECT version FROM weekly_summaries WHERE account_id = :a AND week = :w"),
            {"a": person.id, "w": week},
        ).scalar_one()
    assert version == 2
    bucket = pipeline_settings.reports_url.removeprefix("s3://").split("/")[0]
    assert pipeline_settings.s3_endpoint_url is not None
    key = f"reports/accounts/{person.id}/weekly/{format_week(week)}.json"
    body = s3_client(pipeline_settings.s3_endpoint_url).get_object(Bucket=bucket, Key=key)
    assert json.loads(body["Body"].read())["version"] == 2


def test_weeks_that_are_not_final_or_not_weeks_are_refused(
    database: Database, pipeline_settings: Settings, tmp_path: Path
) -> None:
    make_person(database)
    env = _clock_env(pipeline_settings, tmp_path)
    current = latest_final_week() + timedelta(weeks=1)
    not_final = _weekly(env, "--week", format_week(current))
    assert not_final.returncode != 0 and "no account has a final week" in not_final.stderr
    bad = _weekly(env, "--week", "2026-W60")
    assert bad.returncode != 0 and "2026-W60" in bad.stderr
    backwards = _weekly(env, "--week", "2026-W40", "--to", "2026-W30")
    assert backwards.returncode != 0


def _clock_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knotlog.cli", "clock", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_clock_once_with_s3_down_says_so_and_keeps_the_work(
    database: Database, pipeline_settings: Settings, tmp_path: Path
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week, 1)
    env = {**_clock_env(pipeline_settings, tmp_path), "S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    run = _clock_once(env)
    assert run.returncode == 1
    assert "stays queued" in run.stderr and "Traceback" not in run.stderr
    with database.session() as db:
        pending = db.execute(
            text("SELECT count(*) FROM week_tasks WHERE account_id = :a"), {"a": person.id}
        ).scalar_one()
    assert pending >= 1


def test_clock_once_with_the_database_down_fails_cleanly(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    env = {
        **_clock_env(pipeline_settings, tmp_path),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/gone",
    }
    run = _clock_once(env)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "weekly.queue_failed" in run.stderr
