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

Reports and emails are drawn by render workers (jobs/render_pool.py); the email
bookkeeping is in jobs/weekly_email.py; one sender thread mails while the next
batch is drawn.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from core import telemetry
from core.metrics.weekly import compute_week, report_inputs, stored_summaries
from core.reports import render
from core.reports.bundle import ReportJob
from core.reports.store import ReportStore, cohort_key, weekly_keys
from core.services.week_tasks import LATEST_FINAL_WEEK, MANUAL_EMAIL, enqueue_final_weeks
from core.signing import secret_key
from core.weeks import format_week
from jobs.pipeline import Pipeline, RunStats, SendResult
from jobs.weekly_email import (
    EmailDue,
    email_spec,
    record_due,
    record_undeliverable,
    send_batch,
    send_left_pending,
)

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
_MARK_REPORTED = text(
    "UPDATE weekly_summaries SET reported_version = version "
    "WHERE week = :week AND account_id = ANY(:ids)"
)
_DONE = text("DELETE FROM week_tasks WHERE week = :week AND account_id = ANY(:ids)")


_Object = tuple[str, bytes, str]  # key, body, content type

# Batches whose emails may wait for the sender thread: the run stays this far ahead of
# SMTP and no further, so memory stays flat however slow the mail server is.
_SEND_AHEAD = 2


def weekly_pass(pipeline: Pipeline, *, batch_size: int = 200) -> RunStats:
    """One clock tick: queue newly final weeks, then work through every pending task."""
    try:
        with pipeline.database.session() as db:
            queued = enqueue_final_weeks(db)
    except Exception as exc:  # the database down: this tick fails, the next one tries again
        stats = RunStats()
        _failed(stats, "weekly pass could not queue the final weeks", "queue", exc)
        _record(stats)
        return stats
    log.info("queued newly final weeks", extra={"event": "weekly.queue", "queued": queued})
    return process_tasks(pipeline, batch_size=batch_size)


def process_tasks(
    pipeline: Pipeline,
    *,
    batch_size: int = 200,
    on_batch: Callable[[int], None] | None = None,
) -> RunStats:
    """Work through the queued weeks in batches, then write each week's cohort report.

    Never raises for S3, SMTP or the database being down: what failed is logged,
    counted in `failed_batches` and stays queued (or pending) for the next run."""
    stats = RunStats()
    try:
        _process_tasks(pipeline, batch_size, on_batch, stats)
    except Exception as exc:  # before any batch: the database down at the start
        _failed(stats, "weekly run could not start", "run", exc)
    finally:
        # Workers live for one run: a clock idles between passes without them.
        pipeline.renderer.close()
    # Once per week and run, not per batch: it aggregates every account's summary.
    for week in sorted(stats.weeks):
        try:
            with pipeline.database.session() as db:
                _write_cohort(db, pipeline.store, week)
        except Exception as exc:  # the store or the database down: the run fails, loudly
            # The next run that touches this week writes it again (or `knotlog weekly`).
            _failed(stats, "cohort report not written", "cohort", exc, week=format_week(week))
        else:
            stats.reports += 1
    _record(stats)
    return stats


def _process_tasks(
    pipeline: Pipeline,
    batch_size: int,
    on_batch: Callable[[int], None] | None,
    stats: RunStats,
) -> None:
    # In a short transaction of its own: created on first use, and others may need it.
    with pipeline.database.session() as db:
        secret = secret_key(db, pipeline.settings)
    # Left by an earlier run (a crash after its batch, or SMTP down): sent first.
    _collect_sends(stats, lambda: send_left_pending(pipeline, secret, batch_size))
    # Emails go out from one sender thread while the next batch is drawn and uploaded;
    # they are recorded as pending in their batch's transaction, so nothing waits on them.
    with ThreadPoolExecutor(1, thread_name_prefix="weekly-email") as sender:
        sending: list[Future[SendResult]] = []
        while True:
            try:
                batch = _process_batch(pipeline, secret, batch_size, stats)
            except Exception as exc:  # S3 or the database down past their retries, or a bug
                # The batch rolled back and its tasks stay queued: the next pass resumes there.
                msg = "weekly batch failed, its tasks stay queued for the next pass"
                _failed(stats, msg, "batch", exc)
                break
            if batch is None:
                break
            done, emails = batch
            if emails:
                while len(sending) >= _SEND_AHEAD:
                    _collect_sends(stats, sending.pop(0).result)
                sending.append(sender.submit(send_batch, pipeline, emails))
            if on_batch is not None:
                on_batch(done)
        for future in sending:
            _collect_sends(stats, future.result)


