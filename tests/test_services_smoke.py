"""The test peers themselves work: a put to S3 reads back, a sent mail arrives."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from tests.services import Inbox, s3_client


def test_s3_server_round_trip(s3_endpoint: str, s3_bucket: str) -> None:
    client = s3_client(s3_endpoint)
    client.put_object(Bucket=s3_bucket, Key="a/b.json", Body=b"{}")
    assert client.get_object(Bucket=s3_bucket, Key="a/b.json")["Body"].read() == b"{}"


def test_smtp_server_receives(smtp_server: tuple[str, Inbox], inbox: Inbox) -> None:
    host, port = smtp_server[0].removeprefix("smtp://").split(":")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hi"
    message.set_content("hello")
    with smtplib.SMTP(host, int(port)) as smtp:
        smtp.send_message(message)
    assert [m["Subject"] for m in inbox.messages] == ["hi"]
