"""The client developers' end-to-end scenario, with the openapi-python-client client.

The same steps as clients/typescript/src/scenario.ts; tests/clients runs both against
the Procfile's web process. The client package `knotlog_client` is generated from
openapi.yaml (never committed) and must be importable.

Environment: KNOTLOG_BASE_URL, KNOTLOG_WEEK ("2026-W47", a final week), KNOTLOG_MONDAY
(its Monday), KNOTLOG_WEEKLY_COMMAND (a JSON argv that runs `knotlog weekly`).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from datetime import date, timedelta
from typing import Any, TypeVar, cast

from knotlog_client import AuthenticatedClient, Client
from knotlog_client.api.accounts import create_account, delete_me, get_me
from knotlog_client.api.reports import get_report
from knotlog_client.api.summaries import get_summary
from knotlog_client.api.sync import pull_changes, push_sessions
from knotlog_client.api.tokens import create_token
from knotlog_client.models import (
    Account,
    AccountCreate,
    DeleteConfirmation,
    PullReply,
    PushReply,
    PushRequest,
    PushStatus,
    Region,
    ReportLink,
    SessionInput,
    Side,
    Summary,
    TokenCreated,
    TokenRequest,
    Tool,
)
from knotlog_client.types import UNSET

PASSWORD = "correct horse battery staple"
T = TypeVar("T")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"scenario failed: {message}")


def parsed(reply: object, expected: type[T], step: str) -> T:
    """The typed reply, or the scenario fails naming the step and what came back."""
    check(isinstance(reply, expected), f"{step}: got {reply!r}")
    return cast(T, reply)


def main() -> None:
    base_url = os.environ["KNOTLOG_BASE_URL"]
    week = os.environ["KNOTLOG_WEEK"]
    monday = date.fromisoformat(os.environ["KNOTLOG_MONDAY"])
    weekly_command: list[str] = json.loads(os.environ["KNOTLOG_WEEKLY_COMMAND"])

    anonymous = Client(base_url=base_url)
    email = f"py-{uuid.uuid4().hex[:12]}@example.com"
    created = create_account.sync_detailed(
        client=anonymous,
        body=AccountCreate(
            email=email, password=PASSWORD, timezone="Europe/Berlin", weekly_email=True
        ),
    )
    check(created.status_code == 201, f"account created: {created.status_code}")
    account_id = parsed(created.parsed, Account, "account created").id

    def device(name: str) -> AuthenticatedClient:
        reply = create_token.sync(
            client=anonymous, body=TokenRequest(email=email, password=PASSWORD, device_name=name)
        )
        token = parsed(reply, TokenCreated, f"token for {name}").token
        check(token.startswith("knotlog_"), "tokens carry their prefix")
        return AuthenticatedClient(base_url=base_url, token=token)

    phone, tablet, laptop = device("phone"), device("tablet"), device("laptop")

    # A week of sessions: Monday to Thursday logged on the phone, the weekend on the tablet.
    week0: list[dict[str, Any]] = []
    for day in range(7):
        on = (monday + timedelta(days=day)).isoformat()
        week0.append(
            {
                "id": str(uuid.uuid4()),
                "started_at": f"{on}T07:30:00+01:00",
                "duration_s": 600 + 60 * day,
                "region": (Region.LOWER_BACK if day % 2 == 0 else Region.GLUTES).value,
                "tool": (Tool.MASSAGE_BALL if day % 2 == 0 else Tool.FOAM_ROLLER).value,
                "side": Side.BOTH.value,
                "pain_before": 6,
                "pain_after": 3 + day % 2,
                "note": None,
                "client_updated_at": f"{on}T07:45:00+01:00",
            }
        )

    def push(client: AuthenticatedClient, sessions: list[dict[str, Any]]) -> list[PushStatus]:
        body = PushRequest(sessions=[SessionInput.from_dict(s) for s in sessions])
        reply = parsed(push_sessions.sync(client=client, body=body), PushReply, "push")
        return [result.status for result in reply.results]

    check(set(push(phone, week0[:4])) == {PushStatus.CREATED}, "phone's sessions created")
    check(set(push(tablet, week0[4:])) == {PushStatus.CREATED}, "tablet's sessions created")

    def pull_all(cursor: str | None = None) -> tuple[list[Any], str]:
        changes: list[Any] = []
        while True:
            reply = pull_changes.sync(client=laptop, limit=3, cursor=cursor or UNSET)
            page = parsed(reply, PullReply, "pull")
            changes += page.changes
            cursor = page.cursor
            if not page.has_more:
                return changes, cursor

    first, cursor = pull_all()
    check(sorted(str(s.id) for s in first) == sorted(s["id"] for s in week0), "laptop pulled all")

    # Offline on the phone, the week after: a better outcome on Monday, Tuesday's deleted.
    edited_at = f"{monday + timedelta(days=7)}T09:45:00+01:00"
    edits = [
        {**week0[0], "pain_after": 1, "client_updated_at": edited_at},
        {**week0[1], "deleted": True, "client_updated_at": edited_at},
    ]
    statuses = push(phone, edits)
    check(statuses == [PushStatus.UPDATED] * 2, f"phone's offline edits applied: {statuses}")
    statuses = push(phone, edits)
    check(statuses == [PushStatus.UNCHANGED] * 2, f"a replayed push changes nothing: {statuses}")
    # The tablet's older offline edit of the same session loses (last writer wins).
    older = {**week0[0], "pain_after": 5, "client_updated_at": f"{monday}T08:45:00+01:00"}
    check(push(tablet, [older]) == [PushStatus.STALE], "an older edit is stale")

    second, _ = pull_all(cursor)
    by_id = {str(s.id): s for s in second}
    check(len(second) == 2, f"laptop pulled 2 changes, got {len(second)}")
    check(by_id[week0[0]["id"]].pain_after == 1, "the newer edit reached the laptop")
    check(by_id[week0[1]["id"]].deleted is True, "the tombstone reached the laptop")

    # The weekly job, as an operator runs it for one account.
    subprocess.run([*weekly_command, "--week", week, "--account", str(account_id)], check=True)

    kept = [{**s, "pain_after": 1} if s is week0[0] else s for s in week0 if s is not week0[1]]
    summary = parsed(get_summary.sync(client=laptop, week=week), Summary, "summary")
    check(summary.week == week, "summary names its week")
    check(summary.sessions == len(kept), f"sessions {summary.sessions}")
    check(summary.active_days == len(kept), f"active days {summary.active_days}")
    mean_after = round(sum(s["pain_after"] for s in kept) / len(kept) + 1e-9, 2)
    check(summary.mean_pain_after == mean_after, f"mean pain after {summary.mean_pain_after}")
    minutes = sum(s["duration_s"] for s in kept) / 60
    check(abs(summary.minutes - minutes) < 0.051, f"minutes {summary.minutes}")

    # The stored report, through the links the API hands out.
    link = parsed(get_report.sync(client=laptop, week=week), ReportLink, "report links")
    with urllib.request.urlopen(link.json_url, timeout=10) as reply:
        report = json.loads(reply.read())
    check(report["summary"]["sessions"] == len(kept), "JSON report content")
    check(report["summary"]["week"] == week, "JSON report names its week")
    check(report["version"] == summary.version, "report and summary versions agree")
    with urllib.request.urlopen(link.html_url, timeout=10) as reply:
        check(reply.headers.get_content_type() == "text/html", "HTML report")
        check(week in reply.read().decode(), "HTML report names its week")

    # Leaving: the password again, then every device is signed out at once.
    gone = delete_me.sync_detailed(client=phone, body=DeleteConfirmation(password=PASSWORD))
    check(gone.status_code == 204, f"account deleted: {gone.status_code}")
    check(get_me.sync_detailed(client=laptop).status_code == 401, "tokens stop working")

    print(f"python scenario ok: {email} {week}, {len(kept)} sessions, report v{report['version']}")


if __name__ == "__main__":
    main()
