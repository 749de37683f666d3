"""APScheduler wiring only: which job runs how often. Jobs keep no state here.

Every clock process runs the same jobs; claims in PostgreSQL (jobs/weekly.py)
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


def _run_jobs(database: Database, settings: Settings, pipeline: Pipeline, *, once: bool) -> int:
    if settings.clock_metrics_port and not once:
        # Each clock serves its own figures; the web's /metrics cannot see this process.
        start_http_server(settings.clock_metrics_port)
    jobs: list[tuple[Callable[[], object], dict[str, int]]] = [
        (lambda: weekly_pass(pipeline), {"minutes": WEEKLY_EVERY_MINUTES}),
        (lambda: purge_old_tombstones(database, settings), {"hours": PURGE_EVERY_HOURS}),
        (lambda: purge_old_audit_events(database, settings), {"hours": PURGE_EVERY_HOURS}),
    ]
    if once:
        results = [job() for job, _interval in jobs]
        return 1 if any(isinstance(r, RunStats) and r.failed_batches for r in results) else 0
    scheduler = BlockingScheduler(timezone="UTC")
    for job, interval in jobs:
        # coalesce + max_instances=1: a slow pass is never stacked on itself in one process
        scheduler.add_job(job, "interval", coalesce=True, max_instances=1, **interval)
    log.info("clock started: weekly pass every %d min", WEEKLY_EVERY_MINUTES)
    for job, _interval in jobs:
        job()  # do not wait a full interval after a (re)start
    scheduler.start()
    return 0
