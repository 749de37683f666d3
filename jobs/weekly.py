"""The weekly run: summarise final and stale weeks, write their reports, send the email once.

Work lives in the `week_tasks` table, never in the scheduler. A runner claims a
batch with FOR UPDATE SKIP LOCKED, so any number of clocks share the work; it
computes the batch's summaries set-based, writes the report objects under
deterministic keys and deletes the tasks in one transaction. A runner that dies
mid-batch leaves its tasks to the next one, which rewrites the same keys.
An email due is recorded as a 'pending' row of `weekly_emails` in the same
transaction, so a crash after it cannot lose it: every run sends what is pending.
Each is claimed ('pending' -> 'sending', committed) right before its send, and a
claim is never retried once the message may have left: at most one email.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core import telemetry
from core.database import Database
from core.mail import FAILED, NOT_SENT, SENT, SKIPPED, Mailer, Outgoing
from core.metrics.weekly import compute_week, report_inputs, summary_json
from core.reports import render
from core.reports.bundle import EmailSpec, ReportJob
from core.reports.store import ReportStore, cohort_key, weekly_keys
from core.services.week_tasks import LATEST_FINAL_WEEK, MANUAL_EMAIL, enqueue_final_weeks
from core.settings import Settings
from core.signing import report_link, secret_key, sign_unsubscribe
from core.weeks import format_week
from jobs.render_pool import Renderer

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


_Object = tuple[str, bytes, str]  # key, body, content type


# Batches whose emails may wait for the sender thread: the run stays this far ahead of
# SMTP and no further, so memory stays flat however slow the mail server is.
_SEND_AHEAD = 2


@dataclass
class Pipeline:
    """What a run needs; built once per process, closed when the process is done."""

    database: Database
    settings: Settings
    store: ReportStore
    mailer: Mailer
    renderer: Renderer = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.settings.render_processes)

    def close(self) -> None:
        self.renderer.close()


@dataclass
class RunStats:
    accounts: set[uuid.UUID] = field(default_factory=set)
    weeks: set[date] = field(default_factory=set)
    summaries: int = 0
    reports: int = 0
    emails: int = 0
    email_failures: int = 0
    failed_batches: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        return (
            f"{len(self.accounts)} accounts, {self.summaries} summaries, {self.reports} report "
            f"objects written, {self.emails} emails sent ({self.email_failures} failed), "
            f"{self.seconds:.1f} s"
            + ("; a batch failed and stays queued" if self.failed_batches else "")
        )


@dataclass
class _Email:
    account_id: uuid.UUID
    week: date
    message: Outgoing


def weekly_pass(pipeline: Pipeline, *, batch_size: int = 200) -> RunStats:
    """One clock tick: queue newly final weeks, then work through every pending task."""
    with pipeline.database.session() as db:
        queued = enqueue_final_weeks(db)
    log.info("queued newly final weeks", extra={"event": "weekly.queue", "queued": queued})
    return process_tasks(pipeline, batch_size=batch_size)


def process_tasks(
    pipeline: Pipeline,
    *,
    batch_size: int = 200,
    on_batch: Callable[[int], None] | None = None,
) -> RunStats:
    stats = RunStats()
    # Left by an earlier run (a crash after its batch, or SMTP down): sent first.
    _send_pending_emails(pipeline, stats, batch_size)
    # Emails go out from one sender thread while the next batch is drawn and uploaded;
    # they are recorded as pending in their batch's transaction, so nothing waits on them.
    with ThreadPoolExecutor(1, thread_name_prefix="weekly-email") as sender:
        sending: list[Future[int]] = []
        while True:
            try:
                batch = _process_batch(pipeline, batch_size, stats)
            except Exception as exc:  # S3 or the database down past their retries, or a bug
                # The batch rolled back and its tasks stay queued: the next pass resumes there.
                log.error(
                    "weekly batch failed, its tasks stay queued for the next pass",
                    extra={"event": "weekly.batch_failed", "error": type(exc).__name__},
                )
                stats.failed_batches += 1
                telemetry.WEEKLY_FAILURES.labels(kind="batch").inc()
                break
            if batch is None:
                break
            done, emails = batch
            if emails:
                while len(sending) >= _SEND_AHEAD:
                    sending.pop(0).result()
                sending.append(sender.submit(_send_batch, pipeline, emails, stats))
            if on_batch is not None:
                on_batch(done)
        for future in sending:
            future.result()  # a failure to claim (database down) ends the run as before
    # Once per week and run, not per batch: it aggregates every account's summary.
    for week in sorted(stats.weeks):
        with pipeline.database.session() as db:
            _write_cohort(db, pipeline.store, week)
        stats.reports += 1
    _record(stats)
    return stats


def _record(stats: RunStats) -> None:
    """The run's one log line and its metrics."""
    log.info(
        "weekly run: %s",
        stats.line(),
        extra={
            "event": "weekly.run",
            "accounts": len(stats.accounts),
            "summaries": stats.summaries,
            "reports": stats.reports,
            "emails_sent": stats.emails,
            "email_failures": stats.email_failures,
            "failed_batches": stats.failed_batches,
            "seconds": round(stats.seconds, 3),
        },
    )
    telemetry.WEEKLY_RUNS.labels(outcome="failed" if stats.failed_batches else "ok").inc()
    telemetry.WEEKLY_RUN_SECONDS.observe(stats.seconds)
    telemetry.WEEKLY_SUMMARIES.inc(stats.summaries)
    telemetry.WEEKLY_REPORTS.inc(stats.reports)
    telemetry.WEEKLY_EMAILS.labels(outcome="sent").inc(stats.emails)
    telemetry.WEEKLY_EMAILS.labels(outcome="failed").inc(stats.email_failures)
    telemetry.WEEKLY_FAILURES.labels(kind="email").inc(stats.email_failures)


