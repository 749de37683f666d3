"""bench/ingest: sessions/s through POST /v1/sync/push on the Procfile's web process vs COPY.

Concurrent clients, each its own account, push fresh sessions in batches of 500
for a bounded time; then the same number of rows is COPYed into an identical
scratch table in the same run. Goals: >= 0.25x the COPY rate, p99 < 4x p50.

    .venv/bin/python -m bench.ingest [--seconds 20] [--clients 4]
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import requests

from bench.common import percentile, scratch_database, web_process
from core.database import libpq_url

BATCH = 500
REGIONS = ["lower_back", "glutes", "hamstrings", "it_band", "quadriceps", "calves"]
TOOLS = ["massage_ball", "foam_roller", "quadballer", "hands"]


def session(now: datetime, n: int) -> dict[str, Any]:
    started = now - timedelta(minutes=n % 50_000)
    return {
        "id": str(uuid.uuid4()),
        "started_at": started.isoformat(),
        "duration_s": 300 + n % 900,
        "region": REGIONS[n % len(REGIONS)],
        "tool": TOOLS[n % len(TOOLS)],
        "side": "both",
        "pain_before": 3 + n % 6,
        "pain_after": 1 + n % 4,
        "note": "slow pressure and release along the lower back, then glutes",
        "client_updated_at": (started + timedelta(minutes=20)).isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    with scratch_database("ingest") as url, web_process(url) as base:
        tokens = []
        for n in range(args.clients):
            email = f"bench-{n}-{uuid.uuid4().hex[:6]}@example.com"
            account = {"email": email, "password": "bench password 1", "timezone": "UTC"}
            requests.post(f"{base}/v1/accounts", json=account).raise_for_status()
            token = requests.post(
                f"{base}/v1/tokens", json={**account, "device_name": "bench"}
            ).json()["token"]
            tokens.append(token)

        latencies: list[float] = []
        pushed = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def client(token: str) -> None:
            http = requests.Session()
            http.headers.update(
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            )
            now, n = datetime.now(UTC), 0
            while time.monotonic() < deadline:
                body = orjson.dumps({"sessions": [session(now, n + i) for i in range(BATCH)]})
                n += BATCH
                started = time.perf_counter()
                reply = http.post(f"{base}/v1/sync/push", data=body)
                took = time.perf_counter() - started
                reply.raise_for_status()
                with lock:
                    latencies.append(took)
                    pushed[0] += BATCH

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        push_rate = pushed[0] / (time.perf_counter() - started)

        copy_rate = copy_rows(url, pushed[0])

    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    ratio = push_rate / copy_rate
    print(f"pushed {pushed[0]:,} sessions in batches of {BATCH} from {args.clients} clients")
    print(f"push {push_rate:,.0f} sessions/s   COPY {copy_rate:,.0f} rows/s")
    print(f"ratio {ratio:.2f}x   goal >= 0.25x: {'PASS' if ratio >= 0.25 else 'FAIL'}")
    print(
        f"latency p50 {p50 * 1000:.0f} ms  p99 {p99 * 1000:.0f} ms  p99/p50 {p99 / p50:.1f}"
        f"   goal < 4: {'PASS' if p99 < 4 * p50 else 'FAIL'}"
    )


def copy_rows(url: str, count: int) -> float:
    """COPY `count` comparable rows into a copy of the sessions table (indexes included)."""
    account = uuid.uuid4()
    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        s = session(now, n)
        started = datetime.fromisoformat(s["started_at"])
        rows.append(
            (
                account,
                uuid.UUID(s["id"]),
                started,
                0,
                started.date(),
                s["duration_s"],
                s["region"],
                s["tool"],
                s["side"],
                s["pain_before"],
                s["pain_after"],
                s["note"],
                datetime.fromisoformat(s["client_updated_at"]),
                False,
                n + 1,
                now,
                now,
            )
        )
    columns = (
        "account_id, id, started_at, utc_offset_s, local_date, duration_s, region, tool, side, "
        "pain_before, pain_after, note, client_updated_at, deleted, seq, created_at, updated_at"
    )
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("CREATE TABLE bench_copy (LIKE sessions INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return count / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
