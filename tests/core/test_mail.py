"""The weekly email through a real SMTP server (aiosmtpd), the outbox, and the signed links."""

from __future__ import annotations

import email
import email.policy
import smtplib
import threading
import time
import types
import uuid
from dataclasses import replace
from email.message import Message
from pathlib import Path

import itsdangerous.timed
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.mail import (
    OutboxMailer,
    Outgoing,
    SmtpMailer,
    build_weekly_email,
    open_mailer,
    unusable_recipient,
)
from core.models.secret import ServerSecret
from core.reports.chart import chart_png
from core.reports.render import NOT_MEDICAL_ADVICE
from core.settings import Settings
from core.signing import UNSUBSCRIBE_MAX_AGE_S, secret_key, sign_unsubscribe, verify_unsubscribe
from tests.core.test_render import make_inputs, make_summary
from tests.services import Inbox

ACCOUNT = uuid.UUID("5b0d7a62-1c1e-4c1f-9d55-3f0c2b7c9e01")
SECRET = "a test secret that is long enough"


def weekly_email(to: str = "pat@example.com") -> tuple[Message, bytes, str]:
    inputs = make_inputs()
    chart = chart_png(inputs)
    unsubscribe_url = "https://knotlog.example/v1/unsubscribe?token=" + sign_unsubscribe(
        SECRET, ACCOUNT
    )
    message = build_weekly_email(
        to=to,
        mail_from="knotlog <weekly@knotlog.example>",
        summary=make_summary(),
        inputs=inputs,
        report_url="https://knotlog.example/v1/report-pages/abc.def",
        unsubscribe_url=unsubscribe_url,
        chart=chart,
    )
    return message, chart, unsubscribe_url


def _parts(message: Message) -> dict[str, Message]:
    return {part.get_content_type(): part for part in message.walk()}


def _check_weekly_message(received: Message, chart: bytes, unsubscribe_url: str) -> None:
    assert received["Subject"] == "Your knotlog week 2026-W47: 4 of 3 sessions, relief 2.25"
    assert received["List-Unsubscribe"] == f"<{unsubscribe_url}>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Date"]
    assert received.get_content_type() == "multipart/alternative"
    parts = _parts(received)
    assert {"text/plain", "multipart/related", "text/html", "image/png"} <= set(parts)
    text_body = parts["text/plain"].get_payload(decode=True).decode()  # type: ignore[union-attr]
    html_body = parts["text/html"].get_payload(decode=True).decode()  # type: ignore[union-attr]
    for body in (text_body, html_body):
        assert "You did 4 of your 3 planned sessions: target met." in body
        assert "https://knotlog.example/v1/report-pages/abc.def" in body
        assert NOT_MEDICAL_ADVICE in body
    image = parts["image/png"]
    assert image.get_payload(decode=True) == chart
    content_id = str(image["Content-ID"]).strip("<>")
    assert f"src='cid:{content_id}'" in html_body


def test_weekly_email_arrives_through_smtp(smtp_server: tuple[str, Inbox], inbox: Inbox) -> None:
    message, chart, unsubscribe_url = weekly_email()
    message_id = SmtpMailer(smtp_server[0]).send(message)

    assert len(inbox.messages) == 1
    received = inbox.messages[0]
    assert received["Message-ID"] == message_id
    assert message_id.endswith("@knotlog.weekly>")
    assert received["To"] == "pat@example.com"
    _check_weekly_message(received, chart, unsubscribe_url)
    # The link in the header is the one the API accepts.
    token = unsubscribe_url.split("token=")[1]
    assert verify_unsubscribe(SECRET, token) == ACCOUNT


def test_credentials_are_never_sent_over_a_plain_connection(
    smtp_server: tuple[str, Inbox], inbox: Inbox
) -> None:
    # This server offers no STARTTLS; with a password in the URL the mailer must refuse.
    plain_url = smtp_server[0].replace("smtp://", "smtp://pat:s%40cret@")
    mailer = SmtpMailer(plain_url)
    assert (mailer.user, mailer.password, mailer.starttls) == ("pat", "s@cret", True)
    with pytest.raises(smtplib.SMTPNotSupportedError):
        mailer.send(weekly_email()[0])
    assert inbox.messages == []


def test_smtp_urls() -> None:
    implicit = SmtpMailer("smtps://mail%2Bbot:p%3Ass@mail.example")
    assert (implicit.host, implicit.port, implicit.implicit_tls) == ("mail.example", 465, True)
    assert (implicit.user, implicit.password, implicit.starttls) == ("mail+bot", "p:ss", False)
    asked = SmtpMailer("smtp://relay.example:587?starttls=1")
    assert (asked.port, asked.starttls, asked.user) == (587, True, None)
    relay = SmtpMailer("smtp://relay.internal")
    assert (relay.port, relay.starttls) == (25, False)
    with pytest.raises(ValueError, match="smtp://"):
        SmtpMailer("http://mail.example")


def test_outbox_writes_one_parseable_eml(tmp_path: Path) -> None:
    message, chart, unsubscribe_url = weekly_email()
    outbox = tmp_path / "outbox"
    message_id = OutboxMailer(outbox).send(message)

    files = list(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml"]
    received = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.compat32)
    assert received["Message-ID"] == message_id
    _check_weekly_message(received, chart, unsubscribe_url)


