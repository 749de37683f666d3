"""Structured logs: one JSON object per line on stderr, the same in every process.

Log lines carry names, counts, ids and durations, never a token, a password, an
email body or a health value (pain scores, notes): callers pass only those.
The request id of the web request being served, if any, is added to every line.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(_FIELDS, rename_fields=_RENAMED)


def configure_logging(level: int | str = logging.INFO) -> None:
    """JSON lines on stderr at `level`; replaces earlier handlers (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_knotlog", False):
            root.removeHandler(old)
    handler._knotlog = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
