"""The Monday email's bookkeeping: recorded as due, claimed right before its send, marked.

At most one email per (account, week): an email due is a 'pending' row of
`weekly_emails`, written in its batch's transaction. Each is claimed ('pending'
-> 'sending', committed) right before its send and never released once the
message may have left, so a crash loses at most the one message in flight.
Emails an earlier run left pending are drawn again and sent by the next run.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.mail import FAILED, NOT_SENT, SENT, SKIPPED, Outgoing
from core.metrics.weekly import report_inputs, stored_summaries
from core.reports.bundle import EmailSpec, ReportJob
from core.settings import Settings
from core.signing import report_link, sign_unsubscribe
from core.weeks import format_week
from jobs.pipeline import Pipeline, SendResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailDue:
    account_id: uuid.UUID
    week: date
    message: Outgoing


_RECORD_DUE = text(
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


def email_spec(
    settings: Settings, secret: str, account_id: uuid.UUID, to: str, week: date
) -> EmailSpec:
    """The recipient and the signed links of one weekly email."""
    base = settings.public_base_url
    return EmailSpec(
        to=to,
        mail_from=settings.mail_from,
        report_url=report_link(base, secret, account_id, format_week(week)),
        unsubscribe_url=f"{base}/v1/unsubscribe?token={sign_unsubscribe(secret, account_id)}",
    )


def record_due(db: Session, week: date, account_ids: list[uuid.UUID]) -> None:
    """In the batch's transaction: these emails are owed, whatever happens next."""
    if account_ids:
        db.execute(_RECORD_DUE, {"week": week, "ids": account_ids})


_RECORD_UNDELIVERABLE = text(
    """
    INSERT INTO weekly_emails (account_id, week, status, error)
    SELECT unnest(CAST(:ids AS uuid[])), :week, 'failed', unnest(CAST(:errors AS text[]))
    ON CONFLICT (account_id, week) DO UPDATE SET status = 'failed', error = EXCLUDED.error
    WHERE weekly_emails.status = 'pending'  -- never over one sent or being sent
    """
)


def record_undeliverable(db: Session, week: date, failures: list[tuple[uuid.UUID, str]]) -> None:
    """In the batch's transaction: emails that could not even be built, kept as failed
    (never retried) so they show, instead of failing everyone else's reports."""
    if failures:
        db.execute(
            _RECORD_UNDELIVERABLE,
            {"week": week, "ids": [a for a, _ in failures], "errors": [e for _, e in failures]},
        )
        log.warning(
            "weekly emails could not be built",
            extra={
                "event": "weekly.email_unbuildable",
                "week": format_week(week),
                "count": len(failures),
            },
        )


def send_left_pending(pipeline: Pipeline, secret: str, batch_size: int) -> SendResult:
    """Send the emails an earlier run recorded as due but did not send, drawn again from
    the stored summaries. Stops at the first batch SMTP refuses: the next pass tries again."""
    total = SendResult()
    after: tuple[date, uuid.UUID] = (date.min, uuid.UUID(int=0))
    while True:
        with pipeline.database.session() as db:
            rows = db.execute(
                _LEFT_PENDING,
                {"after_week": after[0], "after_id": after[1], "limit": batch_size},
            ).all()
            if not rows:
                return total
            after = (rows[-1].week, rows[-1].account_id)
            jobs: list[tuple[date, ReportJob]] = []
            for week in sorted({row.week for row in rows}):
                ids = [row.account_id for row in rows if row.week == week]
                summaries = stored_summaries(db, week, ids)
                inputs = report_inputs(db, week, ids)
                jobs.extend(
                    (
                        week,
                        ReportJob.of(
                            summaries[row.account_id],
                            inputs[row.account_id],
                            "UTC",  # only the email is drawn, which shows no time zone
                            email_spec(pipeline.settings, secret, row.account_id, row.email, week),
                            with_reports=False,
                        ),
                    )
                    for row in rows
                    if row.week == week and row.account_id in summaries
                )
        emails: list[EmailDue] = []
        undeliverable: dict[date, list[tuple[uuid.UUID, str]]] = defaultdict(list)
        drawn = pipeline.renderer.render([job for _week, job in jobs])
        for (week, job), rendered in zip(jobs, drawn, strict=True):
            if rendered.email is not None:
                emails.append(EmailDue(job.account_id, week, rendered.email))
            elif rendered.email_error is not None:
                undeliverable[week].append((job.account_id, rendered.email_error))
        if undeliverable:
            with pipeline.database.session() as db:
                for week, failures in undeliverable.items():
                    record_undeliverable(db, week, failures)
        unbuildable = sum(len(failures) for failures in undeliverable.values())
        result = send_batch(pipeline, emails)
        total += result + SendResult(failed=unbuildable)
        if result.not_sent:
            return total


def send_batch(pipeline: Pipeline, emails: list[EmailDue]) -> SendResult:
    """Send over one connection, claiming each email (committed) right before its send.

    Never two emails per (account, week): a claim whose message may have left is never
    released. A crash loses at most the one message in flight.
    """
    with pipeline.database.session() as db:
        keys = {"ids": [e.account_id for e in emails], "weeks": [e.week for e in emails]}
        pending = {(row.account_id, row.week) for row in db.execute(_STILL_PENDING, keys)}
    due = [e for e in emails if (e.account_id, e.week) in pending]
    if not due:
        return SendResult()  # sent (or being sent) by another run

    def claim(position: int) -> bool:
        email = due[position]
        with pipeline.database.session() as db:
            status = db.execute(
                _CLAIM_EMAIL, {"account_id": email.account_id, "week": email.week}
            ).scalar()
        return status == "sending"  # else another run has it, or the person opted out

    deliveries = pipeline.mailer.send_many([email.message for email in due], claim)
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
    if recorded:
        with pipeline.database.session() as db:
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
        if delivery.outcome in (FAILED, NOT_SENT):
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
    return SendResult(
        sent=sum(1 for d in deliveries if d.outcome == SENT),
        failed=sum(1 for d in deliveries if d.outcome == FAILED),
        not_sent=sum(1 for d in deliveries if d.outcome == NOT_SENT),
    )