def _failed(stats: RunStats, message: str, kind: str, exc: Exception, **fields: str) -> None:
    """A step of the run failed: logged (the error's kind only), counted, the run exits 1."""
    extra = {"event": f"weekly.{kind}_failed", "error": type(exc).__name__, **fields}
    log.error(message, extra=extra)
    stats.failed_batches += 1
    telemetry.WEEKLY_FAILURES.labels(kind=kind).inc()


def _collect_sends(stats: RunStats, sends: Callable[[], SendResult]) -> None:
    """Count a batch of sends; one that broke off (the database or a render worker gone)
    fails the run, and the emails it did not claim stay pending for the next pass."""
    try:
        stats.add_sends(sends())
    except Exception as exc:
        msg = "weekly emails broke off; the unclaimed ones stay pending for the next pass"
        _failed(stats, msg, "email_batch", exc)


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
    pipeline: Pipeline, secret: str, batch_size: int, stats: RunStats
) -> tuple[int, list[EmailDue]] | None:
    """Claim, summarise, report and finish one batch in one transaction; return emails due.

    Counted into `stats` only once the transaction has committed."""
    emails: list[EmailDue] = []
    undeliverable: list[tuple[Any, str]] = []
    done = RunStats()
    started = time.monotonic()
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
            summaries = stored_summaries(db, week, ids)
            jobs = [
                ReportJob.of(
                    summaries[task.account_id],
                    inputs[task.account_id],
                    task.timezone,
                    email_spec(pipeline.settings, secret, task.account_id, task.email, week)
                    if _email_due(task)
                    else None,
                )
                for task in tasks
            ]
            # Uploads start as each report is drawn, overlapping the drawing of the next.
            written = pipeline.store.put_many(_reports(pipeline, week, jobs, emails, undeliverable))
            due = [e.account_id for e in emails if e.week == week]
            record_due(db, week, due)
            record_undeliverable(db, week, undeliverable)
            done.email_failures += len(undeliverable)
            undeliverable.clear()
            db.execute(_MARK_REPORTED, {"week": week, "ids": ids})
            db.execute(_DONE, {"week": week, "ids": ids})
            done.weeks.add(week)
            done.accounts.update(ids)
            done.summaries += len(ids)
            done.reports += written
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
    stats.weeks.update(done.weeks)
    stats.accounts.update(done.accounts)
    stats.summaries += done.summaries
    stats.reports += done.reports
    stats.email_failures += done.email_failures
    return len(claimed), emails


def _reports(
    pipeline: Pipeline,
    week: date,
    jobs: Sequence[ReportJob],
    emails: list[EmailDue],
    undeliverable: list[tuple[Any, str]],
) -> Iterator[_Object]:
    """Each job's JSON and HTML report as it is drawn; the emails due go to `emails`, the
    ones that could not be built (an unusable address) to `undeliverable`."""
    for job, rendered in zip(jobs, pipeline.renderer.render(jobs), strict=True):
        json_key, html_key = weekly_keys(job.account_id, format_week(week))
        assert rendered.json_body is not None and rendered.html_body is not None
        yield json_key, rendered.json_body, "application/json"
        yield html_key, rendered.html_body, "text/html; charset=utf-8"
        if rendered.email is not None:
            emails.append(EmailDue(job.account_id, week, rendered.email))
        elif rendered.email_error is not None:
            undeliverable.append((job.account_id, rendered.email_error))


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
