"""Sessions one by one (PUT/GET/DELETE), the filtered list, and tokens as devices see them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from tests.conftest import PASSWORD, register
from tests.factories import session_body


def _at(days_ago: int, hour: int = 8) -> str:
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    return f"{day.isoformat()}T{hour:02d}:00:00+01:00"


def test_put_creates_then_updates_and_get_reads_it_back(client: FlaskClient) -> None:
    user = register(client)
    body = session_body()
    sid = body["id"]
    created = client.put(f"/v1/sessions/{sid}", json=body, headers=user["headers"])
    assert created.status_code == 201
    stored = created.get_json()
    assert stored["local_date"] and stored["week"].startswith(stored["local_date"][:4])
    assert {"created_at", "updated_at"} <= stored.keys()

    later = (datetime.fromisoformat(body["client_updated_at"]) + timedelta(minutes=5)).isoformat()
    edited = client.put(
        f"/v1/sessions/{sid}",
        json={**body, "pain_after": 1, "client_updated_at": later},
        headers=user["headers"],
    )
    assert edited.status_code == 200 and edited.get_json()["pain_after"] == 1
    assert client.get(f"/v1/sessions/{sid}", headers=user["headers"]).get_json()["pain_after"] == 1

    older = client.put(f"/v1/sessions/{sid}", json=body, headers=user["headers"])
    assert older.status_code == 409  # the stored edit is newer: nothing changes
    assert client.get(f"/v1/sessions/{sid}", headers=user["headers"]).get_json()["pain_after"] == 1


def test_put_refuses_a_body_id_that_differs_from_the_path(client: FlaskClient) -> None:
    user = register(client)
    reply = client.put(f"/v1/sessions/{uuid.uuid4()}", json=session_body(), headers=user["headers"])
    assert reply.status_code == 422
    assert "id" in reply.get_json()["errors"]


def test_delete_leaves_a_tombstone_for_other_devices(client: FlaskClient) -> None:
    user = register(client)
    body = session_body()
    client.put(f"/v1/sessions/{body['id']}", json=body, headers=user["headers"])
    assert client.delete(f"/v1/sessions/{body['id']}", headers=user["headers"]).status_code == 204
    assert client.get(f"/v1/sessions/{body['id']}", headers=user["headers"]).status_code == 404
    pulled = client.get("/v1/sync/pull", headers=user["headers"]).get_json()["changes"]
    assert [(c["id"], c["deleted"]) for c in pulled] == [(body["id"], True)]
    assert client.get("/v1/sessions", headers=user["headers"]).get_json()["items"] == []


def test_another_accounts_session_is_404_like_a_missing_one(client: FlaskClient) -> None:
    owner, prober = register(client), register(client)
    body = session_body()
    client.put(f"/v1/sessions/{body['id']}", json=body, headers=owner["headers"])
    theirs = client.get(f"/v1/sessions/{body['id']}", headers=prober["headers"])
    missing = client.get(f"/v1/sessions/{uuid.uuid4()}", headers=prober["headers"])
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json() == missing.get_json()
    assert client.delete(f"/v1/sessions/{body['id']}", headers=prober["headers"]).status_code == 404
    assert client.get(f"/v1/sessions/{body['id']}", headers=owner["headers"]).status_code == 200


def test_the_list_filters_by_date_region_and_tool_and_pages_newest_first(
    client: FlaskClient,
) -> None:
    user = register(client)
    bodies = [
        session_body(started_at=_at(days), region=region, tool=tool)
        for days, region, tool in [
            (1, "lower_back", "massage_ball"),
            (2, "glutes", "foam_roller"),
            (3, "lower_back", "foam_roller"),
            (10, "lower_back", "massage_ball"),
        ]
    ]
    client.post("/v1/sync/push", json={"sessions": bodies}, headers=user["headers"])

    def ids(query: str) -> list[str]:
        reply = client.get(f"/v1/sessions?{query}", headers=user["headers"])
        assert reply.status_code == 200, reply.get_json()
        return [item["id"] for item in reply.get_json()["items"]]

    assert ids("") == [b["id"] for b in bodies]  # newest first
    assert ids("region=lower_back") == [bodies[0]["id"], bodies[2]["id"], bodies[3]["id"]]
    assert ids("tool=foam_roller") == [bodies[1]["id"], bodies[2]["id"]]
    since = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    until = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    assert ids(f"from={since}&to={until}") == [bodies[1]["id"], bodies[2]["id"]]

    first = client.get("/v1/sessions?limit=3", headers=user["headers"]).get_json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = client.get(
        f"/v1/sessions?limit=3&cursor={first['next_cursor']}", headers=user["headers"]
    ).get_json()
    assert [i["id"] for i in rest["items"]] == [bodies[3]["id"]] and rest["next_cursor"] is None

    for bad in ("limit=0", "limit=501", "region=knee", "from=yesterday", "cursor=%%%"):
        reply = client.get(f"/v1/sessions?{bad}", headers=user["headers"])
        assert reply.status_code in (400, 422), bad
        assert reply.content_type == "application/problem+json"


def test_tokens_are_listed_and_a_revoked_one_stops_working_at_once(client: FlaskClient) -> None:
    user = register(client)
    second = client.post(
        "/v1/tokens",
        json={"email": user["email"], "password": PASSWORD, "device_name": "tablet"},
    ).get_json()
    listed = client.get("/v1/tokens", headers=user["headers"]).get_json()["items"]
    assert {t["device_name"] for t in listed} == {"test phone", "tablet"}
    assert all("token" not in t and "secret_hash" not in t for t in listed)

    tablet = {"Authorization": f"Bearer {second['token']}"}
    assert client.get("/v1/me", headers=tablet).status_code == 200
    assert client.delete(f"/v1/tokens/{second['id']}", headers=user["headers"]).status_code == 204
    assert client.get("/v1/me", headers=tablet).status_code == 401
    assert client.delete(f"/v1/tokens/{second['id']}", headers=user["headers"]).status_code == 404


def test_a_wrong_password_gets_no_token(client: FlaskClient) -> None:
    user = register(client)
    wrong = client.post(
        "/v1/tokens",
        json={"email": user["email"], "password": "nope-nope-nope", "device_name": "x"},
    )
    unknown = client.post(
        "/v1/tokens",
        json={"email": "nobody@example.com", "password": PASSWORD, "device_name": "x"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]  # no account probing
