"""Outgoing email: the weekly message, and where it goes (SMTP, or a local outbox folder)."""

from __future__ import annotations

import email.policy
import hashlib
import io
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
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
_COMPAT32 = email.policy.compat32.clone(linesep="\r\n", max_line_length=998)


# What became of one message of a batch. NOT_SENT is certain (nothing reached the
# server), so it may be tried again; FAILED may have gone out, so it never is;
# SKIPPED was not claimed (another run has it).
SENT, FAILED, NOT_SENT, SKIPPED = "sent", "failed", "not_sent", "skipped"
# Called right before each send; False skips the message (see jobs/weekly_email.py's claims).
Claim = Callable[[int], bool]


@dataclass(frozen=True)
class Delivery:
    outcome: str
    message_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """A message as it goes on the wire: built and flattened once, possibly in a render
    worker process, so the sending side only hands bytes over."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    data: bytes
    # Non-ASCII addresses need the server's SMTPUTF8 extension (as smtplib.send_message).
    international: bool = False

    @classmethod
    def from_message(cls, message: Message) -> Outgoing:
        sender = parseaddr(str(message["From"]))[1]
        fields = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
        recipients = tuple(address for _name, address in getaddresses(fields) if address)
        if not sender or not recipients:
            raise ValueError("a message needs a From address and at least one recipient")
        international = not all(a.isascii() for a in (sender, *recipients))
        policy = _POLICY.clone(utf8=True) if international else message.policy
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        return cls(str(message["Message-ID"]), sender, recipients, buffer.getvalue(), international)


class Mailer(Protocol):
    def send(self, message: Message) -> str:
        """Hand the message over; return its Message-ID."""
        ...

    def send_many(self, messages: Sequence[Outgoing], claim: Claim | None = None) -> list[Delivery]:
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

    def send(self, message: Message) -> str:
        outgoing = Outgoing.from_message(message)
        with self._connect() as client:
            self._hand_over(client, outgoing)
        return outgoing.message_id

    @staticmethod
    def _hand_over(client: smtplib.SMTP, message: Outgoing) -> None:
        options: tuple[str, ...] = ()
        if message.international:
            client.ehlo_or_helo_if_needed()
            if not client.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("the server cannot take non-ASCII addresses")
            options = ("SMTPUTF8", "BODY=8BITMIME")
        client.sendmail(message.sender, list(message.recipients), message.data, options)

    def send_many(self, messages: Sequence[Outgoing], claim: Claim | None = None) -> list[Delivery]:
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            # No message was handed over: every claim can be released for the next run.
            return [Delivery(NOT_SENT, error=repr(exc)) for _ in messages]
        deliveries: list[Delivery] = []
        with client:
            for position, message in enumerate(messages):
                # A claim that raises (the database gone) ends the batch: the run logs it,
                # and rows already claimed stay 'sending', never sent twice.
                if claim is not None and not claim(position):
                    deliveries.append(Delivery(SKIPPED))
                    continue
                try:
                    self._hand_over(client, message)
                except (
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused,
                    smtplib.SMTPNotSupportedError,
                ) as exc:
                    deliveries.append(Delivery(FAILED, error=repr(exc)))  # refused, not lost
                except (OSError, smtplib.SMTPException) as exc:
                    # The connection broke mid-message: it may have gone out. The rest did not.
                    deliveries.append(Delivery(FAILED, error=repr(exc)))
                    rest = messages[position + 1 :]
                    deliveries.extend(Delivery(NOT_SENT, error=repr(exc)) for _ in rest)
                    break
                else:
                    deliveries.append(Delivery(SENT, message_id=message.message_id))
        return deliveries


class OutboxMailer:
    """Writes each message as an .eml file: the default when no SMTP_URL is set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message) -> str:
        return self._write(Outgoing.from_message(message))

    def _write(self, message: Outgoing) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = message.message_id
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:12]
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{digest}.eml"
        # Written whole, then renamed: a reader of the outbox never sees half a message.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.data)
            os.replace(tmp, self.folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return message_id

    def send_many(self, messages: Sequence[Outgoing], claim: Claim | None = None) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for position, message in enumerate(messages):
            if claim is not None and not claim(position):
                deliveries.append(Delivery(SKIPPED))
                continue
            try:
                deliveries.append(Delivery(SENT, message_id=self._write(message)))
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


def unusable_recipient(address: str) -> str | None:
    """Why an account's stored address cannot take an email (None: it can). Says nothing
    of the address itself: the reason is stored and logged."""
    if "\r" in address or "\n" in address:
        return "recipient address holds a line break"
    name, parsed = parseaddr(address)
    if name or parsed != address.strip() or parsed.count("@") != 1:
        return "recipient address is not a single plain address"
    local, domain = parsed.split("@")
    if not local or not domain:
        return "recipient address lacks a local part or a domain"
    return None


def build_weekly_email(
    *,
    to: str,
    mail_from: str,
    summary: dict[str, Any],
    inputs: dict[str, Any],
    report_url: str,
    unsubscribe_url: str,
    chart: bytes,
) -> Message:
    """Plain text plus HTML with the chart inline, and one-click unsubscribe (RFC 8058).

    When every header is ASCII (nearly always) the message is built from the compat32
    MIME classes: the modern API parses every header it sets, ~2 ms a message, a tenth of
    a weekly run's CPU. A non-ASCII address (SMTPUTF8) or sender name needs the modern API.
    """
    headers = {
        "Subject": _subject(summary),
        "From": mail_from,
        "To": to,
        "Date": formatdate(localtime=False, usegmt=True),
        "Message-ID": make_msgid(domain=MSGID_DOMAIN),
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    chart_cid = make_msgid(domain=MSGID_DOMAIN)
    text, html = _weekly_bodies(summary, report_url, unsubscribe_url, chart_cid)
    if all(value.isascii() for value in headers.values()):
        return _compat32_message(headers, text, html, chart, chart_cid)
    message = EmailMessage(policy=_POLICY)
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(chart, maintype="image", subtype="png", cid=chart_cid)
    return message


def _compat32_message(
    headers: dict[str, str], text: str, html: str, chart: bytes, chart_cid: str
) -> Message:
    """The same tree as the modern API builds: alternative(plain, related(html, png))."""
    message = MIMEMultipart("alternative", policy=_COMPAT32)
    for name, value in headers.items():
        message[name] = value
    message.attach(_text_part(text, "plain"))
    related = MIMEMultipart("related", policy=_COMPAT32)
    related.attach(_text_part(html, "html"))
    image = MIMEImage(chart, "png", policy=_COMPAT32)
    image["Content-ID"] = chart_cid
    related.attach(image)
    message.attach(related)
    return message


def _text_part(body: str, subtype: str) -> Message:
    # Quoted-printable, as the modern API chooses for mostly-ASCII text: readable and small
    # (compat32's default for utf-8 is base64, a third larger and frowned on by filters).
    charset = Charset("utf-8")
    charset.body_encoding = QP
    part = Message(policy=_COMPAT32)
    part.set_payload(body, charset)
    part.set_type(f"text/{subtype}")
    del part["MIME-Version"]  # once, on the whole message
    return part


def _weekly_bodies(
    summary: dict[str, Any], report_url: str, unsubscribe_url: str, chart_cid: str
) -> tuple[str, str]:
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
    return text, html
