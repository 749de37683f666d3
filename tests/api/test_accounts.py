"""Accounts as a person and a phone use them: sign-up, /v1/me, the plan history, export, delete."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from core.models import load_all
from core.models.weekly import WeeklyEmail, WeeklySummary, WeekTask
from core.weeks import current_week_start, format_week
from tests.conftest import PASSWORD, register, unique_email
from tests.factories import session_body


def sign_up(client: FlaskClient, **body: Any) -> Any:
    payload = {"email": unique_email(), "password": PASSWORD, "timezone": "Europe/Berlin"}
    return client.post("/v1/accounts", json=payload | body)


def this_week(timezone: str) -> date:
    return current_week_start(timezone, datetime.now(UTC))


# ---- create ---------------------------------------------------------------------------


def test_create_with_defaults(client: FlaskClient) -> None:
    email = unique_email()
    response = sign_up(client, email=email, timezone="America/New_York")
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == email
    assert body["timezone"] == "America/New_York"
    assert (body["sessions_per_week"], body["minutes_per_week"], body["weekly_email"]) == (
        3,
        0,
        False,
    )
    uuid.UUID(body["id"])
    assert body["plan_history"] == [
        {
            "effective_week": format_week(this_week("America/New_York")),
            "sessions_per_week": 3,
            "minutes_per_week": 0,
            "recorded_at": body["plan_history"][0]["recorded_at"],
        }
    ]
    assert "password" not in body and "password_hash" not in body


def test_create_with_a_plan_and_the_weekly_email(client: FlaskClient) -> None:
    body = sign_up(client, sessions_per_week=21, minutes_per_week=1200, weekly_email=True)
    assert body.status_code == 201
    got = body.get_json()
    assert (got["sessions_per_week"], got["minutes_per_week"], got["weekly_email"]) == (
        21,
        1200,
        True,
    )


def test_duplicate_email_is_a_409_whatever_its_case(client: FlaskClient) -> None:
    email = unique_email("Rosa")
    assert sign_up(client, email=email).status_code == 201
    again = sign_up(client, email=email.upper())
    assert again.status_code == 409
    assert again.content_type == "application/problem+json"
    problem = again.get_json()
    assert problem["status"] == 409
    assert list(problem["errors"]) == ["email"]
    # the account that exists is untouched: its password still signs in
    token = client.post(
        "/v1/tokens", json={"email": email, "password": PASSWORD, "device_name": "phone"}
    )
    assert token.status_code == 201


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"password": "short"}, "password"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "CEST"}, "timezone"),
        ({"sessions_per_week": 22}, "sessions_per_week"),
        ({"sessions_per_week": -1}, "sessions_per_week"),
        ({"minutes_per_week": 1201}, "minutes_per_week"),
        ({"sessions_per_week": "three"}, "sessions_per_week"),
        ({"weekly_email": "sometimes"}, "weekly_email"),
    ],
)
def test_invalid_fields_are_422_with_the_field_named(
    client: FlaskClient, changes: dict[str, Any], field: str
) -> None:
    response = sign_up(client, **changes)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_every_bad_field_is_reported_at_once(client: FlaskClient) -> None:
    response = client.post(
        "/v1/accounts", json={"email": "x", "password": "short", "timezone": "Nowhere/Land"}
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"email", "password", "timezone"}


def test_missing_required_fields(client: FlaskClient) -> None:
    response = client.post("/v1/accounts", json={})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"email", "password", "timezone"}


def test_unknown_and_server_fields_are_ignored(client: FlaskClient) -> None:
    forged_id = str(uuid.uuid4())
    response = sign_up(
        client,
        id=forged_id,
        account=str(uuid.uuid4()),
        account_id=str(uuid.uuid4()),
        created_at="2001-01-01T00:00:00Z",
        updated_at="2001-01-01T00:00:00Z",
        password_hash="$argon2id$forged",
        change_seq=99,
        plan_history=[{"effective_week": "2001-W01", "sessions_per_week": 9}],
        favourite_colour="teal",
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] != forged_id
    assert not body["created_at"].startswith("2001")
    assert [p["effective_week"] for p in body["plan_history"]] == [
        format_week(this_week("Europe/Berlin"))
    ]
    assert "favourite_colour" not in body


# ---- /v1/me ---------------------------------------------------------------------------


def test_get_me(client: FlaskClient) -> None:
    user = register(client, sessions_per_week=4)
    me = client.get("/v1/me", headers=user["headers"])
    assert me.status_code == 200
    body = me.get_json()
    assert body["id"] == user["account"]["id"]
    assert body["sessions_per_week"] == 4
    assert len(body["plan_history"]) == 1


def test_plan_change_is_recorded_with_the_current_week(client: FlaskClient) -> None:
    user = register(client, timezone="Pacific/Kiritimati")
    response = client.patch("/v1/me", json={"sessions_per_week": 5}, headers=user["headers"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["sessions_per_week"] == 5
    assert body["minutes_per_week"] == 0  # unchanged part of the plan is carried over
    latest = body["plan_history"][-1]
    assert latest["effective_week"] == format_week(this_week("Pacific/Kiritimati"))
    assert (latest["sessions_per_week"], latest["minutes_per_week"]) == (5, 0)
    assert len(body["plan_history"]) == 2
    assert client.get("/v1/me", headers=user["headers"]).get_json() == body


def test_backdated_plan_change_is_accepted(client: FlaskClient) -> None:
    user = register(client)
    two_weeks_ago = format_week(this_week("Europe/Berlin") - timedelta(weeks=2))
    response = client.patch(
        "/v1/me",
        json={"minutes_per_week": 90, "plan_effective_week": two_weeks_ago},
        headers=user["headers"],
    )
    assert response.status_code == 200
    latest = response.get_json()["plan_history"][-1]
    assert latest["effective_week"] == two_weeks_ago
    assert (latest["sessions_per_week"], latest["minutes_per_week"]) == (3, 90)
    # even a week before the account existed
    older = client.patch(
        "/v1/me",
        json={"sessions_per_week": 2, "plan_effective_week": "2020-W01"},
        headers=user["headers"],
    )
    assert older.status_code == 200
    assert [p["effective_week"] for p in older.get_json()["plan_history"]][-1] == "2020-W01"


def test_future_plan_week_is_422_and_records_nothing(client: FlaskClient) -> None:
    user = register(client)
    next_week = format_week(this_week("Europe/Berlin") + timedelta(weeks=1))
    response = client.patch(
        "/v1/me",
        json={"sessions_per_week": 7, "plan_effective_week": next_week},
        headers=user["headers"],
    )
    assert response.status_code == 422
    assert "plan_effective_week" in response.get_json()["errors"]
    me = client.get("/v1/me", headers=user["headers"]).get_json()
    assert me["sessions_per_week"] == 3 and len(me["plan_history"]) == 1


@pytest.mark.parametrize("week", ["2026-W54", "2025-W53", "2026-W00", "2026-47", "", "W47", 47])
def test_invalid_plan_weeks_are_422(client: FlaskClient, week: Any) -> None:
    user = register(client)
    response = client.patch(
        "/v1/me",
        json={"sessions_per_week": 4, "plan_effective_week": week},
        headers=user["headers"],
    )
    assert response.status_code == 422
    assert "plan_effective_week" in response.get_json()["errors"]


def test_patch_validates_fields_like_create(client: FlaskClient) -> None:
    user = register(client)
    response = client.patch(
        "/v1/me",
        json={"sessions_per_week": 30, "timezone": "Nowhere/Land"},
        headers=user["headers"],
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"sessions_per_week", "timezone"}


def test_patch_email_to_a_taken_one_is_409(client: FlaskClient) -> None:
    alice, bob = register(client), register(client)
    response = client.patch(
        "/v1/me",
        json={"email": alice["email"].upper(), "current_password": PASSWORD},
        headers=bob["headers"],
    )
    assert response.status_code == 409
    assert "email" in response.get_json()["errors"]


def test_patch_without_plan_fields_records_no_plan_change(client: FlaskClient) -> None:
    user = register(client)
    response = client.patch(
        "/v1/me", json={"weekly_email": True, "id": str(uuid.uuid4())}, headers=user["headers"]
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["weekly_email"] is True
    assert body["id"] == user["account"]["id"]
    assert len(body["plan_history"]) == 1


def test_password_change_revokes_other_tokens_but_keeps_the_callers(client: FlaskClient) -> None:
    user = register(client)
    other = client.post(
        "/v1/tokens", json={"email": user["email"], "password": PASSWORD, "device_name": "tablet"}
    ).get_json()
    other_headers = {"Authorization": f"Bearer {other['token']}"}
    assert client.get("/v1/me", headers=other_headers).status_code == 200

    new_password = "a much longer new passphrase"
    changed = client.patch(
        "/v1/me",
        json={"password": new_password, "current_password": PASSWORD},
        headers=user["headers"],
    )
    assert changed.status_code == 200
    assert "password" not in changed.get_json()

    assert client.get("/v1/me", headers=other_headers).status_code == 401
    assert client.get("/v1/me", headers=user["headers"]).status_code == 200
    listed = client.get("/v1/tokens", headers=user["headers"]).get_json()["items"]
    assert [t["id"] for t in listed] == [user["token"]["id"]]
    old = {"email": user["email"], "password": PASSWORD, "device_name": "x"}
    assert client.post("/v1/tokens", json=old).status_code == 401
    new = old | {"password": new_password}
    assert client.post("/v1/tokens", json=new).status_code == 201


# ---- delete and export ----------------------------------------------------------------


def _owned_tables() -> list[Table]:
    return [t for t in load_all().sorted_tables if "account_id" in t.c]


def _rows_per_table(db: Session, account_id: uuid.UUID) -> dict[str, int]:
    counts = {
        table.name: db.scalar(
            select(func.count()).select_from(table).where(table.c.account_id == account_id)
        )
        or 0
        for table in _owned_tables()
    }
    accounts = load_all().tables["accounts"]
    counts["accounts"] = (
        db.scalar(select(func.count()).select_from(accounts).where(accounts.c.id == account_id))
        or 0
    )
    return counts


def _fill_pipeline_tables(db: Session, account_id: uuid.UUID) -> None:
    """The weekly pipeline's rows, so deletion is proven on every table an account owns."""
    week = date(2026, 11, 16)
    db.add(
        WeeklySummary(
            account_id=account_id,
            week=week,
            sessions=1,
            active_days=1,
            minutes=Decimal("10.0"),
            target=3,
            minutes_target=0,
            target_met=False,
            streak_weeks=0,
            worsened_sessions=0,
            by_region=[],
            by_tool=[],
            version=1,
            computed_at=datetime.now(UTC),
        )
    )
    db.add(WeekTask(account_id=account_id, week=week, reason="final"))
    db.add(WeeklyEmail(account_id=account_id, week=week, status="sent"))
    db.flush()


