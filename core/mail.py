"""Outgoing email: the weekly message, and where it goes (SMTP, or a local outbox folder)."""

from __future__ import annotations

import email.policy
import hashlib
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

from core.reports.render import CHART_ALT, CHART_SIZE_PX, NOT_MEDICAL_ADVICE, findings
from core.settings import Settings

SMTP_TIMEOUT_S = 30
MSGID_DOMAIN = "knotlog.weekly"
# Long unbreakable headers (the signed List-Unsubscribe URL) must stay plain text: the
# default 78-column policy would turn them into RFC 2047 encoded words mail clients ignore.
_POLICY = email.policy.SMTP.clone(max_line_length=998)


# What became of one message of a batch. NOT_SENT is certain (nothing reached the
# server), so it may be tried again; FAILED may have gone out, so it never is;
# SKIPPED was not claimed (another run has it).
SENT, FAILED, NOT_SENT, SKIPPED = "sent", "failed", "not_sent", "skipped"
# Called right before each send; False skips the message (see jobs/weekly.py's claims).
Claim = Callable[[int], bool]


@dataclass(frozen=True)
class Delivery:
    outcome: str
    message_id: str | None = None
    error: str | None = None


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Hand the message over; return its Message-ID."""
        ...

    def send_many(
        self, messages: Sequence[EmailMessage], claim: Claim | None = None
    ) -> list[Delivery]:
        """Hand over a batch (one connection); one Delivery per message, in order."""
        ...


class SmtpMailer:
    """`smtp://user:pass@host:587?starttls=1` (STARTTLS), `smtps://host:465` (implicit TLS),
    or plain `smtp://host:25` for a relay on a trusted network.

    Credentials over a plain connection are refused: with a user in the URL and no
    TLS asked for, STARTTLS is required rather than sending the password in clear.
    """

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, got {url!r}")
        query = parse_qs(parsed.query)
        self.implicit_tls = parsed.scheme == "smtps"
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or (465 if self.implicit_tls else 25)
        self.user = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        asked = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
        self.starttls = not self.implicit_tls and (asked or self.user is not None)

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=SMTP_TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_S)
        try:
            if self.starttls:
                client.starttls(context=context)
            if self.user is not None:
                client.login(self.user, self.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: EmailMessage) -> str:
        with self._connect() as client:
            client.send_message(message)
        return str(message["Message-ID"])

    def send_many(
        self, messages: Sequence[EmailMessage], claim: Claim | None = None
    ) -> list[Delivery]:
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            # No message was handed over: every claim can be released for the next run.
            return [Delivery(NOT_SENT, error=repr(exc)) for _ in messages]
        deliveries: list[Delivery] = []
        with client:
            for position, message in enumerate(messages):
                if claim is not None and not claim(position):
                    deliveries.append(Delivery(SKIPPED))
                    continue
                try:
                    client.send_message(message)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
                    deliveries.append(Delivery(FAILED, error=repr(exc)))  # refused, not lost
                except (OSError, smtplib.SMTPException) as exc:
                    # The connection broke mid-message: it may have gone out. The rest did not.
                    deliveries.append(Delivery(FAILED, error=repr(exc)))
                    rest = messages[position + 1 :]
                    deliveries.extend(Delivery(NOT_SENT, error=repr(exc)) for _ in rest)
                    break
                else:
                    deliveries.append(Delivery(SENT, message_id=str(message["Message-ID"])))
        return deliveries


class OutboxMailer:
    """Writes each message as an .eml file: the default when no SMTP_URL is set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = str(message["Message-ID"])
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:12]
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{digest}.eml"
        # Written whole, then renamed: a reader of the outbox never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
            os.replace(tmp, self.folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return message_id

    def send_many(
        self, messages: Sequence[EmailMessage], claim: Claim | None = None
    ) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for position, message in enumerate(messages):
            if claim is not None and not claim(position):
                deliveries.append(Delivery(SKIPPED))
                continue
            try:
                deliveries.append(Delivery(SENT, message_id=self.send(message)))
            except OSError as exc:  # claimed but not written: an operator looks (never twice)
                deliveries.append(Delivery(FAILED, error=repr(exc)))
        return deliveries


def open_mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url)
    return OutboxMailer(settings.data_dir / "outbox")


def _subject(summary: dict[str, Any]) -> str:
    if summary["target"] > 0:
        done = f"{summary['sessions']} of {summary['target']} sessions"
    else:
        done = f"{summary['sessions']} sessions"
    relief = summary["mean_relief"]
    tail = "" if relief is None else f", relief {relief:g}"
    return f"Your knotlog week {summary['week']}: {done}{tail}"


def build_weekly_email(
    *,
    to: str,
    mail_from: str,
    summary: dict[str, Any],
    inputs: dict[str, Any],
    report_url: str,
    unsubscribe_url: str,
    chart: bytes,
) -> EmailMessage:
    """Plain text plus HTML with the chart inline, and one-click unsubscribe (RFC 8058)."""
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = _subject(summary)
    message["From"] = mail_from
    message["To"] = to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=MSGID_DOMAIN)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    lines = findings(summary)
    text = "\n".join(
        [
            f"Your knotlog week {summary['week']}",
            "",
            *[f"- {line}" for line in lines],
            "",
            f"Full report: {report_url}",
            "",
            NOT_MEDICAL_ADVICE,
            f"Stop these emails: {unsubscribe_url}",
        ]
    )
    message.set_content(text)
    chart_cid = make_msgid(domain=MSGID_DOMAIN)
    width, height = CHART_SIZE_PX
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    html = (
        "<!doctype html><html><body style='font-family:system-ui,sans-serif;max-width:40rem'>"
        f"<h1 style='font-size:1.3rem'>Your knotlog week {escape(summary['week'])}</h1>"
        f"<ul>{items}</ul>"
        f"<img src='cid:{chart_cid[1:-1]}' width='{width}' height='{height}' "
        f"alt='{escape(CHART_ALT)}'>"
        f"<p><a href='{escape(report_url)}'>Open the full report</a></p>"
        f"<p style='color:#5b6775;font-size:.9rem'>{escape(NOT_MEDICAL_ADVICE)}<br>"
        f"<a href='{escape(unsubscribe_url)}'>Stop these emails</a></p></body></html>"
    )
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(chart, maintype="image", subtype="png", cid=chart_cid)
    return message
