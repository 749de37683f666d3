"""bench/pull: 100,000 changes pulled in pages of 1,000 through the web process vs raw SQL.

The limit, measured in the same run: the same rows read by keyset pages of a raw
`SELECT ... ORDER BY seq` and serialised to JSON with orjson. Goal: >= 0.5x.

    .venv/bin/python -m bench.pull [--changes 100000]
"""

from __future__ import annotations

import argparse
import time
import uuid

import orjson
import psycopg
import requests
from psycopg.rows import dict_row

from bench.common import scratch_database, web_process
from core.database import libpq_url

PAGE = 1000
SEED = """
INSERT INTO sessions (account_id, id, started_at, utc_offset_s, local_date, duration_s, region,
                      tool, side, pain_before, pain_after, note, client_updated_at, deleted, seq)
SELECT %(account)s, gen_random_uuid(), t, 3600, (t + interval '1 hour')::date, 600,
       'lower_back', 'foam_roller', 'both', 6, 3, 'slow pressure and release', t, n %% 20 = 0, n
FROM generate_series(1, %(n)s) AS n, LATERAL (SELECT now() - n * interval '5 minutes' AS t) s
"""
RAW_PAGE = """
SELECT id, started_at, utc_offset_s, duration_s, region, tool, side, pain_before, pain_after,
       note, client_updated_at, deleted, local_date, created_at, updated_at, seq
FROM sessions WHERE account_id = %(account)s AND seq > %(after)s ORDER BY seq LIMIT %(limit)s
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=100_000)
    args = parser.parse_args()

    with scratch_database("pull") as url, web_process(url) as base:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        account = {"email": email, "password": "bench password 1", "timezone": "UTC"}
        account_id = requests.post(f"{base}/v1/accounts", json=account).json()["id"]
        token = requests.post(f"{base}/v1/tokens", json={**account, "device_name": "bench"}).json()[
            "token"
        ]
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute(SEED, {"account": account_id, "n": args.changes})
            conn.execute(
                "UPDATE accounts SET change_seq = %(n)s WHERE id = %(a)s",
                {"n": args.changes, "a": account_id},
            )
            conn.commit()
            conn.execute("ANALYZE sessions")
            conn.commit()

        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        pulled, cursor = 0, None
        started = time.perf_counter()
        while True:
            params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
            page = orjson.loads(http.get(f"{base}/v1/sync/pull", params=params).content)
            pulled += len(page["changes"])
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        api_rate = pulled / (time.perf_counter() - started)

        with psycopg.connect(libpq_url(url), row_factory=dict_row) as conn:
            read, after = 0, 0
            started = time.perf_counter()
            while True:
                rows = conn.execute(
                    RAW_PAGE, {"account": account_id, "after": after, "limit": PAGE}
                ).fetchall()
                if not rows:
                    break
                orjson.dumps({"changes": rows}, default=str)
                read += len(rows)
                after = rows[-1]["seq"]
            raw_rate = read / (time.perf_counter() - started)

    ratio = api_rate / raw_rate
    print(f"pulled {pulled:,} changes in pages of {PAGE}")
    print(f"API {api_rate:,.0f} changes/s   raw SELECT + orjson {raw_rate:,.0f} rows/s")
    print(f"ratio {ratio:.2f}x   goal >= 0.5x: {'PASS' if ratio >= 0.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
