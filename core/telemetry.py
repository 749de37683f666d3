"""Prometheus instruments shared by the web and clock processes (prometheus-client).

The web process serves them at /metrics (api/observability.py); a clock serves its own
on CLOCK_METRICS_PORT. With several gunicorn workers, PROMETHEUS_MULTIPROC_DIR (set by
gunicorn.conf.py) makes /metrics add up every worker.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "knotlog_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "knotlog_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SYNC_ITEMS = Counter(
    "knotlog_sync_items_total",
    "Pushed sessions by result (created, updated, unchanged, stale, invalid)",
    ["result"],
)
WEEKLY_RUNS = Counter(
    "knotlog_weekly_runs_total", "Weekly pipeline runs by outcome (ok, failed)", ["outcome"]
)
WEEKLY_RUN_SECONDS = Histogram(
    "knotlog_weekly_run_seconds",
    "Duration of a weekly pipeline run",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
WEEKLY_SUMMARIES = Counter("knotlog_weekly_summaries_total", "Weekly summaries computed")
WEEKLY_REPORTS = Counter("knotlog_weekly_reports_written_total", "Report objects written")
WEEKLY_EMAILS = Counter(
    "knotlog_weekly_emails_total", "Weekly emails by outcome (sent, failed)", ["outcome"]
)
WEEKLY_FAILURES = Counter(
    "knotlog_weekly_failures_total",
    "Weekly pipeline failures by kind (batch: rolled back and kept queued; email: one "
    "message; email_batch: sending broke off, the rest kept pending; cohort: not written)",
    ["kind"],
)
