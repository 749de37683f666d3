"""Bad input never costs data: each bad request is refused clearly, and what was accepted
before is exactly what a device pulls afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import register
from tests.factories import session_body

PROBLEM = "application/problem+json"


def _everything(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    changes, cursor = [], ""
    while True:
        page = client.get(f"/v1/sync/pull?limit=1000&cursor={cursor}", headers=headers).get_json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes


def test_a_barrage_of_bad_requests_changes_nothing_that_was_accepted(
    client: FlaskClient,
) -> None:
    user = register(client)
    headers = user["headers"]
    stored = [session_body(note="kept as sent"), session_body(region="glutes")]
    assert (
        client.post("/v1/sync/push", json={"sessions": stored}, headers=headers).status_code == 200
    )
    before = _everything(client, headers)
    target = stored[0]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    far_future = (datetime.now(UTC) + timedelta(days=3)).isoformat()

    def push_raw(data: bytes) -> Any:
        return client.post(
            "/v1/sync/push", data=data, content_type="application/json", headers=headers
        )

    refused_whole = [
        push_raw(b'{"sessions": [{"id": '),  # malformed JSON
        push_raw(b'{"sessions": [{"note": "\xff\xfe"}]}'),  # not UTF-8
        push_raw(b'["not", "an", "object"]'),
        client.post("/v1/sync/push", json={"sessions": "many"}, headers=headers),
        client.put(
            f"/v1/sessions/{target['id']}",
            json={**target, "started_at": "2026-11-20T07:30:00", "client_updated_at": later},
            headers=headers,
        ),
        client.put(
            f"/v1/sessions/{target['id']}",
            json={**target, "pain_after": "3", "client_updated_at": later},
            headers=headers,
        ),
    ]
    for reply in refused_whole:
        assert 400 <= reply.status_code < 500 and reply.content_type == PROBLEM, reply.data

    # In a push, each bad item is refused with its reason and touches nothing stored.
    bad_items = [
        {**target, "started_at": "2026-11-20T07:30:00", "client_updated_at": later},  # naive
        {**target, "started_at": far_future, "client_updated_at": later},
        {**target, "note": "x" * 100_000, "client_updated_at": later},
        {**target, "pain_before": 11, "client_updated_at": later},
        {**target, "duration_s": 3.5, "client_updated_at": later},
        {**target, "region": "elbow", "client_updated_at": later},
        {**target, "id": "not-a-uuid"},
        {**target, "client_updated_at": "yesterday"},
        "a string, not a session",
    ]
    reply = client.post("/v1/sync/push", json={"sessions": bad_items}, headers=headers)
    assert reply.status_code == 200
    results = reply.get_json()["results"]
    assert [r["status"] for r in results] == ["invalid"] * len(bad_items)
    assert all(r["errors"] for r in results)
    assert "started_at" in results[0]["errors"] and "started_at" in results[1]["errors"]
    assert "note" in results[2]["errors"] and "pain_before" in results[3]["errors"]

    assert _everything(client, headers) == before
    shown = client.get(f"/v1/sessions/{target['id']}", headers=headers).get_json()
    assert (shown["note"], shown["pain_after"]) == ("kept as sent", target["pain_after"])
