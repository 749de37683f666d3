"""Drawing reports in worker processes, so a weekly run uses every core.

Drawing a chart and building an email is pure-Python CPU work (~5 ms an account)
that holds the GIL: in one process it starves the threads that upload to S3
and talk to the database. So every batch is drawn in worker processes, and
matplotlib (~45 MB) never enters the clock's own process. Workers are forked
from a forkserver that has imported the renderer once, never from this process:
it runs threads (uploads, the email sender), and forking a threaded process can
copy a held lock into the child. They live for one run (process_tasks closes
them); `processes` 0 draws in this process instead.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from core.reports.bundle import Rendered, ReportJob, render_job

# Jobs handed to a worker at a time: fewer round trips, still an even spread.
_CHUNK = 4

_context = multiprocessing.get_context("forkserver")
# What a worker runs, imported once by the forkserver: a worker starts ready to draw.
_context.set_forkserver_preload(["jobs.render_pool", "core.reports.bundle", "core.reports.chart"])


class Renderer:
    """Renders report jobs in order; `processes` 0 keeps everything in this process."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError(f"render processes must be >= 0, got {processes}")
        self.processes = processes
        self.jobs_in_workers = 0  # how many jobs went to the pool (for tests and debugging)
        self._pool: ProcessPoolExecutor | None = None

    def render(self, jobs: Sequence[ReportJob]) -> Iterator[Rendered]:
        """Each job's result as soon as it and those before it are done."""
        if self.processes == 0 or not jobs:
            yield from map(render_job, jobs)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=_context,
                initializer=_exit_with,
                initargs=(os.getpid(),),
            )
        self.jobs_in_workers += len(jobs)
        try:
            yield from self._pool.map(render_job, jobs, chunksize=_CHUNK)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): the batch fails and rolls back; the
            # next batch starts a fresh pool.
            self.close()
            raise

    def worker_pids(self) -> list[int]:
        """The live worker processes (none between runs); safe from any thread."""
        processes = getattr(self._pool, "_processes", None) or {}
        try:
            return [p.pid for p in list(processes.values()) if p.pid is not None]
        except RuntimeError:  # the pool started or stopped a worker meanwhile
            return []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _exit_with(owner_pid: int) -> None:
    """Worker start: exit when the process that owns the pool dies. A killed clock would
    otherwise leave its workers waiting for work forever (and the forkserver with them)."""

    def watch() -> None:
        try:  # Linux 5.3+: a pidfd is readable once the process has exited
            watcher = select.poll()
            watcher.register(os.pidfd_open(owner_pid), select.POLLIN)
            watcher.poll()
        except ProcessLookupError:
            pass  # already gone
        except (AttributeError, OSError):  # no pidfd here (other OS, old kernel, seccomp)
            while _alive(owner_pid):
                time.sleep(2)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-owner", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
