"""Pages the app serves, opened in Chromium with only the app reachable, under its CSP.

The docs must render every operation from the app's own files (no CDN), and a report
page served by the API must still show its chart under the report CSP: a CSP that
blocked them would show up here as a console error ("Refused to load ...").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from flask import Flask
from playwright.sync_api import Page, Route

from api.security_headers import DOCS_CSP, REPORT_CSP
from core.reports.chart import chart_png
from core.reports.render import render_html
from core.reports.store import open_store, weekly_keys
from core.settings import Settings
from core.signing import report_link, secret_key
from tests.core.test_render import make_inputs, make_summary

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text())
OPERATIONS = sum(
    1
    for item in SPEC["paths"].values()
    for method in item
    if method in {"get", "put", "post", "patch", "delete"}
)


def _watch(page: Page, origin: str) -> Callable[[], list[str]]:
    """Cut every request not to `origin`; return what went wrong so far."""
    problems: list[str] = []

    def only_the_app(route: Route) -> None:
        if route.request.url.startswith((origin, "data:")):
            route.continue_()
        else:
            problems.append(f"blocked {route.request.url}")
            route.abort()

    page.route("**/*", only_the_app)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}: {r.failure}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return lambda: problems


def test_the_docs_show_every_operation_offline_under_a_strict_csp(
    page: Page, live_server: str
) -> None:
    problems = _watch(page, live_server)
    reply = page.goto(f"{live_server}/docs", wait_until="load")
    assert reply is not None and reply.headers["content-security-policy"] == DOCS_CSP
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() == OPERATIONS
    assert "knotlog" in page.locator(".information-container").inner_text()
    assert problems() == []


def test_a_report_page_served_by_the_api_shows_its_chart_under_the_report_csp(
    page: Page, live_server: str, live_app: Flask, settings: Settings
) -> None:
    account_id, label = uuid.uuid4(), "2026-W47"
    inputs = make_inputs([])
    chart = chart_png(inputs)
    html = render_html(make_summary(), inputs, "Europe/Berlin", chart)
    _, html_key = weekly_keys(account_id, label)
    open_store(settings).put_many([(html_key, html.encode(), "text/html; charset=utf-8")])
    with live_app.app_context():
        from api.db import database

        with database().session() as db:
            secret = secret_key(db, settings)
    problems = _watch(page, live_server)

    reply = page.goto(report_link(live_server, secret, account_id, label), wait_until="load")

    assert reply is not None and reply.status == 200
    assert reply.headers["content-security-policy"] == REPORT_CSP
    assert reply.headers["cache-control"] == "no-store"
    size = page.locator("#chart img").evaluate("i => [i.complete, i.naturalWidth > 0]")
    assert size == [True, True]
    # The inline stylesheet applied: the figures are laid out, not unstyled text.
    assert page.locator(".figure").first.evaluate("e => getComputedStyle(e).display") != "inline"
    assert problems() == []


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json"])
def test_json_answers_may_load_nothing(page: Page, live_server: str, path: str) -> None:
    reply = page.goto(f"{live_server}{path}")
    assert reply is not None
    assert reply.headers["content-security-policy"].startswith("default-src 'none'")
    assert reply.headers["x-content-type-options"] == "nosniff"
