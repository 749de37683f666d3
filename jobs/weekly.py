"""The weekly run: summarise final and stale weeks, write their reports, send the email once.

Work lives in the `week_tasks` table, never in the scheduler. A runner claims a
batch with FOR UPDATE SKIP LOCKED, so any number of clocks share the work; it
computes the batch's summaries set-based, writes the report objects under
deterministic keys and deletes the tasks in one transaction. A runner that dies
mid-batch leaves its tasks to the next one, which rewrites the same keys.
Emails are claimed in `weekly_emails` (committed) before the send, and a claim
is never retried once the message may have left: at most one email.
"""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.database import Database
from core.mail import Mailer, build_weekly_email
from core.metrics.weekly import compute_week, report_inputs, summary_json
from core.report_links import report_link
from core.reports import render
from core.reports.store import ReportStore, cohort_key, weekly_keys
from core.services.week_tasks import LATEST_FINAL_WEEK, MANUAL_EMAIL, enqueue_final_weeks
from core.settings import Settings
from core.signing import secret_key, sign_unsubscribe
from core.weeks import format_week

log = logging.getLogger(__name__)

# Tasks of one account are processed in week order (a streak reads the week before),
# so a task waits while an earlier week of its account is pending or claimed.
_CLAIM = text(
    f"""
    SELECT t.account_id, t.week, t.reason, a.timezone, a.email, a.weekly_email,
           t.week = {LATEST_FINAL_WEEK} AS is_latest_final
    FROM week_tasks t JOIN accounts a ON a.id = t.account_id
    WHERE NOT EXISTS (SELECT 1 FROM week_tasks e
                      WHERE e.account_id = t.account_id AND e.week < t.week)
    ORDER BY t.week, t.account_id
    LIMIT :limit
    FOR UPDATE OF t SKIP LOCKED
    """
)
_SUMMARIES = text("SELECT * FROM weekly_summaries WHERE week = :week AND account_id = ANY(:ids)")
_MARK_REPORTED = text(
    "UPDATE weekly_summaries SET reported_version = version "
    "WHERE week = :week AND account_id = ANY(:ids)"
)
_DONE = text("DELETE FROM week_tasks WHERE week = :week AND account_id = ANY(:ids)")
_CLAIM_EMAIL = text(
    """
    INSERT INTO weekly_emails (account_id, week, status)
    SELECT id, :week, 'sending' FROM accounts WHERE id = :account_id AND weekly_email
    ON CONFLICT (account_id, week) DO NOTHING
    RETURNING account_id
    """
)


@dataclass
class Pipeline:
    """What a run needs; built once per process."""

    database: Database
    settings: Settings
    store: ReportStore
    mailer: Mailer


@dataclass
class RunStats:
    accounts: set[uuid.UUID] = field(default_factory=set)
    weeks: set[date] = field(default_factory=set)
    summaries: int = 0
    reports: int = 0
    emails: int = 0
    email_failures: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        return (
            f"{len(self.accounts)} accounts, {self.summaries} summaries, {self.reports} report "
            f"objects written, {self.emails} emails sent ({self.email_failures} failed), "
            f"{self.seconds:.1f} s"
        )


@dataclass
class _Email:
    account_id: uuid.UUID
    week: date
    to: str
    summary: dict[str, Any]
    inputs: dict[str, Any]


def weekly_pass(pipeline: Pipeline, *, batch_size: int = 200) -> RunStats:
    """One clock tick: queue newly final weeks, then work through every pending task."""
    with pipeline.database.session() as db:
        queued = enqueue_final_weeks(db)
    log.info("queued %d newly final weeks", queued)
    return process_tasks(pipeline, batch_size=batch_size)


def process_tasks(
    pipeline: Pipeline,
    *,
    batch_size: int = 200,
    on_batch: Callable[[int], None] | None = None,
) -> RunStats:
    stats = RunStats()
    while True:
        batch = _process_batch(pipeline, batch_size, stats)
        if batch is None:
            break
        done, emails = batch
        for email in emails:
            _send_once(pipeline, email, stats)
        if on_batch is not None:
            on_batch(done)
    # Once per week and run, not per batch: it aggregates every account's summary.
    for week in sorted(stats.weeks):
        with pipeline.database.session() as db:
            _write_cohort(db, pipeline.store, week)
        stats.reports += 1
    log.info("weekly run: %s", stats.line())
    return stats


def _process_batch(
    pipeline: Pipeline, batch_size: int, stats: RunStats
) -> tuple[int, list[_Email]] | None:
    """Claim, summarise, report and finish one batch in one transaction; return emails due."""
    emails: list[_Email] = []
    with pipeline.database.session() as db:
        claimed = db.execute(_CLAIM, {"limit": batch_size}).all()
        if not claimed:
            return None
        by_week: dict[date, list[Any]] = defaultdict(list)
        for task in claimed:
            by_week[task.week].append(task)
        for week, tasks in sorted(by_week.items()):
            ids = [t.account_id for t in tasks]
            compute_week(db, week, ids)
            inputs = report_inputs(db, week, ids)
            summaries = {
                row.account_id: row for row in db.execute(_SUMMARIES, {"week": week, "ids": ids})
            }
            objects: list[tuple[str, bytes, str]] = []
            for task in tasks:
                row = summaries[task.account_id]
                summary = summary_json(row)
                account_inputs = inputs[task.account_id]
                json_key, html_key = weekly_keys(task.account_id, format_week(week))
                objects.append(
                    (
                        json_key,
                        render.render_json(
                            str(task.account_id), summary, account_inputs, row.version
                        ),
                        "application/json",
                    )
                )
                html = render.render_html(summary, account_inputs, task.timezone)
                objects.append((html_key, html.encode(), "text/html; charset=utf-8"))
                if _email_due(task):
                    emails.append(
                        _Email(task.account_id, week, task.email, summary, account_inputs)
                    )
            _put_all(pipeline.store, objects)
            db.execute(_MARK_REPORTED, {"week": week, "ids": ids})
            db.execute(_DONE, {"week": week, "ids": ids})
            stats.weeks.add(week)
            stats.accounts.update(ids)
            stats.summaries += len(ids)
            stats.reports += len(objects)
    return len(claimed), emails