def _process_batch(
    pipeline: Pipeline, batch_size: int, stats: RunStats
) -> tuple[int, list[_Email]] | None:
    """Claim, summarise, report and finish one batch in one transaction; return emails due."""
    emails: list[_Email] = []
    started = time.monotonic()
    with pipeline.database.session() as db:
        claimed = db.execute(_CLAIM, {"limit": batch_size}).all()
        if not claimed:
            return None
        by_week: dict[date, list[Any]] = defaultdict(list)
        for task in claimed:
            by_week[task.week].append(task)
        secret = secret_key(db, pipeline.settings)
        for week, tasks in sorted(by_week.items()):
            ids = [t.account_id for t in tasks]
            compute_week(db, week, ids)
            inputs = report_inputs(db, week, ids)
            summaries = {
                row.account_id: row for row in db.execute(_SUMMARIES, {"week": week, "ids": ids})
            }
            jobs = [
                ReportJob(
                    task.account_id,
                    summaries[task.account_id].version,
                    task.timezone,
                    summary_json(summaries[task.account_id]),
                    inputs[task.account_id],
                    _email_spec(pipeline.settings, secret, task.account_id, task.email, week)
                    if _email_due(task)
                    else None,
                )
                for task in tasks
            ]
            # Uploads start as each report is drawn, overlapping the drawing of the next.
            written = pipeline.store.put_many(_reports(pipeline, week, jobs, emails))
            due = [e.account_id for e in emails if e.week == week]
            if due:
                db.execute(_EMAIL_DUE, {"week": week, "ids": due})
            db.execute(_MARK_REPORTED, {"week": week, "ids": ids})
            db.execute(_DONE, {"week": week, "ids": ids})
            stats.weeks.add(week)
            stats.accounts.update(ids)
            stats.summaries += len(ids)
            stats.reports += written
            log.info(
                "weekly batch",
                extra={
                    "event": "weekly.batch",
                    "week": format_week(week),
                    "accounts": len(ids),
                    "objects": written,
                    "emails_due": len(due),
                    "seconds": round(time.monotonic() - started, 3),
                },
            )
    return len(claimed), emails


