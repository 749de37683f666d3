"""APScheduler wiring only: which job runs how often. Jobs keep no state here."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from core.database import Database
from core.settings import Settings
from jobs.maintenance import purge_old_tombstones

log = logging.getLogger(__name__)


def run_clock(database: Database, settings: Settings, *, once: bool = False) -> None:
    jobs = [(purge_old_tombstones, {"hours": 6})]
    if once:
        for job, _interval in jobs:
            job(database, settings)
        return
    scheduler = BlockingScheduler(timezone="UTC")
    for job, interval in jobs:
        scheduler.add_job(
            job, "interval", args=(database, settings), coalesce=True, max_instances=1, **interval
        )
    log.info("clock started")
    scheduler.start()
