"""`knotlog demo`: five people's months of sessions synced, summarised, reported, mailed.

Runs on the embedded database by default; see knotlog/demo_people.py for the people.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from werkzeug.serving import make_server

from core.migrate import upgrade
from core.settings import Settings
from core.weeks import format_week, week_start
from knotlog.demo_people import DEMO_PASSWORD, DEMO_WEEKS, PEOPLE, sessions_of


class Phone:
    """A minimal HTTP client, as a phone app would call the API."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def run_demo(settings: Settings) -> int:
    from api import create_app

    print(f"database: {_describe(settings.database_url or '')}")
    upgrade(settings.database_url)
    print("schema migrated to the newest revision")

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep the tour readable
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"API serving on {base} for this demo\n")
    try:
        phones = _sync_everyone(base)
        if phones is None:
            return 1
        week = _weekly_run(settings)
        _last_week_table(phones, week)
        _where_to_look(settings, phones, week)
    finally:
        server.shutdown()
    _next_steps()
    return 0


def _sync_everyone(base: str) -> dict[str, Phone] | None:
    """Each person signs up (or signs in again), pushes their months from their devices."""
    today = datetime.now(UTC).date()
    phones: dict[str, Phone] = {}
    for person in PEOPLE:
        anonymous = Phone(base)
        status, body = anonymous.call(
            "POST",
            "/v1/accounts",
            {
                "email": person.email,
                "password": DEMO_PASSWORD,
                "timezone": person.timezone,
                "sessions_per_week": person.sessions_per_week,
                "minutes_per_week": person.minutes_per_week,
                "weekly_email": person.weekly_email,
            },
        )
        if status not in (201, 409):
            print(f"could not create {person.name}'s account: {status} {body}")
            return None
        devices = []
        for device in person.devices:
            status, body = anonymous.call(
                "POST",
                "/v1/tokens",
                {"email": person.email, "password": DEMO_PASSWORD, "device_name": device},
            )
            if status != 201:
                print(f"could not sign in {person.name}'s {device}: {status} {body}")
                return None
            devices.append(Phone(base, body["token"]))
        phones[person.name] = devices[0]
        if person.plan_change is not None:
            weeks_ago, per_week = person.plan_change
            effective = format_week(week_start(today) - timedelta(weeks=weeks_ago))
            devices[0].call(
                "PATCH", "/v1/me", {"sessions_per_week": per_week, "plan_effective_week": effective}
            )
        sessions = sessions_of(person, today)
        counts: dict[str, int] = {}
        for position, phone in enumerate(devices):  # the devices share the history
            _, body = phone.call(
                "POST", "/v1/sync/push", {"sessions": sessions[position :: len(devices)]}
            )
            for result in body["results"]:
                counts[result["status"]] = counts.get(result["status"], 0) + 1
        print(
            f"{person.name:<6} ({person.story}, {person.timezone}) pushed {len(sessions)} "
            f"sessions from {len(devices)} device(s): {counts}"
        )
    _show_sync(phones["Anna"], base)
    return phones


def _show_sync(phone: Phone, base: str) -> None:
    """A malformed item is refused on its own; another device pulls in pages."""
    _, body = phone.call("GET", "/v1/sessions?limit=1")
    bad = dict(body["items"][0], id=str(uuid.uuid4()), started_at="2026-11-20T07:30", pain_after=14)
    _, body = phone.call("POST", "/v1/sync/push", {"sessions": [bad]})
    print(f"\na malformed session is refused item by item: {body['results'][0]['errors']}")
    laptop_token = Phone(base).call(
        "POST",
        "/v1/tokens",
        {"email": PEOPLE[0].email, "password": DEMO_PASSWORD, "device_name": "laptop"},
    )[1]["token"]
    laptop = Phone(base, laptop_token)
    pulled, cursor, pages = 0, None, 0
    while True:
        query = "/v1/sync/pull?limit=50" + (f"&cursor={cursor}" if cursor else "")
        _, body = laptop.call("GET", query)
        pulled += len(body["changes"])
        cursor, pages = body["cursor"], pages + 1
        if not body["has_more"]:
            break
    print(f"Anna's laptop pulled {pulled} changes in {pages} pages\n")