def _reports(
    pipeline: Pipeline, week: date, jobs: Sequence[ReportJob], emails: list[_Email]
) -> Iterator[_Object]:
    """Each job's JSON and HTML report as it is drawn; the emails due go to `emails`."""
    for job, rendered in zip(jobs, pipeline.renderer.render(jobs), strict=True):
        json_key, html_key = weekly_keys(job.account_id, format_week(week))
        assert rendered.json_body is not None and rendered.html_body is not None
        yield json_key, rendered.json_body, "application/json"
        yield html_key, rendered.html_body, "text/html; charset=utf-8"
        if rendered.email is not None:
            emails.append(_Email(job.account_id, week, rendered.email))


def _email_spec(
    settings: Settings, secret: str, account_id: uuid.UUID, to: str, week: date
) -> EmailSpec:
    base = settings.public_base_url
    return EmailSpec(
        to=to,
        mail_from=settings.mail_from,
        report_url=report_link(base, secret, account_id, format_week(week)),
        unsubscribe_url=f"{base}/v1/unsubscribe?token={sign_unsubscribe(secret, account_id)}",
    )


def _email_due(task: Any) -> bool:
    if not task.weekly_email:
        return False
    # The regular run mails only about the latest final week; a backfill only when asked.
    return bool(task.is_latest_final and task.reason != "manual") or task.reason == MANUAL_EMAIL


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


_EMAIL_DUE = text(
    """
    INSERT INTO weekly_emails (account_id, week, status)
    SELECT unnest(CAST(:ids AS uuid[])), :week, 'pending'
    ON CONFLICT (account_id, week) DO NOTHING
    """
)
_STILL_PENDING = text(
    """
    SELECT e.account_id, e.week FROM weekly_emails e
    JOIN unnest(CAST(:ids AS uuid[]), CAST(:weeks AS date[])) AS c(account_id, week)
      ON e.account_id = c.account_id AND e.week = c.week
    WHERE e.status = 'pending'
    """
)
_LEFT_PENDING = text(
    """
    SELECT e.account_id, e.week, a.email FROM weekly_emails e
    JOIN accounts a ON a.id = e.account_id
    WHERE e.status = 'pending' AND (e.week, e.account_id) > (:after_week, :after_id)
    ORDER BY e.week, e.account_id
    LIMIT :limit
    """
)
# Right before the send: only one runner turns a row from pending to sending. Someone
# who turned the email off since is skipped.
_CLAIM_EMAIL = text(
    """
    UPDATE weekly_emails e
    SET status = CASE WHEN a.weekly_email THEN 'sending' ELSE 'skipped' END, claimed_at = now()
    FROM accounts a
    WHERE a.id = e.account_id AND e.account_id = :account_id AND e.week = :week
      AND e.status = 'pending'
    RETURNING e.status
    """
)
_MARK_EMAILS = text(
    """
    UPDATE weekly_emails e
    SET status = d.status, message_id = d.message_id, error = left(d.error, 500),
        sent_at = CASE WHEN d.status = 'sent' THEN now() END
    FROM unnest(CAST(:ids AS uuid[]), CAST(:weeks AS date[]), CAST(:statuses AS text[]),
                CAST(:message_ids AS text[]), CAST(:errors AS text[]))
         AS d(account_id, week, status, message_id, error)
    WHERE e.account_id = d.account_id AND e.week = d.week
    """
)


