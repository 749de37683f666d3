"""`knotlog clock --once` killed with SIGKILL mid-run, again and again, then run to the end.

Whatever step each kill lands on (claiming, summarising, writing objects, mailing),
the end state is one summary and one current report per (account, week) and at
most one email per person.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from core.database import Database
from core.settings import Settings
from core.weeks import format_week
from tests.jobs.conftest import latest_final_week, log_sessions, make_person
from tests.services import Inbox, s3_client

PEOPLE = 40
KILL_AFTER_S = (1.2, 1.8, 2.4, 3.0)


def _clock_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    assert settings.database_url and settings.s3_endpoint_url and settings.smtp_url
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REPORTS_URL": settings.reports_url,
        "S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "SMTP_URL": settings.smtp_url,
        "SECRET_KEY": "test-secret-key",
        "KNOTLOG_DATA_DIR": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _clock_once() -> list[str]:
    return [sys.executable, "-m", "knotlog.cli", "clock", "--once"]


def test_a_clock_killed_at_any_step_never_duplicates_work_or_mail(
    database: Database, pipeline_settings: Settings, inbox: Inbox, tmp_path: Path
) -> None:
    week = latest_final_week()
    people = [make_person(database, weeks_ago_created=1) for _ in range(PEOPLE)]
    for i, person in enumerate(people):
        log_sessions(database, person, week + timedelta(days=i % 7), 1 + i % 3)
    env = _clock_env(pipeline_settings, tmp_path)

    for delay in KILL_AFTER_S:
        process = subprocess.Popen(_clock_once(), env=env, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finished = subprocess.run(_clock_once(), env=env, capture_output=True, timeout=120)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]

    with database.session() as db:
        rows = db.execute(text("SELECT * FROM weekly_summaries WHERE week = :w"), {"w": week}).all()
        pending = db.execute(text("SELECT count(*) FROM week_tasks")).scalar_one()
        claims = dict(db.execute(text("SELECT account_id, status FROM weekly_emails")).all())
    assert pending == 0
    assert sorted(r.account_id for r in rows) == sorted(p.id for p in people)

    bucket = pipeline_settings.reports_url.removeprefix("s3://").split("/")[0]
    assert pipeline_settings.s3_endpoint_url is not None
    s3 = s3_client(pipeline_settings.s3_endpoint_url)
    label = format_week(week)
    for row in rows:
        assert row.reported_version == row.version
        key = f"reports/accounts/{row.account_id}/weekly/{label}.json"
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert report["version"] == row.version
        assert report["summary"]["sessions"] == row.sessions

    mailed = Counter(str(m["To"]) for m in inbox.messages)
    assert all(count == 1 for count in mailed.values()), mailed
    by_email = {p.email: p.id for p in people}
    for address in mailed:
        # Every message that went out has its claim; a claim never produced two messages.
        assert claims.get(by_email[address]) in ("sent", "sending")
    sent = {account for account, status in claims.items() if status == "sent"}
    assert sent <= {by_email[a] for a in mailed}
    # A kill between claim and send loses that one email (at most once, never twice);
    # the last run, uninterrupted, mails everyone else.
    assert len(mailed) >= PEOPLE - len(KILL_AFTER_S)