def _weekly_run(settings: Settings) -> date:
    """Summarise everyone's finished weeks and write the reports; mail only the latest week.

    The older weeks are a backfill (no email). Run again, it rewrites the same reports
    and sends no second email.
    """
    from sqlalchemy import select

    from core.database import Database
    from core.models.account import Account
    from core.services.week_tasks import enqueue_weeks
    from jobs.scheduler import build_pipeline
    from jobs.weekly import process_tasks

    database = Database.from_settings(settings, pool_size=2)
    latest_final = week_start((datetime.now(UTC) - timedelta(hours=6)).date()) - timedelta(weeks=1)
    earlier = [latest_final - timedelta(weeks=k) for k in range(DEMO_WEEKS - 1, 0, -1)]
    emails = [person.email for person in PEOPLE]
    with database.session() as db:
        for account_id in db.scalars(select(Account.id).where(Account.email.in_(emails))):
            enqueue_weeks(db, earlier, account_id, send_email=False)
            enqueue_weeks(db, [latest_final], account_id, send_email=True)
    pipeline = build_pipeline(database, settings)
    try:
        stats = process_tasks(pipeline)
    finally:
        pipeline.close()
    print(f"weekly pipeline: {stats.line()}")
    if stats.emails == 0:
        print("  (this week's emails went out on an earlier run: never twice)")
    database.engine.dispose()
    return latest_final


def _last_week_table(phones: dict[str, Phone], week: date) -> None:
    label = format_week(week)
    print(f"\n{label}   sessions  adherence  minutes  relief  meaningful  baseline  streak")
    for person in PEOPLE:
        status, summary = phones[person.name].call("GET", f"/v1/summaries/{label}")
        if status != 200:
            print(f"{person.name:<8} no summary ({status})")
            continue
        print(
            f"{person.name:<8} {summary['sessions']:>4} / {summary['target']:<3}"
            f"{_figure(summary['adherence'], '.0%'):>10}{summary['minutes']:>9.1f}"
            f"{_figure(summary['mean_relief'], '.2f'):>8}"
            f"{_figure(summary['meaningful_relief_share'], '.0%'):>12}"
            f"{_figure(summary['baseline_trend'], '+.2f'):>10}{summary['streak_weeks']:>8}"
        )


def _figure(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _where_to_look(settings: Settings, phones: dict[str, Phone], week: date) -> None:
    from core.reports.store import weekly_keys

    label = format_week(week)
    store = settings.reports_url.removeprefix("file://")
    print("\nreports (HTML):")
    for person in PEOPLE:
        _, me = phones[person.name].call("GET", "/v1/me")
        _, html_key = weekly_keys(uuid.UUID(me["id"]), label)
        print(f"  {person.name:<6} {store}/{html_key}")
    if settings.smtp_url:
        print(f"emails: sent through {settings.smtp_url.split('@')[-1]}")
        return
    outbox = (settings.data_dir / "outbox").resolve()
    mailed = sorted(outbox.glob("*.eml"))
    print(f"emails ({len(mailed)} in {outbox}; the opted-in, once per week):")
    for path in mailed[-len(PEOPLE) :]:
        print(f"  {path}")


def _next_steps() -> None:
    print("\nnext steps:")
    print("  knotlog serve                      # the API on http://127.0.0.1:8000 (docs at /docs)")
    print("  curl -s -X POST localhost:8000/v1/tokens -H 'Content-Type: application/json' \\")
    print(
        f'       -d \'{{"email":"{PEOPLE[0].email}","password":"{DEMO_PASSWORD}",'
        '"device_name":"curl"}\''
    )
    print("  curl -s localhost:8000/v1/sessions -H 'Authorization: Bearer <token>'")
    print("  knotlog clock                      # the weekly pipeline every 5 minutes")
    print("  knotlog weekly --week 2026-W47     # recompute one week (or --to a range)")


def _describe(url: str) -> str:
    if "host=/" in url:
        return "embedded PostgreSQL (started or reused from KNOTLOG_DATA_DIR, default ./var)"
    return url.split("@")[-1]
