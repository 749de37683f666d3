"""What a weekly run needs (Pipeline) and what it did (RunStats)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date

from core.database import Database
from core.mail import Mailer
from core.reports.store import ReportStore
from core.settings import Settings
from jobs.render_pool import Renderer


@dataclass
class Pipeline:
    """Built once per process; close() stops its render workers."""

    database: Database
    settings: Settings
    store: ReportStore
    mailer: Mailer
    renderer: Renderer = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.settings.render_processes)

    def close(self) -> None:
        self.renderer.close()


@dataclass(frozen=True)
class SendResult:
    """What became of one batch of emails."""

    sent: int = 0
    failed: int = 0  # may have left: never retried
    not_sent: int = 0  # certainly did not leave: still pending for the next pass

    def __add__(self, other: SendResult) -> SendResult:
        return SendResult(
            self.sent + other.sent, self.failed + other.failed, self.not_sent + other.not_sent
        )


@dataclass
class RunStats:
    accounts: set[uuid.UUID] = field(default_factory=set)
    weeks: set[date] = field(default_factory=set)
    summaries: int = 0
    reports: int = 0
    emails: int = 0
    email_failures: int = 0
    # Steps that failed: a report batch rolled back, an email batch cut short, a cohort
    # report not written, the run unable to start. Any of them: the run exits 1.
    failed_batches: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def add_sends(self, result: SendResult) -> None:
        self.emails += result.sent
        self.email_failures += result.failed + result.not_sent

    def line(self) -> str:
        return (
            f"{len(self.accounts)} accounts, {self.summaries} summaries, {self.reports} report "
            f"objects written, {self.emails} emails sent ({self.email_failures} failed), "
            f"{self.seconds:.1f} s"
            + (
                f"; {self.failed_batches} step(s) failed (see the log), their work stays "
                "queued for the next run"
                if self.failed_batches
                else ""
            )
        )
