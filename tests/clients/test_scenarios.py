"""The client developers' scenario, run by a generated Python and a generated TypeScript client.

Both are generated here from the committed openapi.yaml (never committed) and run
against the Procfile's `web` process on a database of their own, with reports on S3
(moto): register, a token per device, a week pushed from two devices and pulled on a
third, offline edits and a delete, the weekly job, then the summary and the report.
The scenario scripts live in clients/; they fail with the step that went wrong.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.common import web_process
from core.migrate import upgrade
from core.weeks import format_week
from tests.clients.generate import ROOT, generate_python_client, npm, tool_env
from tests.conftest import create_scratch_database, drop_database
from tests.jobs.conftest import latest_final_week
from tests.services import s3_client

WEEKLY_COMMAND = [sys.executable, "-m", "knotlog.cli", "weekly"]


@pytest.fixture(scope="module")
def scenario_env(
    pg_server: str, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """What a scenario needs: the live web process and how to run the weekly job."""
    url = create_scratch_database(pg_server, "knotlog_clients")
    upgrade(url)
    bucket = f"scenario-{os.getpid()}"
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    settings = {
        "DATABASE_URL": url,
        "REPORTS_URL": f"s3://{bucket}/reports",
        "S3_ENDPOINT_URL": s3_endpoint,
        "SECRET_KEY": "scenario-secret",
        "KNOTLOG_DATA_DIR": str(tmp_path_factory.mktemp("knotlog-data")),
    }
    # Two weeks back: final in every time zone, whatever today is.
    monday = latest_final_week() - timedelta(weeks=1)
    try:
        with web_process(url, settings) as base_url:
            yield {
                **tool_env(),
                **settings,
                "KNOTLOG_BASE_URL": base_url,
                "KNOTLOG_WEEK": format_week(monday),
                "KNOTLOG_MONDAY": monday.isoformat(),
                "KNOTLOG_WEEKLY_COMMAND": json.dumps(
                    [sys.executable, "-m", "knotlog.cli", "weekly"]
                ),
            }
    finally:
        drop_database(pg_server, url)


def _run(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command[-1]} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


def test_the_scenario_with_the_generated_python_client(
    scenario_env: dict[str, str], tmp_path: Path
) -> None:
    folder = generate_python_client(tmp_path)
    env = {**scenario_env, "PYTHONPATH": str(folder)}
    out = _run([sys.executable, str(ROOT / "clients" / "python" / "scenario.py")], env)
    assert "python scenario ok" in out


def test_the_scenario_with_the_generated_typescript_client(scenario_env: dict[str, str]) -> None:
    npm("ci", "--no-audit", "--no-fund")  # versions pinned by package-lock.json
    npm("run", "generate")
    npm("run", "typecheck")  # strict: a spec change that breaks typed callers fails here
    npm("run", "build")
    out = _run(["node", "build/scenario.js"], scenario_env, cwd=ROOT / "clients" / "typescript")
    assert "typescript scenario ok" in out


def test_the_web_process_metrics_add_up_every_worker(scenario_env: dict[str, str]) -> None:
    """/metrics of the Procfile's web process (2 gunicorn workers) counts every request,
    whichever worker served it and whichever one answers the scrape."""
    base = scenario_env["KNOTLOG_BASE_URL"]

    def healthz_count() -> float:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "knotlog_http_requests_total"
            and sample.labels.get("route") == "/healthz"
        )

    before = healthz_count()
    for _ in range(40):  # new connections, spread over the workers
        urllib.request.urlopen(f"{base}/healthz", timeout=10).read()
    assert healthz_count() - before == 40
