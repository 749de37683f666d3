"""What a person reaches after a weekly run: summaries, report links, unsubscribe, deletion."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from api import create_app
from core.database import Database
from core.reports.store import FileReportStore
from core.settings import Settings
from core.weeks import format_week
from jobs.pipeline import Pipeline
from jobs.weekly import weekly_pass
from tests.conftest import PASSWORD
from tests.jobs.conftest import Person, latest_final_week, log_sessions, make_person
from tests.services import FlakyS3, Inbox, s3_client


def _signed_in(client: FlaskClient, person: Person) -> dict[str, str]:
    reply = client.post(
        "/v1/tokens", json={"email": person.email, "password": PASSWORD, "device_name": "t"}
    )
    assert reply.status_code == 201
    return {"Authorization": f"Bearer {reply.get_json()['token']}"}


@pytest.fixture
def api_client(database: Database, pipeline_settings: Settings) -> FlaskClient:
    return create_app(pipeline_settings, database).test_client()


def test_summaries_are_listed_and_read_by_week(
    pipeline: Pipeline, database: Database, api_client: FlaskClient
) -> None:
    week = latest_final_week()
    person, other = make_person(database, weeks_ago_created=2), make_person(database)
    log_sessions(database, person, week + timedelta(days=1), 3, pain_before=7, pain_after=4)
    weekly_pass(pipeline)
    headers = _signed_in(api_client, person)
    label = format_week(week)

    listed = api_client.get(
        f"/v1/summaries?from={format_week(week - timedelta(weeks=1))}&to={label}", headers=headers
    )
    assert listed.status_code == 200
    assert [s["week"] for s in listed.get_json()["items"]] == [
        format_week(week - timedelta(weeks=1)),
        label,
    ]
    one = api_client.get(f"/v1/summaries/{label}", headers=headers).get_json()
    assert (one["sessions"], one["mean_relief"], one["target"], one["version"]) == (3, 3.0, 3, 1)

    not_yet = api_client.get(
        f"/v1/summaries/{format_week(week + timedelta(weeks=1))}", headers=headers
    )
    assert not_yet.status_code == 404
    assert api_client.get("/v1/summaries/2026-W99", headers=headers).status_code == 422
    reversed_range = api_client.get(f"/v1/summaries?from={label}&to=2020-W01", headers=headers)
    assert reversed_range.status_code == 422
    # Another person sees only their own (empty) week, never this one's figures.
    theirs = api_client.get(f"/v1/summaries/{label}", headers=_signed_in(api_client, other))
    assert theirs.get_json()["sessions"] == 0


def test_a_report_link_on_s3_is_presigned_and_opens_the_stored_report(
    pipeline: Pipeline, database: Database, api_client: FlaskClient
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week, 2)
    weekly_pass(pipeline)
    headers = _signed_in(api_client, person)

    link = api_client.get(f"/v1/reports/{format_week(week)}", headers=headers)
    assert link.status_code == 200
    body = link.get_json()
    assert body["version"] == 1
    assert "X-Amz-Signature" in body["html_url"] or "Signature" in body["html_url"]
    with urllib.request.urlopen(body["json_url"], timeout=10) as response:
        report = json.loads(response.read())
    assert report["summary"]["sessions"] == 2
    with urllib.request.urlopen(body["html_url"], timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        assert b"data:image/png;base64," in response.read()

    missing = api_client.get(
        f"/v1/reports/{format_week(week + timedelta(weeks=1))}", headers=headers
    )
    assert missing.status_code == 404


def test_a_report_in_the_local_store_is_served_behind_a_signed_link(
    pipeline: Pipeline, database: Database, pipeline_settings: Settings, tmp_path: Path
) -> None:
    settings = replace(pipeline_settings, reports_url=f"file://{tmp_path}/reports")
    local = Pipeline(database, settings, FileReportStore(tmp_path / "reports"), pipeline.mailer)
    week = latest_final_week()
    person = make_person(database, weekly_email=False)
    log_sessions(database, person, week, 1)
    weekly_pass(local)
    client = create_app(settings, database).test_client()

    link = client.get(f"/v1/reports/{format_week(week)}", headers=_signed_in(client, person))
    page_url = urlparse(link.get_json()["html_url"])
    page = client.get(page_url.path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert format_week(week).encode() in page.data
    as_json = client.get(page_url.path + "?format=json").get_json()
    assert as_json["summary"]["sessions"] == 1
    tampered = page_url.path[:-3] + "xyz"
    assert client.get(tampered).status_code == 404


def test_one_click_unsubscribe_turns_the_email_off(
    pipeline: Pipeline, database: Database, api_client: FlaskClient, inbox: Inbox
) -> None:
    week = latest_final_week()
    person = make_person(database)
    log_sessions(database, person, week, 1)
    weekly_pass(pipeline)
    url = urlparse(inbox.messages[0]["List-Unsubscribe"].strip("<>"))

    page = api_client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and b"Unsubscribe" in page.data  # GET changes nothing
    assert api_client.get("/v1/me", headers=_signed_in(api_client, person)).get_json()[
        "weekly_email"
    ]
    # What a mail client sends for RFC 8058 one-click.
    done = api_client.post(
        f"{url.path}?{url.query}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200
    me = api_client.get("/v1/me", headers=_signed_in(api_client, person)).get_json()
    assert me["weekly_email"] is False
    forged = api_client.post(f"{url.path}?token=not-a-token")
    assert forged.status_code == 422
    assert forged.content_type == "application/problem+json"


def test_deleting_the_account_deletes_its_reports_from_the_store(
    pipeline: Pipeline, database: Database, api_client: FlaskClient, pipeline_settings: Settings
) -> None:
    week = latest_final_week()
    person, bystander = make_person(database), make_person(database)
    for someone in (person, bystander):
        log_sessions(database, someone, week, 2)
    weekly_pass(pipeline)
    bucket = pipeline_settings.reports_url.removeprefix("s3://").split("/")[0]
    assert pipeline_settings.s3_endpoint_url is not None
    s3 = s3_client(pipeline_settings.s3_endpoint_url)

    def keys(person: Person) -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/accounts/{person.id}/")
        return [o["Key"] for o in listed.get("Contents", [])]

    assert len(keys(person)) >= 2
    headers = _signed_in(api_client, person)
    assert (
        api_client.delete("/v1/me", json={"password": PASSWORD}, headers=headers).status_code == 204
    )
    assert keys(person) == []
    assert len(keys(bystander)) >= 2
    with database.session() as db:
        left = db.execute(
            text("SELECT count(*) FROM weekly_summaries WHERE account_id = :a"), {"a": person.id}
        ).scalar_one()
    assert left == 0
    assert api_client.get("/v1/me", headers=headers).status_code == 401


def test_deleting_while_the_report_store_is_down_is_a_503_and_deletes_nothing(
    pipeline: Pipeline, database: Database, pipeline_settings: Settings, flaky_s3: FlakyS3
) -> None:
    person = make_person(database)
    log_sessions(database, person, latest_final_week(), 2)
    weekly_pass(pipeline)
    down = replace(pipeline_settings, s3_endpoint_url=flaky_s3.endpoint)
    client = create_app(down, database).test_client()
    headers = _signed_in(client, person)
    flaky_s3.fail(-1)

    reply = client.delete("/v1/me", json={"password": PASSWORD}, headers=headers)

    assert reply.status_code == 503 and int(reply.headers["Retry-After"]) > 0
    assert reply.content_type == "application/problem+json"
    assert client.get("/v1/me", headers=headers).status_code == 200  # rows rolled back
    # The store is back (reached directly): the same request now deletes everything.
    back = create_app(pipeline_settings, database).test_client()
    assert back.delete("/v1/me", json={"password": PASSWORD}, headers=headers).status_code == 204
