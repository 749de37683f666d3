"""`knotlog demo`: a phone's-eye tour of the API on the embedded database."""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from werkzeug.serving import make_server

from core import vocab
from core.migrate import upgrade
from core.settings import Settings

DEMO_EMAIL = "demo@knotlog.example"
DEMO_PASSWORD = "demo-password-1234"
DEMO_WEEKS = 6
_NAMESPACE = uuid.UUID("6f0c1f6e-7d2b-4c59-9a7e-3c1f2b8d9e10")


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


def demo_sessions(today: date, weeks: int = DEMO_WEEKS) -> list[dict[str, Any]]:
    """A person in Berlin easing low back pain: 3-5 sessions a week, pain slowly falling."""
    rng = random.Random(47)
    berlin_winter = timezone(timedelta(hours=1))
    sessions = []
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    for day_index in range(7 * weeks):
        day = start + timedelta(days=day_index)
        if day > today or rng.random() > 0.7:
            continue
        progress = day_index / (7 * weeks)
        before = max(1, round(7 - 3 * progress + rng.uniform(-1, 1)))
        region = rng.choice(["lower_back", "lower_back", "glutes", "hamstrings", "it_band"])
        tool = {"lower_back": "massage_ball", "glutes": "massage_ball"}.get(
            region, rng.choice(["foam_roller", "quadballer"])
        )
        started = datetime.combine(day, time(7, rng.randrange(0, 50)), berlin_winter)
        sessions.append(
            {
                "id": str(uuid.uuid5(_NAMESPACE, day.isoformat())),
                "started_at": started.isoformat(),
                "duration_s": rng.randrange(5, 25) * 60,
                "region": region,
                "tool": tool,
                "side": rng.choice(vocab.SIDES),
                "pain_before": before,
                "pain_after": max(0, before - rng.randrange(0, 4)),
                "note": None,
                "client_updated_at": (started + timedelta(minutes=30)).isoformat(),
            }
        )
    return sessions


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
    print(f"API serving on {base} for this demo")
    try:
        status = _tour(base)
    finally:
        server.shutdown()
    if status == 0:
        _weekly_run(settings)
        _next_steps()
    return status


def _weekly_run(settings: Settings) -> None:
    """Summarise the demo's finished weeks, write their reports, email the latest one."""
    from core.database import Database
    from core.models.account import Account
    from core.reports.store import weekly_keys
    from core.services.week_tasks import enqueue_weeks
    from core.weeks import format_week, week_start
    from jobs.scheduler import build_pipeline
    from jobs.weekly import process_tasks

    database = Database.from_settings(settings, pool_size=2)
    latest_final = week_start((datetime.now(UTC) - timedelta(hours=6)).date()) - timedelta(weeks=1)
    weeks = [latest_final - timedelta(weeks=k) for k in range(DEMO_WEEKS - 2, 0, -1)]
    with database.session() as db:
        account_id = db.query(Account.id).filter(Account.email == DEMO_EMAIL).scalar()
        # Older weeks are a backfill (no email); the latest final week is mailed once.
        enqueue_weeks(db, weeks, account_id, send_email=False)
        enqueue_weeks(db, [latest_final], account_id, send_email=True)
    stats = process_tasks(build_pipeline(database, settings))
    print(f"\nweekly pipeline: {stats.line()}")
    if stats.emails == 0:
        print("  (the email for this week went out on an earlier run: never twice)")
    label = format_week(latest_final)
    json_key, html_key = weekly_keys(account_id, label)
    reports = settings.reports_url.removeprefix("file://")
    print(f"  report of {label}: {reports}/{html_key}")
    print(f"                     {reports}/{json_key}")
    if settings.smtp_url:
        print(f"  email: sent through {settings.smtp_url.split('@')[-1]}")
    else:
        outbox = sorted((settings.data_dir / "outbox").glob("*.eml"))
        if outbox:
            print(f"  email: {outbox[-1].resolve()}")
    database.engine.dispose()


def _tour(base: str) -> int:
    anonymous = Phone(base)
    status, body = anonymous.call(
        "POST",
        "/v1/accounts",
        {
            "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
            "timezone": "Europe/Berlin",
            "sessions_per_week": 4,
            "minutes_per_week": 60,
            "weekly_email": True,
        },
    )
    print("account:", "created" if status == 201 else "exists already (demo was run before)")
    if status not in (201, 409):
        print(f"unexpected answer {status}: {body}")
        return 1

    phones = []
    for device in ("demo phone", "demo tablet"):
        status, body = anonymous.call(
            "POST",
            "/v1/tokens",
            {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "device_name": device},
        )
        if status != 201:
            print(f"could not sign in {device}: {status} {body}")
            return 1
        phones.append(Phone(base, body["token"]))
    phone, tablet = phones

    sessions = demo_sessions(datetime.now(UTC).date())
    status, body = phone.call("POST", "/v1/sync/push", {"sessions": sessions})
    counts: dict[str, int] = {}
    for result in body["results"]:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    print(f"phone pushed {len(sessions)} sessions over 6 weeks: {counts}")

    bad = dict(sessions[0], id=str(uuid.uuid4()), started_at="2026-11-20T07:30:00", pain_after=14)
    status, body = phone.call("POST", "/v1/sync/push", {"sessions": [bad]})
    print(f"a malformed session is refused item by item: {body['results'][0]['errors']}")

    pulled, cursor, pages = 0, None, 0
    while True:
        query = "/v1/sync/pull?limit=20" + (f"&cursor={cursor}" if cursor else "")
        status, body = tablet.call("GET", query)
        pulled += len(body["changes"])
        cursor, pages = body["cursor"], pages + 1
        if not body["has_more"]:
            break
    print(f"tablet pulled {pulled} changes in {pages} pages (cursor kept for the next pull)")

    status, body = tablet.call("GET", "/v1/sessions?limit=3")
    for item in body["items"]:
        print(
            f"  {item['local_date']} ({item['week']}) {item['region']:<11} {item['tool']:<13}"
            f" pain {item['pain_before']} -> {item['pain_after']}"
        )

    return 0


def _next_steps() -> None:
    print("\nnext steps:")
    print("  knotlog serve                      # the API on http://127.0.0.1:8000 (docs at /docs)")
    print("  curl -s -X POST localhost:8000/v1/tokens -H 'Content-Type: application/json' \\")
    print(
        f'       -d \'{{"email":"{DEMO_EMAIL}","password":"{DEMO_PASSWORD}",'
        '"device_name":"curl"}\''
    )
    print("  curl -s localhost:8000/v1/sessions -H 'Authorization: Bearer <token>'")
    print("  knotlog clock                      # the weekly pipeline every 5 minutes")
    print("  knotlog weekly --week 2026-W47     # recompute one week (or --to a range)")


def _describe(url: str) -> str:
    if "host=/" in url:
        return "embedded PostgreSQL (started or reused from KNOTLOG_DATA_DIR, default ./var)"
    return url.split("@")[-1]
