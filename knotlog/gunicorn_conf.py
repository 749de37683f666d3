"""gunicorn settings of the Procfile's web process (`-c python:knotlog.gunicorn_conf`).

JSON log lines from every worker (gunicorn's own included; the app writes one line per
request, so gunicorn's access log is off), and Prometheus figures added up across
workers: each worker writes its counters under PROMETHEUS_MULTIPROC_DIR, a fresh
folder per start unless the operator names one (then it must be emptied at start).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from typing import Any

# Before anything imports prometheus_client: it picks its storage once, at import time.
# (This module lives outside api/ for that reason: importing api/ would import it.)
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="knotlog-metrics-")
assert "prometheus_client" not in sys.modules, "imported before its multiprocess folder was set"

from core.logs import configure_logging  # noqa: E402
from core.settings import Settings  # noqa: E402

accesslog = None
# Idle keep-alive connections stay open longer than a client's pause or a load balancer's
# idle timeout (60 s on most): gunicorn's 2 s default closed sockets that clients (Node's
# fetch among them) were about to reuse, failing their next request.
keepalive = 75
LOG_LEVEL = Settings.from_env().log_level


def _json_logs() -> None:
    configure_logging(LOG_LEVEL)
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def when_ready(server: Any) -> None:
    _json_logs()


def post_worker_init(worker: Any) -> None:
    _json_logs()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
