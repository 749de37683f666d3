"""Push and pull as phones use them: per-item results, last writer wins, cursors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from tests.conftest import register
from tests.factories import session_body


def push(client: FlaskClient, headers: dict[str, str], *sessions: dict) -> list[dict]:
    response = client.post("/v1/sync/push", json={"sessions": list(sessions)}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def pull_all(
    client: FlaskClient, headers: dict[str, str], cursor: str | None = None, limit: int = 500
) -> tuple[list[dict], str]:
    changes: list[dict] = []
    while True:
        query = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/sync/pull", query_string=query, headers=headers).get_json()
        changes += body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return changes, cursor


def test_push_stores_valid_items_and_reports_invalid_ones(client: FlaskClient) -> None:
    user = register(client)
    good, bad = session_body(), session_body(pain_after=11, started_at="2026-11-20T07:00:00")
    results = push(client, user["headers"], good, bad, "not an object")
    assert [r["status"] for r in results] == ["created", "invalid", "invalid"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[0]["id"] == good["id"] and results[0]["errors"] is None
    assert set(results[1]["errors"]) == {"pain_after", "started_at"}
    assert "offset" in results[1]["errors"]["started_at"][0]
    assert results[2]["id"] is None
    stored = client.get(f"/v1/sessions/{good['id']}", headers=user["headers"])
    assert stored.status_code == 200
    assert client.get(f"/v1/sessions/{bad['id']}", headers=user["headers"]).status_code == 404


def test_replaying_a_push_changes_nothing(client: FlaskClient) -> None:
    user = register(client)
    batch = [session_body() for _ in range(3)]
    assert {r["status"] for r in push(client, user["headers"], *batch)} == {"created"}
    first, cursor = pull_all(client, user["headers"])
    assert {r["status"] for r in push(client, user["headers"], *batch)} == {"unchanged"}
    again, _ = pull_all(client, user["headers"], cursor)
    assert len(first) == 3 and again == []


def test_last_writer_wins_by_client_updated_at(client: FlaskClient) -> None:
    user = register(client)
    original = session_body(pain_after=4)
    push(client, user["headers"], original)
    t0 = datetime.fromisoformat(original["client_updated_at"])
    later = dict(original, pain_after=2, client_updated_at=(t0 + timedelta(minutes=5)).isoformat())
    older = dict(original, pain_after=9, client_updated_at=(t0 - timedelta(minutes=5)).isoformat())
    tie = dict(original, pain_after=7)
    statuses = [r["status"] for r in push(client, user["headers"], later, older, tie)]
    assert statuses == ["updated", "stale", "stale"]
    stored = client.get(f"/v1/sessions/{original['id']}", headers=user["headers"]).get_json()
    assert stored["pain_after"] == 2


def test_same_content_with_new_timestamp_is_unchanged_and_not_pulled(client: FlaskClient) -> None:
    user = register(client)
    body = session_body()
    push(client, user["headers"], body)
    _, cursor = pull_all(client, user["headers"])
    resent = dict(body, client_updated_at=datetime.now(UTC).isoformat())
    assert push(client, user["headers"], resent)[0]["status"] == "unchanged"
    assert pull_all(client, user["headers"], cursor)[0] == []


def test_pull_pages_in_order_with_tombstones(client: FlaskClient) -> None:
    user = register(client)
    bodies = [session_body() for _ in range(7)]
    push(client, user["headers"], *bodies)
    doomed = bodies[2]["id"]
    assert client.delete(f"/v1/sessions/{doomed}", headers=user["headers"]).status_code == 204
    changes, cursor = pull_all(client, user["headers"], limit=3)
    ids = [c["id"] for c in changes]
    # each session once, in its latest state: the deleted one moved to the end as a tombstone
    assert len(ids) == 7 and len(set(ids)) == 7
    assert ids[-1] == doomed and changes[-1]["deleted"] is True
    assert ids[:-1] == [b["id"] for b in bodies if b["id"] != doomed]
    assert pull_all(client, user["headers"], cursor)[0] == []


def test_second_device_sees_first_devices_changes(client: FlaskClient) -> None:
    user = register(client)
    tablet = client.post(
        "/v1/tokens",
        json={
            "email": user["email"],
            "password": "correct horse battery staple",
            "device_name": "tablet",
        },
    )
    tablet_headers = {"Authorization": f"Bearer {tablet.get_json()['token']}"}
    body = session_body()
    push(client, user["headers"], body)
    changes, _ = pull_all(client, tablet_headers)
    assert [c["id"] for c in changes] == [body["id"]]
    assert changes[0]["pain_before"] == body["pain_before"]


def test_ids_are_scoped_to_the_account(client: FlaskClient) -> None:
    alice, bob = register(client), register(client)
    shared_id = str(uuid.uuid4())
    push(client, alice["headers"], session_body(id=shared_id, pain_before=8))
    assert (
        push(client, bob["headers"], session_body(id=shared_id, pain_before=2))[0]["status"]
        == "created"
    )
    a = client.get(f"/v1/sessions/{shared_id}", headers=alice["headers"]).get_json()
    b = client.get(f"/v1/sessions/{shared_id}", headers=bob["headers"]).get_json()
    assert (a["pain_before"], b["pain_before"]) == (8, 2)
    assert len(pull_all(client, bob["headers"])[0]) == 1


def test_push_limits_and_malformed_bodies_are_problems(client: FlaskClient) -> None:
    user = register(client)
    too_many = client.post("/v1/sync/push", json={"sessions": [{}] * 501}, headers=user["headers"])
    assert too_many.status_code == 422
    assert too_many.content_type == "application/problem+json"
    assert "500" in too_many.get_json()["errors"]["sessions"][0]
    broken = client.post(
        "/v1/sync/push",
        data=b'{"sessions": [',
        headers=user["headers"] | {"Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.get_json()["status"] == 400
    no_list = client.post("/v1/sync/push", json={"sessions": "x"}, headers=user["headers"])
    assert no_list.status_code == 422


def test_pull_limit_outside_range_and_bad_cursor(client: FlaskClient) -> None:
    user = register(client)
    for limit in (0, 1001):
        response = client.get(f"/v1/sync/pull?limit={limit}", headers=user["headers"])
        assert response.status_code == 422
        assert "limit" in response.get_json()["errors"]
    bad = client.get("/v1/sync/pull?cursor=@@@", headers=user["headers"])
    assert bad.status_code == 422 and "cursor" in bad.get_json()["errors"]


def test_cursor_past_tombstone_retention_is_gone(client: FlaskClient, db) -> None:
    from core.services.session_reads import purge_tombstones

    user = register(client)
    body = session_body()
    push(client, user["headers"], body)
    _, early_cursor = pull_all(client, user["headers"])
    client.delete(f"/v1/sessions/{body['id']}", headers=user["headers"])
    assert purge_tombstones(db, datetime.now(UTC) + timedelta(days=1)) >= 1
    db.flush()
    gone = client.get(f"/v1/sync/pull?cursor={early_cursor}", headers=user["headers"])
    assert gone.status_code == 410
    assert gone.get_json()["code"] == "gone"
    full = client.get("/v1/sync/pull", headers=user["headers"])
    assert full.status_code == 200 and full.get_json()["changes"] == []


def test_a_pulled_session_reads_exactly_like_the_session_itself(client: FlaskClient) -> None:
    """Pull pages are serialised by PostgreSQL, single reads by Python: same bytes."""
    user = register(client)
    bodies = [
        session_body(started_at="2026-11-20T07:30:00+00:00"),
        session_body(started_at="2026-11-20T07:30:00.25+05:30", note='quotes " and \\ and ü'),
        session_body(
            started_at="2026-11-19T23:59:59.000001-03:00",
            client_updated_at="2026-11-20T03:00:00.5Z",
            side=None,
            note=None,
        ),
    ]
    client.post("/v1/sync/push", json={"sessions": bodies}, headers=user["headers"])
    deleted = bodies[0]["id"]
    client.delete(f"/v1/sessions/{deleted}", headers=user["headers"])
    pulled = client.get("/v1/sync/pull", headers=user["headers"]).get_json()["changes"]
    assert len(pulled) == 3
    for change in pulled:
        if change["id"] == deleted:
            assert change["deleted"] is True
            continue
        single = client.get(f"/v1/sessions/{change['id']}", headers=user["headers"]).get_json()
        assert change == single
    assert {c["started_at"] for c in pulled} >= {
        "2026-11-20T07:30:00.250000+05:30",
        "2026-11-19T23:59:59.000001-03:00",
    }
