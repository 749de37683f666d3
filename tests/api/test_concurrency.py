"""Concurrent devices against the live server: a puller never misses a change, replays are safe.

Why a pull cannot skip: every write of an account first locks the account row,
then takes the next numbers of that account's own counter and commits. So an
account's sequence numbers become visible in order, and a pull that has seen
number N never later meets a newly committed number below N, which is exactly
what a global sequence or a timestamp cursor allows.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.conftest import PASSWORD, unique_email
from tests.factories import session_body

WRITERS = 4
BATCHES = 15


def _device(base: str, email: str, name: str) -> requests.Session:
    http = requests.Session()
    reply = http.post(
        f"{base}/v1/tokens", json={"email": email, "password": PASSWORD, "device_name": name}
    )
    assert reply.status_code == 201, reply.text
    http.headers["Authorization"] = f"Bearer {reply.json()['token']}"
    return http


def _account(base: str) -> str:
    email = unique_email("concurrent")
    reply = requests.post(
        f"{base}/v1/accounts", json={"email": email, "password": PASSWORD, "timezone": "UTC"}
    )
    assert reply.status_code == 201, reply.text
    return email


def test_a_puller_running_beside_writers_sees_every_final_version(live_server: str) -> None:
    email = _account(live_server)
    final: dict[str, str] = {}  # id -> client_updated_at of the last version pushed
    final_lock = threading.Lock()
    done = threading.Event()
    seen: dict[str, str] = {}

    def writer(n: int) -> None:
        device = _device(live_server, email, f"writer {n}")
        mine: list[dict[str, Any]] = []
        for batch in range(BATCHES):
            fresh = [session_body() for _ in range(3)]
            # Also edit one of this device's earlier sessions: updates must reach the puller.
            edits = []
            if mine:
                old = mine[batch % len(mine)]
                stamp = datetime.fromisoformat(old["client_updated_at"]) + timedelta(seconds=1)
                old.update(note=f"edited in batch {batch}", client_updated_at=stamp.isoformat())
                edits.append(dict(old))
            items = fresh + edits
            reply = device.post(f"{live_server}/v1/sync/push", json={"sessions": items})
            assert reply.status_code == 200, reply.text
            assert {r["status"] for r in reply.json()["results"]} <= {"created", "updated"}
            mine.extend(fresh)
            with final_lock:
                for item in items:
                    final[item["id"]] = item["client_updated_at"]

    def puller() -> None:
        device = _device(live_server, email, "puller")
        cursor = None
        while True:
            finishing = done.is_set()  # read before the pull: a last full drain follows
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = device.get(f"{live_server}/v1/sync/pull", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            for change in body["changes"]:
                seen[change["id"]] = change["client_updated_at"]
            cursor = body["cursor"]
            if finishing and not body["has_more"]:
                return
            if not body["has_more"]:
                time.sleep(0.005)

    pulling = threading.Thread(target=puller)
    pulling.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    done.set()
    pulling.join(timeout=60)

    assert len(final) == WRITERS * BATCHES * 3
    assert {k: _instant(v) for k, v in seen.items()} == {k: _instant(v) for k, v in final.items()}


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(UTC)


def test_the_same_push_sent_50_times_at_once_stores_each_session_once(live_server: str) -> None:
    email = _account(live_server)
    device = _device(live_server, email, "flaky network")
    items = [session_body() for _ in range(20)]

    def send(_: int) -> list[str]:
        reply = requests.post(
            f"{live_server}/v1/sync/push",
            json={"sessions": items},
            headers={"Authorization": device.headers["Authorization"]},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        return [r["status"] for r in reply.json()["results"]]

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(send, range(50)))

    for position in range(len(items)):
        statuses = [reply[position] for reply in replies]
        assert statuses.count("created") == 1
        assert set(statuses) <= {"created", "unchanged"}
    listed = device.get(f"{live_server}/v1/sessions", params={"limit": 500}).json()["items"]
    assert sorted(s["id"] for s in listed) == sorted(i["id"] for i in items)
    pulled = device.get(f"{live_server}/v1/sync/pull", params={"limit": 1000}).json()
    assert len(pulled["changes"]) == 20  # one change each, no duplicates to pull


def test_two_accounts_pushing_the_same_ids_at_once_do_not_interfere(live_server: str) -> None:
    shared = [str(uuid.uuid4()) for _ in range(10)]
    devices = [_device(live_server, _account(live_server), "phone") for _ in range(2)]

    def push(args: tuple[int, requests.Session]) -> None:
        n, device = args
        items = [session_body(id=sid, pain_before=n + 1) for sid in shared]
        reply = device.post(f"{live_server}/v1/sync/push", json={"sessions": items})
        assert [r["status"] for r in reply.json()["results"]] == ["created"] * 10

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(push, enumerate(devices)))
    for n, device in enumerate(devices):
        items = device.get(f"{live_server}/v1/sessions").json()["items"]
        assert {i["pain_before"] for i in items} == {n + 1} and len(items) == 10