def _email_due(task: Any) -> bool:
    if not task.weekly_email:
        return False
    # The regular run mails only about the latest final week; a backfill only when asked.
    return bool(task.is_latest_final and task.reason != "manual") or task.reason == MANUAL_EMAIL


def _put_all(store: ReportStore, objects: list[tuple[str, bytes, str]]) -> None:
    put_many = getattr(store, "put_many", None)
    if put_many is not None:
        put_many(objects)
        return
    for key, body, content_type in objects:
        store.put(key, body, content_type)


def _write_cohort(db: Session, store: ReportStore, week: date) -> None:
    """The anonymous cohort report of the week, rewritten from all stored summaries."""
    cohort = db.execute(
        text(
            """
            WITH s AS (SELECT * FROM weekly_summaries WHERE week = :week)
            SELECT
              (SELECT count(*) FROM s WHERE sessions > 0) AS accounts_active,
              (SELECT round(avg(CASE WHEN target_met THEN 1.0 ELSE 0.0 END), 2)
                 FROM s WHERE target > 0) AS share_meeting_target,
              (SELECT coalesce(jsonb_agg(r ORDER BY r.region), '[]'::jsonb) FROM (
                 SELECT e->>'region' AS region, sum((e->>'sessions')::int) AS sessions,
                        round(sum((e->>'mean_relief')::numeric * (e->>'sessions')::int)
                              / nullif(sum((e->>'sessions')::int), 0), 2) AS mean_relief
                 FROM s, jsonb_array_elements(s.by_region) e GROUP BY 1) r) AS by_region,
              (SELECT coalesce(jsonb_agg(t ORDER BY t.tool), '[]'::jsonb) FROM (
                 SELECT e->>'tool' AS tool, sum((e->>'sessions')::int) AS sessions,
                        round(sum((e->>'mean_relief')::numeric * (e->>'sessions')::int)
                              / nullif(sum((e->>'sessions')::int), 0), 2) AS mean_relief
                 FROM s, jsonb_array_elements(s.by_tool) e GROUP BY 1) t) AS by_tool
            """
        ),
        {"week": week},
    ).one()
    label = format_week(week)
    body = render.render_cohort(
        label,
        {
            "accounts_active": cohort.accounts_active,
            "share_meeting_target": _num(cohort.share_meeting_target),
            "by_region": cohort.by_region,
            "by_tool": cohort.by_tool,
        },
    )
    store.put(cohort_key(label), body, "application/json")


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _send_once(pipeline: Pipeline, email: _Email, stats: RunStats) -> None:
    with pipeline.database.session() as db:
        claimed = db.execute(
            _CLAIM_EMAIL, {"account_id": email.account_id, "week": email.week}
        ).first()
        secret = secret_key(db, pipeline.settings)
    if claimed is None:
        return  # sent (or being sent) by an earlier run, or the person opted out meanwhile
    base = pipeline.settings.public_base_url
    label = format_week(email.week)
    message = build_weekly_email(
        to=email.to,
        mail_from=pipeline.settings.mail_from,
        summary=email.summary,
        inputs=email.inputs,
        report_url=report_link(base, secret, email.account_id, label),
        unsubscribe_url=f"{base}/v1/unsubscribe?token={sign_unsubscribe(secret, email.account_id)}",
        chart=render.chart_png(email.inputs),
    )
    try:
        message_id = pipeline.mailer.send(message)
    except (ConnectionRefusedError, smtplib.SMTPConnectError) as exc:
        # Nothing left this machine: release the claim so the next run tries again.
        log.warning("SMTP unreachable for %s %s: %s; will retry", email.account_id, label, exc)
        _finish_email(pipeline, email, "release", None, str(exc))
        stats.email_failures += 1
        return
    except Exception as exc:
        # The message may have gone out: never resend; an operator looks at 'failed' rows.
        log.error("weekly email %s %s failed, not retried: %s", email.account_id, label, exc)
        _finish_email(pipeline, email, "failed", None, str(exc))
        stats.email_failures += 1
        return
    _finish_email(pipeline, email, "sent", message_id, None)
    stats.emails += 1


def _finish_email(
    pipeline: Pipeline, email: _Email, status: str, message_id: str | None, error: str | None
) -> None:
    params = {"account_id": email.account_id, "week": email.week}
    with pipeline.database.session() as db:
        if status == "release":
            db.execute(
                text("DELETE FROM weekly_emails WHERE account_id = :account_id AND week = :week"),
                params,
            )
            return
        db.execute(
            text(
                """UPDATE weekly_emails SET status = :status, message_id = :message_id,
                          error = :error, sent_at = CASE WHEN :sent THEN now() END
                   WHERE account_id = :account_id AND week = :week"""
            ),
            {
                **params,
                "status": status,
                "sent": status == "sent",
                "message_id": message_id,
                "error": (error or "")[:500] or None,
            },
        )


def stuck_email_claims(db: Session) -> int:
    """Claims older than an hour still 'sending': a crash mid-send; alert, never resend."""
    return int(
        db.execute(
            text(
                "SELECT count(*) FROM weekly_emails "
                "WHERE status = 'sending' AND claimed_at < now() - interval '1 hour'"
            )
        ).scalar_one()
    )
