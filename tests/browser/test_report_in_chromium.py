"""The weekly report page as a person sees it: rendered by a real browser, offline.

The string-level tests in tests/core/test_render.py cannot tell whether the chart
actually shows, whether CSS hides a number, or whether the page reaches for the
network. Here Debian's Chromium (never a downloaded browser) opens the page with
every non-local request blocked, and what it renders is checked against the JSON
report built from the same summary. The full-page screenshot is kept as a build
artefact in var/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image
from playwright.sync_api import Page, Request, Route

from core.reports.chart import chart_png
from core.reports.render import render_html, render_json
from tests.core.test_render import make_inputs, make_summary

ARTEFACT = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "weekly-report.png"
PAIN_BEFORE_RGB = (0xC0, 0x39, 0x2B)
DASH = "\N{EN DASH}"


def _number(text: str) -> float | None:
    """A figure as printed on the page: '52.5', '-1.25', '67 %', or a dash for no value."""
    text = text.strip()
    if text == DASH:
        return None
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)( %)?", text)
    assert match is not None, f"not a figure: {text!r}"
    return float(match.group(1))


def _colours(image: Image.Image) -> dict[tuple[int, ...], int]:
    """Pixel count per RGB colour."""
    counts: dict[tuple[int, ...], int] = {}
    for n, colour in image.convert("RGB").getcolors(maxcolors=1 << 20) or []:
        assert isinstance(colour, tuple)
        counts[colour] = n
    return counts


def _near(rgb: tuple[int, ...], target: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(a - b) < tolerance for a, b in zip(rgb, target, strict=True))


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100)


def _close(shown: float | None, expected: Any) -> bool:
    if expected is None or shown is None:
        return shown is expected
    return shown == pytest.approx(float(expected), rel=1e-5)


def test_report_page_in_chromium_shows_what_the_json_says(
    page: Page, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = make_summary()
    inputs = make_inputs(
        [
            {"region": "lower_back", "tool": "foam_roller", "sessions": 3, "mean_relief": 2.67},
            {"region": "calf", "tool": "massage_ball", "sessions": 4, "mean_relief": 1.75},
            {"region": "neck", "tool": "hands", "sessions": 1, "mean_relief": 0.5},
        ]
    )
    chart = chart_png(inputs)
    report = orjson.loads(render_json("acc-1", summary, inputs, 2))
    html_file = tmp_path / "weekly-report.html"
    html_file.write_text(render_html(summary, inputs, "Europe/Berlin", chart), encoding="utf-8")

    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    def only_local(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r))

    page.goto(html_file.as_uri(), wait_until="load")

    # (4) The chart image loaded at its drawn size.
    img = page.locator("#chart img")
    loaded = img.evaluate("i => [i.complete, i.naturalWidth, i.naturalHeight]")
    assert loaded == [True, *Image.open(io.BytesIO(chart)).size]
    box = img.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100

    # (1) The chart is drawn where it sits on the page.
    shot = page.screenshot(full_page=True)
    ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTEFACT.write_bytes(shot)
    with capsys.disabled():
        print(f"\nscreenshot: {ARTEFACT}")
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    left, top = round(box["x"] + scroll[0]), round(box["y"] + scroll[1])
    crop = Image.open(io.BytesIO(shot)).crop(
        (left, top, left + round(box["width"]), top + round(box["height"]))
    )
    colours = _colours(crop)
    area = crop.width * crop.height
    non_white = sum(n for rgb, n in colours.items() if min(rgb) < 245)
    assert non_white > 0.05 * area, f"chart looks blank: {non_white} of {area} pixels"
    assert len(colours) > 10, f"chart has only {len(colours)} colours"
    reddish = sum(n for rgb, n in colours.items() if _near(rgb, PAIN_BEFORE_RGB))
    assert reddish > 50, "the pain-before line is not drawn"

    # (2) Every figure a person reads matches the JSON report.
    fields = page.eval_on_selector_all(
        ".figure b[data-field]",
        "els => els.map(e => [e.dataset.field, e.innerText, e.checkVisibility()])",
    )
    shown = {field: text for field, text, visible in fields if visible}
    assert len(shown) == len(fields) == 11
    facts = report["summary"]
    assert shown["sessions"] == f"{facts['sessions']} of {facts['target']}"
    for field in ("active_days", "streak_weeks", "worsened_sessions"):
        assert _number(shown[field]) == facts[field], field
    for field in ("minutes", "mean_pain_before", "mean_pain_after", "mean_relief"):
        assert _close(_number(shown[field]), facts[field]), field
    assert _close(_number(shown["baseline_trend"]), facts["baseline_trend"])
    for field in ("adherence", "meaningful_relief_share"):
        assert _number(shown[field]) == _percent(facts[field]), field

    assert page.locator("#findings li").all_inner_texts() == report["findings"]

    rows = page.locator("#region-tool tr[data-region]").evaluate_all(
        "rows => rows.map(r => [r.dataset.region, r.dataset.tool,"
        " ...[...r.cells].slice(2).map(c => c.innerText)])"
    )
    assert [(r, t, int(n), _number(m)) for r, t, n, m in rows] == [
        (c["region"], c["tool"], c["sessions"], c["mean_relief"]) for c in report["region_tool"]
    ]
    hidden = page.locator('[data-field="region_tool_hidden_cells"]').inner_text()
    assert hidden.startswith(f"{report['region_tool_hidden_cells']} combination")

    weeks = page.locator("#baseline tr").evaluate_all(
        "rows => rows.slice(1).map(r => [...r.cells].map(c => c.innerText))"
    )
    assert [(w, int(n), _number(p)) for w, n, p in weeks] == [
        (w["week"], w["sessions"], w["mean_pain_before"]) for w in report["baseline_weeks"]
    ]
    assert page.locator("#not-medical-advice").inner_text() == report["note"]

    # (3) Offline and clean: nothing asked for the network, nothing failed or complained.
    assert blocked == [] and failed == [] and errors == []
    assert all(r.url.startswith(("file:", "data:")) for r in requests)