def test_delete_me_removes_every_row_in_every_table(client: FlaskClient, db: Session) -> None:
    user, bystander = register(client), register(client)
    account_id = uuid.UUID(user["account"]["id"])
    headers = user["headers"]
    client.patch("/v1/me", json={"sessions_per_week": 5}, headers=headers)
    client.post(
        "/v1/sync/push", json={"sessions": [session_body() for _ in range(3)]}, headers=headers
    )
    client.post("/v1/sync/push", json={"sessions": [session_body()]}, headers=bystander["headers"])
    _fill_pipeline_tables(db, account_id)
    _fill_pipeline_tables(db, uuid.UUID(bystander["account"]["id"]))

    before = _rows_per_table(db, account_id)
    # A table that holds nothing here proves nothing: give it rows above when one is added.
    assert all(before.values()), before
    bystander_before = _rows_per_table(db, uuid.UUID(bystander["account"]["id"]))

    response = client.delete("/v1/me", json={"password": PASSWORD}, headers=headers)
    assert response.status_code == 204
    assert response.data == b""

    # Nothing left but the record that the deletion happened: no address, no data.
    assert _rows_per_table(db, account_id) == dict.fromkeys(before, 0) | {"audit_events": 1}
    assert db.execute(
        text("SELECT action, ip, token_id, detail FROM audit_events WHERE account_id = :a"),
        {"a": account_id},
    ).all() == [("account_deleted", None, None, None)]
    assert _rows_per_table(db, uuid.UUID(bystander["account"]["id"])) == bystander_before
    gone = client.get("/v1/me", headers=headers)
    assert gone.status_code == 401
    assert gone.content_type == "application/problem+json"
    assert client.get("/v1/sync/pull", headers=headers).status_code == 401
    assert client.post("/v1/tokens", json={**_login(user)}).status_code == 401
    # the email is free again
    assert sign_up(client, email=user["email"]).status_code == 201


