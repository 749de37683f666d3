"""bench/weekly: one week summarised for every account, then reports and emails, against limits.

Seeds a scratch database (default 100,000 accounts, 5,000,000 sessions over 8
weeks, generated server-side), summarises the first 7 weeks (the clock's steady
state), then measures in the same run:
  1. compute_week() of week 8 for all accounts vs one hand-written GROUP BY over
     the same week (goal: <= 1.5x);
  2. the whole run (summaries + report objects on S3 + emails over SMTP) in
     report objects/s vs bare boto3 put_object from 16 threads to the same
     endpoint (goal: >= 0.7x), on a subset of accounts (--report-accounts);
  3. peak RSS of this process, and peak PSS of all the run's processes (this one, the
     render workers and their forkserver), goal: < 300 MB.
S3 is moto's server and SMTP an aiosmtpd sink, each in its own process.

    .venv/bin/python -m bench.weekly [--accounts N] [--sessions N] [--report-accounts N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
from sqlalchemy import create_engine, text

from bench.common import free_port, scratch_database, stop, wait_for_port
from core.database import Database
from core.mail import SmtpMailer
from core.metrics.weekly import compute_week
from core.reports.store import PUT_THREADS, S3ReportStore
from core.settings import Settings
from core.weeks import week_start
from jobs.pipeline import Pipeline
from jobs.weekly import process_tasks

WEEKS = 8
GROUP_BY = text(
    """
    SELECT count(*) FROM (
      SELECT account_id, count(*), count(DISTINCT local_date), sum(duration_s),
             avg(pain_before), avg(pain_after), avg(pain_before - pain_after)
      FROM sessions WHERE local_date >= :w AND local_date < :w + 7 AND NOT deleted
      GROUP BY account_id) g
    """
)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def seed(database: Database, accounts: int, sessions: int, first_monday: date) -> None:
    per_account = max(1, sessions // accounts)
    chunk = 10_000
    with database.session() as db:
        db.execute(
            text(
                """
                INSERT INTO accounts (id, email, password_hash, timezone, weekly_email,
                                      change_seq, created_at)
                SELECT gen_random_uuid(), 'bench-' || i || '@example.com', 'not-a-hash',
                       (ARRAY['UTC', 'Europe/Berlin', 'America/New_York'])[1 + i % 3],
                       true, :per, now() - interval '12 weeks'
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": accounts, "per": per_account},
        )
        db.execute(
            text(
                """
                INSERT INTO plan_changes (account_id, effective_week, sessions_per_week,
                                          minutes_per_week)
                SELECT id, CAST(:monday AS date) - 28, 3 + abs(hashtext(email)) % 4, 60
                FROM accounts
                """
            ),
            {"monday": first_monday},
        )
    ids = []
    with database.session() as db:
        ids = list(db.execute(text("SELECT id FROM accounts ORDER BY id")).scalars())
    for start in range(0, len(ids), chunk):
        with database.session() as db:
            db.execute(
                text(
                    """
                    INSERT INTO sessions (account_id, id, started_at, utc_offset_s, local_date,
                        duration_s, region, tool, side, pain_before, pain_after, note,
                        client_updated_at, deleted, seq)
                    SELECT a, gen_random_uuid(), t, 0, t::date, 300 + (random() * 1200)::int,
                           (ARRAY['neck','shoulders','upper_back','lower_back','glutes','hips',
                                  'it_band','quadriceps','hamstrings','calves','feet','other'])
                             [1 + (random() * 11)::int],
                           (ARRAY['massage_ball','foam_roller','quadballer','hands',
                                  'therapist','other'])[1 + (random() * 5)::int],
                           NULL, p, greatest(0, p - (random() * 4)::int), NULL, t, false, k
                    FROM (SELECT a, k, 2 + (random() * 7)::int AS p,
                                 CAST(:start AS timestamptz) + random() * interval '56 days' AS t
                          FROM unnest(CAST(:ids AS uuid[])) AS a,
                               generate_series(1, :per) AS k) r
                    """
                ),
                {"ids": ids[start : start + chunk], "per": per_account, "start": first_monday},
            )
        print(f"\r  seeded {min(start + chunk, len(ids)):,} accounts", end="", flush=True)
    print()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def _proc_kb(pid: int | str, file: str, field: str) -> int:
    """One "Field: N kB" line of /proc/<pid>/<file> (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class RenderMemory(threading.Thread):
    """Samples the render workers and their forkserver while the run goes (they exit
    with it): each one's peak RSS, and the peak PSS of the whole pipeline, in which pages
    the processes share (Python, matplotlib) count once instead of once per process."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(daemon=True)
        self.pipeline = pipeline
        self.peak_rss_kb: dict[int, int] = {}
        self.peak_total_pss_kb = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            workers = self.pipeline.renderer.worker_pids()  # a snapshot, safe from here
            parents = {_proc_kb(pid, "status", "PPid") for pid in workers} - {0}
            helpers = [*workers, *parents]
            for pid in helpers:
                peak = _proc_kb(pid, "status", "VmHWM")
                self.peak_rss_kb[pid] = max(self.peak_rss_kb.get(pid, 0), peak)
            total = sum(_proc_kb(pid, "smaps_rollup", "Pss") for pid in ["self", *helpers])
            self.peak_total_pss_kb = max(self.peak_total_pss_kb, total)

    def stop(self) -> None:
        self.done.set()
        self.join()


