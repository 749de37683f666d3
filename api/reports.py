"""The report store and the link secret, opened once per app."""

from __future__ import annotations

from flask import current_app

from api.db import get_db
from core.reports.store import ReportStore, open_store
from core.settings import Settings
from core.signing import secret_key


def report_store() -> ReportStore:
    store: ReportStore | None = current_app.extensions.get("knotlog.report_store")
    if store is None:
        settings: Settings = current_app.extensions["knotlog.settings"]
        store = open_store(settings)
        current_app.extensions["knotlog.report_store"] = store
    return store


def link_secret() -> str:
    cached: str | None = current_app.extensions.get("knotlog.link_secret")
    if cached is None:
        cached = secret_key(get_db(), current_app.extensions["knotlog.settings"])
        get_db().commit()  # a freshly generated secret must be kept
        current_app.extensions["knotlog.link_secret"] = cached
    return cached