def _login(user: dict[str, Any]) -> dict[str, str]:
    return {"email": user["email"], "password": PASSWORD, "device_name": "phone"}


def test_export_holds_everything_the_account_owns(client: FlaskClient) -> None:
    user = register(client)
    headers = user["headers"]
    second = client.post("/v1/tokens", json=_login(user)).get_json()
    client.patch(
        "/v1/me", json={"sessions_per_week": 4, "plan_effective_week": "2026-W40"}, headers=headers
    )
    kept, doomed = session_body(note="kept"), session_body(note="doomed")
    client.post("/v1/sync/push", json={"sessions": [kept, doomed]}, headers=headers)
    assert client.delete(f"/v1/sessions/{doomed['id']}", headers=headers).status_code == 204
    other = register(client)
    client.post("/v1/sync/push", json={"sessions": [session_body()]}, headers=other["headers"])

    response = client.get("/v1/me/export", headers=headers)
    assert response.status_code == 200
    export = response.get_json()
    assert set(export) >= {"account", "tokens", "sessions", "exported_at"}
    assert export["account"]["id"] == user["account"]["id"]
    assert [p["effective_week"] for p in export["account"]["plan_history"]][-1] == "2026-W40"
    assert {t["id"] for t in export["tokens"]} == {user["token"]["id"], second["id"]}
    for token in export["tokens"]:
        assert set(token) == {"id", "device_name", "created_at", "last_used_at"}
    by_id = {s["id"]: s for s in export["sessions"]}
    assert set(by_id) == {kept["id"], doomed["id"]}
    assert by_id[doomed["id"]]["deleted"] is True
    assert by_id[kept["id"]]["note"] == "kept" and by_id[kept["id"]]["deleted"] is False
    text = response.get_data(as_text=True)
    for secret in (user["token"]["token"], second["token"], "secret_hash", "password", "$argon2"):
        assert secret not in text