def test_open_mailer_picks_smtp_or_the_outbox(tmp_path: Path) -> None:
    smtp = open_mailer(Settings(smtp_url="smtp://relay.example:2525"))
    assert isinstance(smtp, SmtpMailer) and smtp.port == 2525
    outbox = open_mailer(Settings(data_dir=tmp_path))
    assert isinstance(outbox, OutboxMailer) and outbox.folder == tmp_path / "outbox"


def test_unsubscribe_token_round_trip_and_tampering() -> None:
    token = sign_unsubscribe(SECRET, ACCOUNT)
    assert verify_unsubscribe(SECRET, token) == ACCOUNT

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad_secret, bad_token in ((SECRET, tampered), ("another secret", token), (SECRET, "")):
        with pytest.raises(InvalidInput) as caught:
            verify_unsubscribe(bad_secret, bad_token)
        assert caught.value.errors == {
            "token": ["This unsubscribe link is invalid or has expired."]
        }


def test_unsubscribe_token_expires_after_sixty_days(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    # Sign as if 61 days ago: itsdangerous reads its clock from its own `time` import.
    past = types.SimpleNamespace(time=lambda: now - UNSUBSCRIBE_MAX_AGE_S - 24 * 3600)
    monkeypatch.setattr(itsdangerous.timed, "time", past)
    old = sign_unsubscribe(SECRET, ACCOUNT)
    recent = types.SimpleNamespace(time=lambda: now - UNSUBSCRIBE_MAX_AGE_S + 3600)
    monkeypatch.setattr(itsdangerous.timed, "time", recent)
    fresh_enough = sign_unsubscribe(SECRET, ACCOUNT)
    monkeypatch.undo()

    assert UNSUBSCRIBE_MAX_AGE_S == 60 * 24 * 3600
    assert verify_unsubscribe(SECRET, fresh_enough) == ACCOUNT
    with pytest.raises(InvalidInput):
        verify_unsubscribe(SECRET, old)


def test_secret_key_prefers_the_setting(db: Session, settings: Settings) -> None:
    assert secret_key(db, replace(settings, secret_key="from-env")) == "from-env"


def test_secret_key_is_generated_once(db: Session, settings: Settings) -> None:
    db.execute(text("DELETE FROM server_secrets"))
    unset = replace(settings, secret_key=None)
    first = secret_key(db, unset)
    second = secret_key(db, unset)
    assert first == second
    assert len(first) >= 32
    assert db.execute(select(func.count()).select_from(ServerSecret)).scalar_one() == 1


def test_two_processes_racing_agree_on_the_secret(engine: Engine, settings: Settings) -> None:
    unset = replace(settings, secret_key=None)
    with Session(engine) as probe:
        if probe.get(ServerSecret, "link_signing") is not None:
            pytest.skip("a committed secret already exists in this test database")
    results: dict[str, str] = {}
    try:
        with Session(engine) as first, Session(engine) as second:
            results["first"] = secret_key(first, unset)  # inserted, not yet committed

            def other_process() -> None:
                # Blocks on the primary key until the first transaction ends.
                results["second"] = secret_key(second, unset)
                second.commit()

            thread = threading.Thread(target=other_process)
            thread.start()
            time.sleep(0.2)
            assert "second" not in results
            first.commit()
            thread.join(timeout=10)
        assert results["second"] == results["first"]
    finally:
        with Session(engine) as cleanup:
            cleanup.execute(text("DELETE FROM server_secrets WHERE name = 'link_signing'"))
            cleanup.commit()


def test_an_address_beyond_ascii_is_written_as_utf8(tmp_path: Path) -> None:
    # SMTPUTF8 addresses cannot be RFC 2047-encoded: the message carries them as UTF-8.
    message, chart, unsubscribe_url = weekly_email(to="zoë@bücher.example")
    outgoing = Outgoing.from_message(message)
    assert outgoing.international and outgoing.recipients == ("zoë@bücher.example",)
    OutboxMailer(tmp_path).send(message)
    [eml] = tmp_path.iterdir()
    received = email.message_from_bytes(eml.read_bytes(), policy=email.policy.SMTPUTF8)
    assert received["To"] == "zoë@bücher.example"
    _check_weekly_message(received, chart, unsubscribe_url)


def test_on_the_wire_every_line_ends_in_crlf_and_the_unsubscribe_link_stays_whole() -> None:
    for to in ("pat@example.com", "zoë@bücher.example"):
        message, _chart, unsubscribe_url = weekly_email(to=to)
        data = Outgoing.from_message(message).data
        lines = data.split(b"\r\n")
        assert all(b"\n" not in line and len(line) <= 998 for line in lines)
        # One unfolded line, not RFC 2047-encoded: mail clients act on it as it stands.
        assert f"List-Unsubscribe: <{unsubscribe_url}>".encode() in lines
        header_block = data.split(b"\r\n\r\n", 1)[0]
        assert b"=?" not in header_block


def test_an_unusable_recipient_is_named_without_its_address() -> None:
    assert unusable_recipient("pat@example.com") is None
    assert unusable_recipient("zoë@bücher.example") is None
    for bad in (
        "",
        "pat",
        "pat@",
        "@example.com",
        "a@b@c",
        "Pat <pat@example.com>",
        "p@x\r\nBcc: x",
    ):
        problem = unusable_recipient(bad)
        assert problem is not None and (not bad or bad not in problem)
