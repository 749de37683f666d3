"""Render workers: the same documents as inline, and nothing left behind by a killed owner."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from core.reports.bundle import EmailSpec, ReportJob, render_job
from jobs.render_pool import Renderer
from tests.core.test_render import make_inputs, make_summary

ROOT = Path(__file__).resolve().parents[2]


def _jobs(count: int) -> list[ReportJob]:
    spec = EmailSpec("pat@example.com", "knotlog <w@knotlog.example>", "https://r", "https://u")
    return [
        ReportJob(uuid.uuid4(), 1, "Europe/Berlin", make_summary(sessions=i), make_inputs(), spec)
        for i in range(count)
    ]


def test_workers_draw_what_this_process_draws_in_the_same_order() -> None:
    jobs = _jobs(13)
    renderer = Renderer(2)
    try:
        drawn = list(renderer.render(jobs))
        assert renderer.jobs_in_workers == len(jobs)
    finally:
        renderer.close()
    inline = [render_job(job) for job in jobs]
    for job, worker, here in zip(jobs, drawn, inline, strict=True):
        assert worker.html_body == here.html_body  # deterministic: same chart, same page
        assert json.loads(worker.json_body or b"")["account_id"] == str(job.account_id)
        assert worker.email is not None and worker.email.recipients == ("pat@example.com",)


def test_zero_processes_draws_in_this_process() -> None:
    renderer = Renderer(0)
    assert len(list(renderer.render(_jobs(3)))) == 3
    assert renderer.jobs_in_workers == 0 and renderer.worker_pids() == []


def test_an_unusable_address_fails_only_its_email() -> None:
    job = replace(_jobs(1)[0], email=EmailSpec("", "knotlog <w@knotlog.example>", "r", "u"))
    rendered = render_job(job)
    assert rendered.json_body and rendered.html_body  # the reports still stand
    assert rendered.email is None and rendered.email_error is not None
    broken = replace(job, email=EmailSpec("pat@example.com", "", "r", "u"))  # bad MAIL_FROM
    with pytest.raises(ValueError):  # not one person's problem: the batch fails and retries
        render_job(broken)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"  # exited, waiting to be reaped by init


def test_workers_exit_when_their_owner_is_killed() -> None:
    owner = textwrap.dedent(
        """
        import os, signal, sys
        from jobs.render_pool import Renderer
        from tests.jobs.test_render_pool import _jobs

        if __name__ == "__main__":
            renderer = Renderer(2)
            next(renderer.render(_jobs(400)))
            print(*renderer.worker_pids(), flush=True)
            sys.stdin.readline()
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind
        """
    )
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"owner_{uuid.uuid4().hex}.py"
    script.write_text(owner)
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "the owner never started its workers"
        workers = [int(pid) for pid in process.stdout.readline().split()]
        assert len(workers) == 2
        stat = Path(f"/proc/{workers[0]}/stat").read_text()
        forkserver = int(stat.rsplit(")", 1)[1].split()[1])  # the workers' parent
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.wait(timeout=30) < 0  # killed
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(map(_gone, [*workers, forkserver])):
            time.sleep(0.1)
        assert all(map(_gone, [*workers, forkserver])), "render workers outlived their owner"
    finally:
        if process.poll() is None:
            process.kill()
        script.unlink(missing_ok=True)
