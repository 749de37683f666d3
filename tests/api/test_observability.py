"""What an operator sees: one JSON log line per request, /metrics, /readyz."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from api import create_app
from core.database import Database
from core.logs import json_formatter
from core.settings import Settings
from tests.conftest import PASSWORD, register
from tests.factories import session_body
from tests.services import free_port

REQUEST_LOGGER = "knotlog.request"


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = json_formatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == REQUEST_LOGGER]


def _samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.get_data(as_text=True))
        for s in family.samples
    }


def test_each_request_is_one_json_line_with_its_route_template_and_request_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = register(client)
    caplog.set_level(logging.INFO, logger=REQUEST_LOGGER)
    caplog.clear()
    missing = "0b8a3c1e-6f1d-4c5e-9a57-2d7f0e4b9c11"
    reply = client.get(
        f"/v1/sessions/{missing}", headers={**user["headers"], "X-Request-ID": "trace-42"}
    )
    assert reply.status_code == 404
    assert reply.headers["X-Request-ID"] == "trace-42"
    [line] = _request_lines(caplog)
    assert line["method"] == "GET"
    assert line["route"] == "/v1/sessions/<uuid:session_id>"  # the template, not the id
    assert missing not in json.dumps(line)
    assert line["status"] == 404
    assert line["request_id"] == "trace-42"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["time"]


def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_one(
    client: FlaskClient,
) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz", headers={"X-Request-ID": "no spaces allowed"})
    assert len(first) == 32 and int(first, 16) >= 0
    assert second.headers["X-Request-ID"] not in (first, "no spaces allowed")


def test_logs_never_carry_passwords_tokens_emails_or_notes(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = register(client)
    note = "private note about my sciatica 7f3a"
    pushed = client.post(
        "/v1/sync/push",
        json={"sessions": [session_body(note=note), session_body(pain_before=99)]},
        headers=user["headers"],
    )
    assert pushed.status_code == 200
    client.post("/v1/tokens", json={"email": user["email"], "password": "wrong password!"})
    formatter = json_formatter()
    text = "\n".join(formatter.format(r) for r in caplog.records)
    assert "http.request" in text  # the requests were logged...
    secret = user["token"]["token"]
    for private in (PASSWORD, "wrong password!", secret, secret[8:], user["email"], note):
        assert private not in text  # ...and nothing private with them


def test_metrics_count_requests_by_route_and_status_and_pushed_items_by_result(
    client: FlaskClient,
) -> None:
    user = register(client)
    before = _samples(client)
    body = {"sessions": [session_body(), session_body(), session_body(duration_s=0)]}
    assert client.post("/v1/sync/push", json=body, headers=user["headers"]).status_code == 200
    after = _samples(client)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("knotlog_sync_items_total", result="created") == 2
    assert grew("knotlog_sync_items_total", result="invalid") == 1
    push = {"method": "POST", "route": "/v1/sync/push"}
    assert grew("knotlog_http_requests_total", **push, status="200") == 1
    assert grew("knotlog_http_request_duration_seconds_count", **push) == 1
    assert ("knotlog_week_tasks_pending", ()) in after  # the pipeline's backlog, read live


def test_metrics_can_require_an_operator_token(settings: Settings, engine: Engine) -> None:
    guarded = create_app(replace(settings, metrics_token="ops-token"), Database.from_engine(engine))
    client = guarded.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer ops-token"})
    assert ok.status_code == 200 and b"knotlog_http_requests_total" in ok.data


def test_readyz_fails_while_the_database_is_unreachable(app: Flask, settings: Settings) -> None:
    down = replace(settings, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    client = create_app(down).test_client()
    assert client.get("/healthz").status_code == 200  # the process itself is fine
    reply = client.get("/readyz")
    assert reply.status_code == 503
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert "Retry-After" in reply.headers
