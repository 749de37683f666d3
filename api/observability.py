"""One JSON log line and the Prometheus figures of every request, the request id, /metrics.

A request id comes from the caller's X-Request-ID when it looks like one (so a trace
can cross services), else it is made here; it is returned in X-Request-ID and added
to every log line written while the request is served. The log line names the
route's template, never the URL with its ids, the query string or the body.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from api.auth import bearer_credentials
from api.db import database
from core import logs, telemetry
from core.services.week_tasks import pipeline_backlog

log = logging.getLogger("knotlog.request")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class _PipelineBacklog(Collector):
    """Read at each scrape: what the clocks have still to do, and what needs a person."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        try:
            with self.app.app_context(), database().engine.connect() as conn:
                row = pipeline_backlog(conn)
        except SQLAlchemyError as exc:  # the process's own figures are still worth serving
            log.warning("backlog figures unavailable", extra={"error": type(exc).__name__})
            return
        for name, doc, value in (
            (
                "knotlog_week_tasks_pending",
                "(account, week) summaries waiting for a clock",
                row.tasks,
            ),
            (
                "knotlog_weekly_emails_pending",
                "Weekly emails due and not yet sent",
                row.pending_emails,
            ),
            (
                "knotlog_weekly_emails_stuck",
                "Emails claimed over an hour ago and never confirmed (a crash mid-send): check",
                row.stuck_emails,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


def init_app(app: Flask) -> None:
    # Its own registry, collected at each scrape (the process registries hold no DB reads).
    backlog = CollectorRegistry(auto_describe=False)
    backlog.register(_PipelineBacklog(app))
    metrics_token = app.extensions["knotlog.settings"].metrics_token

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        logs.request_id.set(g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        response.headers["X-Request-ID"] = g.get("request_id", "")
        telemetry.HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        telemetry.HTTP_LATENCY.labels(request.method, route).observe(seconds)
        log.info(
            "request",
            extra={
                "event": "http.request",
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "request_id": g.get("request_id"),
            },
        )
        return response

    @app.teardown_request
    def _forget(_error: BaseException | None) -> None:
        logs.request_id.set(None)

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus text format; with METRICS_TOKEN set, only for that bearer token."""
        if metrics_token:
            given = bearer_credentials() or ""
            if not hmac.compare_digest(given.encode(), metrics_token.encode()):
                return Response("metrics need the operator's token\n", 401, mimetype="text/plain")
        registry: CollectorRegistry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry) + generate_latest(backlog)
        return Response(
            body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
        )