def bare_boto3_rate(endpoint: str, bucket: str, body: bytes, count: int) -> float:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=boto3.session.Config(max_pool_connections=PUT_THREADS * 2),
    )

    def put(i: int) -> None:
        client.put_object(Bucket=bucket, Key=f"bare/{i}.html", Body=body, ContentType="text/html")

    with ThreadPoolExecutor(PUT_THREADS) as pool:
        seconds = _timed(lambda: list(pool.map(put, range(count))))
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=5_000_000)
    parser.add_argument("--report-accounts", type=int, default=3_000)
    args = parser.parse_args()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)

    latest = week_start(datetime.now(UTC).date()) - timedelta(weeks=2)
    mondays = [latest - timedelta(weeks=WEEKS - 1 - k) for k in range(WEEKS)]
    with scratch_database("weekly") as url:
        engine = create_engine(url, pool_size=4)
        database = Database.from_engine(engine)
        print(f"seeding {args.accounts:,} accounts, {args.sessions:,} sessions over {WEEKS} weeks")
        seconds = _timed(lambda: seed(database, args.accounts, args.sessions, mondays[0]))
        print(f"  seeded in {seconds:.0f} s")

        for k, monday in enumerate(mondays[:-1]):
            with database.session() as db:
                took = _timed(lambda m=monday: compute_week(db, m))  # type: ignore[misc]
            if k == 0:
                print(f"week 1 (no earlier summaries, history from sessions): {took:.2f} s")
        week = mondays[-1]

        # Measured alternately, best of three each, so neither gets a warmer cache.
        compute_times, group_by_times = [], []
        for _ in range(3):
            with database.session() as db:
                group_by_times.append(_timed(lambda: db.execute(GROUP_BY, {"w": week}).one()))
            with database.session() as db:
                compute_times.append(_timed(lambda: compute_week(db, week)))
        compute_s, group_by_s = min(compute_times), min(group_by_times)
        ratio = compute_s / group_by_s
        print(f"summaries of one week, all accounts: {compute_s:.2f} s")
        print(f"hand-written GROUP BY of that week:   {group_by_s:.2f} s")
        print(f"ratio {ratio:.2f}x   goal <= 1.5x: {'PASS' if ratio <= 1.5 else 'FAIL'}")

        s3_port, smtp_port = free_port(), free_port()
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        smtp = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{smtp_port}",
                "-c",
                "aiosmtpd.handlers.Sink",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            endpoint = f"http://127.0.0.1:{s3_port}"
            wait_for_port(s3_port)
            wait_for_port(smtp_port)
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
            settings = Settings.from_env({**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench"})
            store = S3ReportStore(bucket, "reports", endpoint)
            pipeline = Pipeline(
                database, settings, store, SmtpMailer(f"smtp://127.0.0.1:{smtp_port}")
            )

            with database.session() as db:
                db.execute(
                    text(
                        "INSERT INTO week_tasks (account_id, week, reason) "
                        "SELECT id, :w, 'manual_email' FROM accounts ORDER BY id LIMIT :k"
                    ),
                    {"w": week, "k": args.report_accounts},
                )
            started = time.perf_counter()
            memory = RenderMemory(pipeline)
            memory.start()
            stats = process_tasks(pipeline)
            run_s = time.perf_counter() - started
            memory.stop()
            run_rate = stats.reports / run_s
            sample = store.get(store.list_keys("accounts/")[0])
            bare_rate = bare_boto3_rate(endpoint, bucket, sample, max(500, stats.reports // 4))
            print(f"whole run over {args.report_accounts:,} accounts: {stats.line()}")
            print(
                f"report objects/s: run {run_rate:.0f}, bare boto3 x{PUT_THREADS} {bare_rate:.0f}"
            )
            put_ratio = run_rate / bare_rate
            print(
                f"ratio {put_ratio:.2f}x   goal >= 0.7x: {'PASS' if put_ratio >= 0.7 else 'FAIL'}"
            )
        finally:
            stop(moto)
            stop(smtp)
        engine.dispose()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB   goal < 300 MB: {'PASS' if peak_mb < 300 else 'FAIL'}")
    helpers = sorted(round(kb / 1024) for kb in memory.peak_rss_kb.values())
    print(f"  render processes (forkserver and workers), peak RSS each: {helpers} MB")
    total_mb = max(memory.peak_total_pss_kb / 1024, peak_mb)
    print(
        f"whole pipeline, all its processes, peak PSS {total_mb:.0f} MB   goal < 300 MB: "
        f"{'PASS' if total_mb < 300 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
