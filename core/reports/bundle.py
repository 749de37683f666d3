"""Everything drawn for one (account, week): the JSON report, the HTML page and the email.

Plain data in, bytes out, with no database or network: a job can run in another
process (jobs/render_pool.py), and the chart is drawn once for both page and email.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from core.mail import Outgoing, build_weekly_email, unusable_recipient
from core.metrics.weekly import summary_json
from core.reports import render


@dataclass(frozen=True)
class EmailSpec:
    """What the Monday email needs beyond the report (links signed by the caller)."""

    to: str
    mail_from: str
    report_url: str
    unsubscribe_url: str


@dataclass(frozen=True)
class ReportJob:
    account_id: uuid.UUID
    version: int
    timezone: str
    summary: dict[str, Any]  # summary_json() of the stored row
    inputs: dict[str, Any]  # report_inputs() of the account
    email: EmailSpec | None = None
    with_reports: bool = True  # False: only the email (one left pending by an earlier run)

    @classmethod
    def of(
        cls,
        stored: Any,
        inputs: dict[str, Any],
        timezone: str,
        email: EmailSpec | None,
        *,
        with_reports: bool = True,
    ) -> ReportJob:
        """The job for a stored weekly_summaries row and its report_inputs()."""
        return cls(
            stored.account_id,
            stored.version,
            timezone,
            summary_json(stored),
            inputs,
            email,
            with_reports,
        )


@dataclass(frozen=True)
class Rendered:
    json_body: bytes | None
    html_body: bytes | None
    email: Outgoing | None
    email_error: str | None = None  # the email could not be built: the reports still stand


def render_job(job: ReportJob) -> Rendered:
    # Here, not at the top: the clock imports the job types without drawing (its workers
    # draw), and matplotlib costs ~45 MB in every process that loads it.
    from core.reports.chart import chart_png

    chart = chart_png(job.inputs)
    json_body = html_body = None
    if job.with_reports:
        json_body = render.render_json(str(job.account_id), job.summary, job.inputs, job.version)
        html_body = render.render_html(job.summary, job.inputs, job.timezone, chart).encode()
    if job.email is None:
        return Rendered(json_body, html_body, None)
    # One account's unusable address fails its email only; any other error (a bad
    # MAIL_FROM, a bug) fails the batch, which rolls back and is retried.
    problem = unusable_recipient(job.email.to)
    if problem is not None:
        return Rendered(json_body, html_body, None, problem)
    message = build_weekly_email(
        to=job.email.to,
        mail_from=job.email.mail_from,
        summary=job.summary,
        inputs=job.inputs,
        report_url=job.email.report_url,
        unsubscribe_url=job.email.unsubscribe_url,
        chart=chart,
    )
    return Rendered(json_body, html_body, Outgoing.from_message(message))