def test_the_export_walks_the_schema_so_no_table_an_account_owns_is_left_out(
    client: FlaskClient, db: Session
) -> None:
    user = register(client)
    account_id = uuid.UUID(user["account"]["id"])
    client.post("/v1/sync/push", json={"sessions": [session_body()]}, headers=user["headers"])
    _fill_pipeline_tables(db, account_id)
    export = client.get("/v1/me/export", headers=user["headers"]).get_json()
    rows = _rows_per_table(db, account_id)
    shown = {"accounts": 1, "plan_changes": len(export["account"]["plan_history"])}
    shown |= {"tokens": len(export["tokens"]), "sessions": len(export["sessions"])}
    shown |= {name: len(records) for name, records in export["records"].items()}
    # Every table with an account_id (found in the metadata, as a new table would be)
    # is in the export with every row of this account, and with nothing else.
    assert set(shown) == {t.name for t in _owned_tables()} | {"accounts"}
    assert {name: shown[name] for name in rows} == rows | {"audit_events": shown["audit_events"]}
    assert shown["audit_events"] == rows["audit_events"] - 1  # this export's own event
    assert export["records"]["weekly_summaries"][0]["week"] == "2026-11-16"


def test_sessions_export_as_csv_a_spreadsheet_can_open_safely(client: FlaskClient) -> None:
    user = register(client)
    kept = session_body(note='=HYPERLINK("http://evil")', pain_before=7, pain_after=3)
    gone = session_body()
    client.post("/v1/sync/push", json={"sessions": [kept, gone]}, headers=user["headers"])
    client.delete(f"/v1/sessions/{gone['id']}", headers=user["headers"])

    reply = client.get("/v1/me/export/sessions.csv", headers=user["headers"])
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in reply.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True))))
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == {kept["id"], gone["id"]}
    assert by_id[kept["id"]]["note"] == '\'=HYPERLINK("http://evil")'  # not a formula
    assert (by_id[kept["id"]]["pain_before"], by_id[kept["id"]]["pain_after"]) == ("7", "3")
    assert by_id[gone["id"]]["deleted"] == "true"
    assert client.get("/v1/me/export/sessions.csv").status_code == 401


def test_deleting_the_account_needs_the_password_again(client: FlaskClient) -> None:
    user = register(client)
    wrong = client.delete("/v1/me", json={"password": "not my password"}, headers=user["headers"])
    assert wrong.status_code == 403
    assert wrong.content_type == "application/problem+json"
    unconfirmed = client.delete("/v1/me", headers=user["headers"])  # no body at all
    assert unconfirmed.status_code == 400 and unconfirmed.content_type == "application/problem+json"
    assert client.get("/v1/me", headers=user["headers"]).status_code == 200  # still there


def test_the_audit_log_records_sign_ins_tokens_and_exports_without_private_data(
    client: FlaskClient, db: Session
) -> None:
    user = register(client)
    account_id = uuid.UUID(user["account"]["id"])
    headers = user["headers"]
    client.post("/v1/tokens", json={**_login(user), "password": "wrong password!"})
    client.post("/v1/tokens", json={**_login(user), "email": unique_email()})  # nobody's
    second = client.post("/v1/tokens", json=_login(user)).get_json()
    client.delete(f"/v1/tokens/{second['id']}", headers=headers)
    client.get("/v1/me/export", headers=headers)
    client.get("/v1/me/export/sessions.csv", headers=headers)
    client.patch(
        "/v1/me",
        json={"password": "a brand new passphrase", "current_password": PASSWORD},
        headers=headers,
    )

    events = db.execute(
        text(
            "SELECT action, token_id, detail, ip FROM audit_events "
            "WHERE account_id = :a ORDER BY id"
        ),
        {"a": account_id},
    ).all()
    assert [(e.action, e.detail) for e in events] == [
        ("token_issued", None),  # register()'s sign-in
        ("login_failed", None),
        ("token_issued", None),
        ("token_revoked", None),
        ("exported", "json"),
        ("exported", "csv"),
        ("password_changed", None),
    ]
    assert str(events[3].token_id) == second["id"]
    assert all(e.ip for e in events[:-1])  # the client's address, for a security review
    everything = str(db.execute(text("SELECT * FROM audit_events")).all())
    for private in (user["email"], PASSWORD, "wrong password!", user["token"]["token"]):
        assert private not in everything
