"""The weekly report documents: the JSON, the self-contained page, its chart, its findings."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import orjson
from PIL import Image

from core.reports.chart import chart_png
from core.reports.render import (
    NOT_MEDICAL_ADVICE,
    findings,
    render_cohort,
    render_html,
    render_json,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAIN_BEFORE_RGB = (0xC0, 0x39, 0x2B)


def make_summary(**changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "week": "2026-W47",
        "sessions": 4,
        "active_days": 3,
        "minutes": 52.5,
        "target": 3,
        "adherence": 1.0,
        "minutes_target": 0,
        "minutes_adherence": None,
        "target_met": True,
        "streak_weeks": 2,
        "mean_pain_before": 5.75,
        "mean_pain_after": 3.5,
        "mean_relief": 2.25,
        "meaningful_relief_share": 0.67,
        "worsened_sessions": 0,
        "baseline_trend": -1.25,
        "by_region": [
            {
                "region": "lower_back",
                "sessions": 3,
                "minutes": 40.0,
                "mean_relief": 2.67,
                "meaningful_relief_share": 0.67,
            }
        ],
        "by_tool": [
            {
                "tool": "foam_roller",
                "sessions": 3,
                "minutes": 40.0,
                "mean_relief": 2.67,
                "meaningful_relief_share": 0.67,
            }
        ],
        "version": 1,
        "computed_at": datetime(2026, 11, 23, 6, 5, tzinfo=UTC),
    }
    summary.update(changes)
    return summary


def make_inputs(region_tool: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    monday = date(2026, 11, 16)
    per_day = {0: (2, 6.0, 3.5), 2: (1, 5.0, 4.0), 5: (1, 6.0, 3.0)}
    days = []
    for i in range(7):
        n, before, after = per_day.get(i, (0, None, None))
        day = (monday + timedelta(days=i)).isoformat()
        days.append(
            {"date": day, "sessions": n, "mean_pain_before": before, "mean_pain_after": after}
        )
    return {
        "days": days,
        "region_tool": region_tool
        if region_tool is not None
        else [
            {"region": "lower_back", "tool": "foam_roller", "sessions": 3, "mean_relief": 2.67},
            {"region": "neck", "tool": "massage_ball", "sessions": 2, "mean_relief": 1.5},
        ],
        "baseline_weeks": [
            {"week": f"2026-W{w}", "sessions": 3, "mean_pain_before": 7.0 - (w - 40) * 0.25}
            for w in range(40, 48)
        ],
    }


class _Resources(HTMLParser):
    """Every attribute through which a page could load or link to something."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data", "background"):
                self.refs.append((tag, name, value or ""))


def _field(html: str, name: str) -> str:
    match = re.search(rf'data-field="{name}">([^<]*)<', html)
    assert match is not None, name
    return match.group(1)


def test_page_shows_the_weeks_numbers() -> None:
    html = render_html(make_summary(), make_inputs(), "Europe/Berlin")
    assert _field(html, "sessions") == "4 of 3"
    assert _field(html, "active_days") == "3"
    assert _field(html, "minutes") == "52.5"
    assert _field(html, "adherence") == "100 %"
    assert _field(html, "mean_relief") == "2.25"
    assert _field(html, "meaningful_relief_share") == "67 %"
    assert _field(html, "baseline_trend") == "-1.25"
    assert '<meta name="robots" content="noindex">' in html
    assert "Europe/Berlin" in html
    assert NOT_MEDICAL_ADVICE in html
    # The last 8 weeks, oldest first.
    assert html.index("2026-W40") < html.index("2026-W47</td>")
    assert html.count("<tr><td>2026-W4") == 8


def test_page_hides_region_tool_cells_with_fewer_than_three_sessions() -> None:
    inputs = make_inputs()
    html = render_html(make_summary(), inputs, "UTC")
    assert 'data-region="lower_back" data-tool="foam_roller"' in html
    assert 'data-region="neck"' not in html
    assert "massage ball" not in html
    assert _field(html, "region_tool_hidden_cells").startswith("1 combination with fewer")

    report = orjson.loads(render_json("acc-1", make_summary(), inputs, 3))
    # The JSON shows exactly what the page shows.
    assert [(c["region"], c["tool"]) for c in report["region_tool"]] == [
        ("lower_back", "foam_roller")
    ]
    assert report["region_tool_hidden_cells"] == 1


def test_page_loads_nothing_from_outside() -> None:
    html = render_html(make_summary(), make_inputs(), "Europe/Berlin")
    parser = _Resources()
    parser.feed(html)
    assert "script" not in parser.tags and "link" not in parser.tags
    assert [(tag, name) for tag, name, _ in parser.refs] == [("img", "src")]
    assert all(value.startswith("data:image/png;base64,") for _, _, value in parser.refs)
    assert not re.search(r"https?://|url\(|@import", html)


def test_page_inlines_the_chart_as_a_valid_png() -> None:
    html = render_html(make_summary(), make_inputs(), "UTC")
    match = re.search(
        r'<div id="chart"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]* alt="([^"]+)"',
        html,
    )
    assert match is not None
    png = base64.b64decode(match.group(1), validate=True)
    assert png.startswith(PNG_MAGIC)
    assert Image.open(io.BytesIO(png)).size == (640, 280)
    assert "pain" in match.group(2)


