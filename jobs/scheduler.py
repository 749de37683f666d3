"""APScheduler wiring only: which job runs how often. Jobs keep no state here.

Every clock process runs the same jobs; claims in PostgreSQL (jobs/weekly.py for the
weeks, jobs/weekly_email.py for the emails)
decide who does what, so running several clocks is safe and only adds capacity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import start_http_server

from core.database import Database
from core.mail import open_mailer
from core.reports.store import open_store
from core.settings import Settings
from jobs.maintenance import purge_old_audit_events, purge_old_tombstones
from jobs.pipeline import Pipeline, RunStats
from jobs.weekly import weekly_pass

log = logging.getLogger(__name__)

WEEKLY_EVERY_MINUTES = 5
PURGE_EVERY_HOURS = 6


def build_pipeline(database: Database, settings: Settings) -> Pipeline:
    return Pipeline(database, settings, open_store(settings), open_mailer(settings))


def run_clock(database: Database, settings: Settings, *, once: bool = False) -> int:
    """Run the scheduler forever, or one pass (`once`): then 1 if work failed, else 0."""
    pipeline = build_pipeline(database, settings)
    try:
        return _run_jobs(database, settings, pipeline, once=once)
    finally:
        pipeline.close()  # the render workers


def _guarded(name: str, job: Callable[[], object]) -> Callable[[], bool]:
    """The job, logged instead of raised when it fails (the database down, say): a clock
    outlives a bad tick, and `--once` exits 1. True when the job did all its work."""

    def run() -> bool:
        try:
            result = job()
        except Exception as exc:
            log.error(
                "clock job %s failed; it runs again next time",
                name,
                extra={"event": "clock.job_failed", "job": name, "error": type(exc).__name__},
            )
            return False
        return not (isinstance(result, RunStats) and result.failed_batches)

    return run


def _run_jobs(database: Database, settings: Settings, pipeline: Pipeline, *, once: bool) -> int:
    if settings.clock_metrics_port and not once:
        # Each clock serves its own figures; the web's /metrics cannot see this process.
        start_http_server(settings.clock_metrics_port)
    jobs: list[tuple[Callable[[], bool], dict[str, int]]] = [
        (_guarded("weekly", lambda: weekly_pass(pipeline)), {"minutes": WEEKLY_EVERY_MINUTES}),
        (
            _guarded("purge_tombstones", lambda: purge_old_tombstones(database, settings)),
            {"hours": PURGE_EVERY_HOURS},
        ),
        (
            _guarded("purge_audit_events", lambda: purge_old_audit_events(database, settings)),
            {"hours": PURGE_EVERY_HOURS},
        ),
    ]
    if once:
        succeeded = [job() for job, _interval in jobs]
        return 0 if all(succeeded) else 1
    scheduler = BlockingScheduler(timezone="UTC")
    for job, interval in jobs:
        # coalesce + max_instances=1: a slow pass is never stacked on itself in one process
        scheduler.add_job(job, "interval", coalesce=True, max_instances=1, **interval)
    log.info("clock started: weekly pass every %d min", WEEKLY_EVERY_MINUTES)
    for job, _interval in jobs:
        job()  # do not wait a full interval after a (re)start
    scheduler.start()
    return 0
