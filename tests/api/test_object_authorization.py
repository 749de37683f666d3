"""OWASP API1: every path of openapi.yaml, called with one account's token on another
account's ids, answers 404 and shows none of the other account's data."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.models.weekly import WeeklySummary
from tests.conftest import register
from tests.factories import session_body

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
# A signed report link is a capability (it is what the weekly email carries): whoever
# holds it may open that one report, by design, so it is not an object id to probe.
CAPABILITY_PATHS = {"/v1/report-pages/{token}"}
WEEK = date(2026, 11, 16)


def _owner_with_data(client: FlaskClient, db: Session) -> tuple[dict[str, Any], dict[str, str]]:
    owner = register(client)
    session = session_body(note="owner's private note 5c1e")
    client.post("/v1/sync/push", json={"sessions": [session]}, headers=owner["headers"])
    db.add(
        WeeklySummary(
            account_id=uuid.UUID(owner["account"]["id"]), week=WEEK, sessions=4, active_days=3,
            minutes=Decimal("52.5"), target=3, minutes_target=0, target_met=True,
            streak_weeks=2, worsened_sessions=0, by_region=[], by_tool=[], version=1,
            computed_at=datetime.now(UTC),
        )
    )  # fmt: skip
    db.flush()
    ids = {"session_id": session["id"], "token_id": owner["token"]["id"], "week": "2026-W47"}
    return owner, ids


def test_every_path_with_an_id_refuses_another_accounts_objects(
    client: FlaskClient, db: Session
) -> None:
    owner, ids = _owner_with_data(client, db)
    intruder = register(client)
    secrets = [*ids.values(), owner["account"]["id"], owner["email"], "5c1e"]
    secrets.remove("2026-W47")  # a week label is not secret; its figures are

    probed = []
    for path, operations in SPEC["paths"].items():
        item = {m: op for m, op in operations.items() if m in {"get", "patch", "delete", "put"}}
        names = re.findall(r"{(\w+)}", path)
        if not names or path in CAPABILITY_PATHS:
            continue
        url = path.format(**{name: ids[name] for name in names})
        # PUT last: it creates the intruder's own object under that id (ids are per account).
        for method in sorted(item, key=["get", "patch", "delete", "put"].index):
            body = session_body(id=ids["session_id"]) if method == "put" else None
            reply = client.open(url, method=method.upper(), json=body, headers=intruder["headers"])
            text = reply.get_data(as_text=True)
            # (A PUT echoes the id it was given: the intruder's own new session.)
            hidden = [s for s in secrets if not (method == "put" and s == ids["session_id"])]
            assert not any(s in text for s in hidden), (method, url, text)
            if method == "put":
                # Ids are scoped to the account: this creates the intruder's own session.
                assert reply.status_code == 201, (url, reply.status_code)
            else:
                assert reply.status_code == 404, (method, url, reply.status_code)
                assert "52.5" not in text
            probed.append(f"{method.upper()} {path}")
    assert len(probed) >= 6, probed

    # The owner's objects are all still there, unchanged.
    mine = client.get(f"/v1/sessions/{ids['session_id']}", headers=owner["headers"])
    assert mine.status_code == 200 and mine.get_json()["note"] == "owner's private note 5c1e"
    assert client.get("/v1/summaries/2026-W47", headers=owner["headers"]).status_code == 200
    assert client.get("/v1/me", headers=owner["headers"]).status_code == 200  # token not revoked


def test_list_endpoints_show_only_the_callers_own_objects(client: FlaskClient, db: Session) -> None:
    owner, ids = _owner_with_data(client, db)
    intruder = register(client)
    for path in ("/v1/sessions", "/v1/sync/pull", "/v1/tokens", "/v1/summaries", "/v1/me/export"):
        reply = client.get(path, headers=intruder["headers"])
        assert reply.status_code == 200, path
        text = reply.get_data(as_text=True)
        assert ids["session_id"] not in text and ids["token_id"] not in text, path
        assert owner["account"]["id"] not in text and "5c1e" not in text, path