def test_page_escapes_what_it_shows() -> None:
    inputs = make_inputs(
        [{"region": "<b>neck</b>", "tool": "hands", "sessions": 5, "mean_relief": 1.0}]
    )
    html = render_html(make_summary(week="2026-W47<script>"), inputs, "<script>alert(1)</script>")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;neck&lt;/b&gt;" in html


def _pixels(png: bytes) -> dict[object, int]:
    """Pixel count per RGB colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {colour: n for n, colour in image.getcolors(maxcolors=1 << 20) or []}


def test_chart_draws_pain_before_only_for_days_with_sessions() -> None:
    png = chart_png(make_inputs())
    assert png.startswith(PNG_MAGIC)
    pixels = _pixels(png)
    assert len(pixels) > 10  # not a blank canvas

    empty = make_inputs()
    for day in empty["days"]:
        day.update(sessions=0, mean_pain_before=None, mean_pain_after=None)
    legend_only = _pixels(chart_png(empty)).get(PAIN_BEFORE_RGB, 0)
    # Three days with pain before draw three markers and a line beyond the legend's sample.
    assert pixels.get(PAIN_BEFORE_RGB, 0) > 3 * legend_only


def test_findings_speak_plainly_about_the_week() -> None:
    lines = findings(make_summary())
    assert lines[0] == "You did 4 of your 3 planned sessions: target met."
    assert "That is 2 weeks in a row on target." in lines
    assert "On average a session took your pain from 5.75 to 3.5 (down 2.25 points)." in lines
    assert any(line.startswith("67 % of sessions starting at pain 2") for line in lines)
    assert (
        lines[-1] == "Your pain before sessions is falling: 1.25 points lower than in recent weeks."
    )
    assert not any("worse" in line for line in lines)


def test_findings_for_a_hard_week() -> None:
    lines = findings(
        make_summary(
            sessions=1,
            target=0,
            target_met=False,
            streak_weeks=0,
            minutes_target=60,
            minutes=12.0,
            mean_pain_before=3.0,
            mean_pain_after=5.0,
            mean_relief=-2.0,
            meaningful_relief_share=None,
            worsened_sessions=1,
            baseline_trend=0.5,
        )
    )
    assert lines[0] == "You logged 1 session (no weekly target set)."
    assert "You spent 12 of your 60 planned minutes." in lines
    assert "On average a session took your pain from 3 to 5 (up 2 points)." in lines
    assert any(line.startswith("1 session left you 2 or more points worse") for line in lines)
    assert not any("in a row" in line or "noticeable drop" in line for line in lines)
    assert (
        lines[-1] == "Your pain before sessions is rising: 0.5 points higher than in recent weeks."
    )


def test_findings_without_data() -> None:
    lines = findings(
        make_summary(
            sessions=0,
            target_met=False,
            streak_weeks=0,
            adherence=0.0,
            mean_pain_before=None,
            mean_pain_after=None,
            mean_relief=None,
            meaningful_relief_share=None,
            baseline_trend=None,
        )
    )
    assert lines == [
        "You did 0 of your 3 planned sessions.",
        "Not enough earlier weeks yet to tell how your pain before sessions moves.",
    ]
    html = render_html(make_summary(mean_relief=None, baseline_trend=None), make_inputs([]), "UTC")
    assert _field(html, "mean_relief") == "\N{EN DASH}"
    assert "No region and tool had 3 or more sessions this week." in html


def test_json_report_carries_summary_days_and_weeks() -> None:
    summary = make_summary(mean_relief=Decimal("2.25"))
    report = orjson.loads(render_json("acc-1", summary, make_inputs(), 4))
    assert (report["account_id"], report["week"], report["version"]) == ("acc-1", "2026-W47", 4)
    assert report["summary"]["mean_relief"] == 2.25
    assert report["summary"]["computed_at"] == "2026-11-23T06:05:00+00:00"
    assert datetime.fromisoformat(report["generated_at"]) <= datetime.now(UTC)
    assert report["days"][0]["date"] == "2026-11-16"
    assert len(report["days"]) == 7 and len(report["baseline_weeks"]) == 8
    assert report["findings"] == findings(summary)


def test_cohort_report_holds_only_aggregates() -> None:
    body = render_cohort(
        "2026-W47",
        {
            "accounts_active": 12,
            "share_meeting_target": 0.58,
            "by_region": [{"region": "neck", "sessions": 30, "mean_relief": 1.9}],
            "by_tool": [{"tool": "hands", "sessions": 30, "mean_relief": 1.9}],
            "account_ids": ["must-not-leak"],
        },
    )
    report = orjson.loads(body)
    assert set(report) == {
        "week",
        "accounts_active",
        "share_meeting_target",
        "by_region",
        "by_tool",
        "generated_at",
    }
    assert report["week"] == "2026-W47" and report["accounts_active"] == 12
    assert b"must-not-leak" not in body
