"""`knotlog demo`, the README's main command, on a database of its own: run twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from knotlog.demo_people import PEOPLE
from tests.conftest import create_scratch_database, drop_database


@pytest.fixture
def demo_env(pg_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    url = create_scratch_database(pg_server, "knotlog_demo")
    yield {**os.environ, "DATABASE_URL": url, "KNOTLOG_DATA_DIR": str(tmp_path)}
    drop_database(pg_server, url)


def _demo(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "knotlog.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def test_the_demo_tells_five_stories_and_a_second_run_changes_nothing(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    out = _demo(demo_env)
    table = {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if line.split()
        and line.split()[0] in {p.name for p in PEOPLE}
        and re.match(r"\S+\s+\d+ / \d+", line)
    }
    assert set(table) == {p.name for p in PEOPLE}
    assert table["Dev"][0] == "0"  # stopped logging: an empty last week
    assert int(table["Chloé"][-1]) >= 1  # the traveller kept her streak across zones
    reports = re.findall(r"^\s+\S+\s+(/\S+\.html)$", out, re.MULTILINE)
    assert len(reports) == len(PEOPLE)
    assert all(Path(r).read_text().startswith("<!doctype html>") for r in reports)
    emails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == sum(p.weekly_email for p in PEOPLE)

    again = _demo(demo_env)
    assert "'created'" not in again and "'unchanged'" in again  # replayed, not duplicated
    assert sorted((tmp_path / "outbox").glob("*.eml")) == emails  # never a second email