def _send_pending_emails(pipeline: Pipeline, stats: RunStats, batch_size: int) -> None:
    """Send the emails an earlier run recorded as due but did not send, rebuilt from the
    stored summaries. Stops at the first batch SMTP refuses: the next pass tries again."""
    after: tuple[date, uuid.UUID] = (date.min, uuid.UUID(int=0))
    while True:
        with pipeline.database.session() as db:
            rows = db.execute(
                _LEFT_PENDING,
                {"after_week": after[0], "after_id": after[1], "limit": batch_size},
            ).all()
            if not rows:
                return
            after = (rows[-1].week, rows[-1].account_id)
            secret = secret_key(db, pipeline.settings)
            jobs: list[tuple[date, ReportJob]] = []
            for week in sorted({row.week for row in rows}):
                ids = [row.account_id for row in rows if row.week == week]
                summaries = {
                    s.account_id: s for s in db.execute(_SUMMARIES, {"week": week, "ids": ids})
                }
                inputs = report_inputs(db, week, ids)
                jobs.extend(
                    (
                        week,
                        ReportJob(
                            row.account_id,
                            summaries[row.account_id].version,
                            "UTC",  # only the email is drawn, which shows no time zone
                            summary_json(summaries[row.account_id]),
                            inputs[row.account_id],
                            _email_spec(pipeline.settings, secret, row.account_id, row.email, week),
                            with_reports=False,
                        ),
                    )
                    for row in rows
                    if row.week == week and row.account_id in summaries
                )
        drawn = pipeline.renderer.render([job for _week, job in jobs])
        emails = [
            _Email(job.account_id, week, rendered.email)
            for (week, job), rendered in zip(jobs, drawn, strict=True)
            if rendered.email is not None
        ]
        if _send_batch(pipeline, emails, stats):
            return


def _send_batch(pipeline: Pipeline, emails: list[_Email], stats: RunStats) -> int:
    """Send over one connection, claiming each email (committed) right before its send;
    return how many SMTP certainly did not take (they stay pending for the next pass).

    Never two emails per (account, week): a claim whose message may have left is never
    released. A crash loses at most the one message in flight.
    """
    with pipeline.database.session() as db:
        keys = {"ids": [e.account_id for e in emails], "weeks": [e.week for e in emails]}
        pending = {(row.account_id, row.week) for row in db.execute(_STILL_PENDING, keys)}
    due = [e for e in emails if (e.account_id, e.week) in pending]
    if not due:
        return 0  # sent (or being sent) by another run
    messages = [email.message for email in due]

    def claim(position: int) -> bool:
        email = due[position]
        with pipeline.database.session() as db:
            status = db.execute(
                _CLAIM_EMAIL, {"account_id": email.account_id, "week": email.week}
            ).scalar()
        return status == "sending"  # else another run has it, or the person opted out

    deliveries = pipeline.mailer.send_many(messages, claim)
    log.info(
        "weekly emails",
        extra={
            "event": "weekly.emails",
            "due": len(due),
            "sent": sum(1 for d in deliveries if d.outcome == SENT),
            "skipped": sum(1 for d in deliveries if d.outcome == SKIPPED),
        },
    )
    recorded = [(e, d) for e, d in zip(due, deliveries, strict=True) if d.outcome in (SENT, FAILED)]
    with pipeline.database.session() as db:
        if recorded:
            db.execute(
                _MARK_EMAILS,
                {
                    "ids": [e.account_id for e, _ in recorded],
                    "weeks": [e.week for e, _ in recorded],
                    "statuses": [d.outcome for _, d in recorded],
                    "message_ids": [d.message_id for _, d in recorded],
                    "errors": [d.error for _, d in recorded],
                },
            )
    for email, delivery in zip(due, deliveries, strict=True):
        if delivery.outcome == SENT:
            stats.emails += 1
        elif delivery.outcome != SKIPPED:
            stats.email_failures += 1
            fate = "stays pending" if delivery.outcome == NOT_SENT else "failed, not retried"
            log.warning(
                "weekly email %s",
                fate,
                extra={
                    "event": "weekly.email_failed",
                    "account_id": str(email.account_id),
                    "week": format_week(email.week),
                    # Only the kind: an SMTP error's text can carry the recipient's address.
                    "error": (delivery.error or "").split("(", 1)[0][:80],
                },
            )
    return sum(1 for d in deliveries if d.outcome == NOT_SENT)
