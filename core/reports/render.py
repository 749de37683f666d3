"""Weekly report documents: the JSON report and the self-contained HTML page.

The chart (core/reports/chart.py) is inlined as a PNG data URI: the page loads
nothing from anywhere.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

import orjson

MIN_CELL_SESSIONS = 3  # smaller region x tool cells are too few to read anything into
NOT_MEDICAL_ADVICE = (
    "knotlog summarises what you logged. It is not medical advice: talk to a clinician "
    "about pain that is new, severe, or getting worse."
)
CHART_ALT = "Sessions per day with mean pain before and after"
CHART_SIZE_PX = (640, 280)
_DASH = "\N{EN DASH}"


def _orjson_default(value: Any) -> Any:
    # Database numerics may arrive as Decimal; a report shows them as plain numbers.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__} in a report")


def _dumps(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, default=_orjson_default, option=orjson.OPT_NON_STR_KEYS)


def visible_cells(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """Region x tool cells with enough sessions to show (the same rule for JSON and HTML)."""
    return [c for c in inputs["region_tool"] if c["sessions"] >= MIN_CELL_SESSIONS]


def render_json(
    account_id: str, summary: dict[str, Any], inputs: dict[str, Any], version: int
) -> bytes:
    cells = visible_cells(inputs)
    return _dumps(
        {
            "account_id": account_id,
            "week": summary["week"],
            "version": version,
            "generated_at": datetime.now(UTC),
            "summary": summary,
            "days": inputs["days"],
            "region_tool": cells,
            "region_tool_hidden_cells": len(inputs["region_tool"]) - len(cells),
            "region_tool_min_sessions": MIN_CELL_SESSIONS,
            "baseline_weeks": inputs["baseline_weeks"],
            "findings": findings(summary),
            "note": NOT_MEDICAL_ADVICE,
        }
    )


def render_cohort(week_label: str, cohort: dict[str, Any]) -> bytes:
    """The anonymous cohort report: only aggregate fields, named one by one, leave."""
    return _dumps(
        {
            "week": week_label,
            "accounts_active": cohort["accounts_active"],
            "share_meeting_target": cohort["share_meeting_target"],
            "by_region": cohort["by_region"],
            "by_tool": cohort["by_tool"],
            "generated_at": datetime.now(UTC),
        }
    )


def _fmt(value: Any) -> str:
    return _DASH if value is None else f"{value:g}"


def _pct(share: Any) -> str:
    return _DASH if share is None else f"{round(share * 100)} %"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def findings(summary: dict[str, Any]) -> list[str]:
    """One plain-language line per thing worth knowing about the week."""
    lines: list[str] = []
    sessions, target = summary["sessions"], summary["target"]
    if target > 0:
        done = f"You did {sessions} of your {target} planned sessions"
        lines.append(f"{done}: target met." if summary["target_met"] else f"{done}.")
    else:
        lines.append(f"You logged {_plural(sessions, 'session')} (no weekly target set).")
    if summary.get("minutes_target"):
        lines.append(
            f"You spent {_fmt(summary['minutes'])} of your {summary['minutes_target']} "
            "planned minutes."
        )
    if summary["streak_weeks"] >= 2:
        lines.append(f"That is {summary['streak_weeks']} weeks in a row on target.")
    relief = summary["mean_relief"]
    if relief is not None:
        before, after = _fmt(summary["mean_pain_before"]), _fmt(summary["mean_pain_after"])
        if relief > 0:
            change = f"down {relief:g} points"
        elif relief < 0:
            change = f"up {-relief:g} points"
        else:
            change = "no change"
        lines.append(f"On average a session took your pain from {before} to {after} ({change}).")
    if summary["meaningful_relief_share"] is not None:
        lines.append(
            f"{_pct(summary['meaningful_relief_share'])} of sessions starting at pain 2 or more "
            "brought a clearly noticeable drop (at least 2 points and 30 %)."
        )
    worsened = summary["worsened_sessions"]
    if worsened:
        lines.append(
            f"{_plural(worsened, 'session')} left you 2 or more points worse: "
            "try less pressure or a softer tool there."
        )
    trend = summary["baseline_trend"]
    if trend is None:
        lines.append("Not enough earlier weeks yet to tell how your pain before sessions moves.")
    elif trend < 0:
        lines.append(
            f"Your pain before sessions is falling: {-trend:g} points lower than in recent weeks."
        )
    elif trend > 0:
        lines.append(
            f"Your pain before sessions is rising: {trend:g} points higher than in recent weeks."
        )
    else:
        lines.append("Your pain before sessions is level with recent weeks.")
    return lines


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:46rem;margin:2rem auto;
padding:0 1rem;color:#1d2733;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem}
.figure{background:#f3f6f9;border-radius:.5rem;padding:.6rem .8rem}
.figure b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde3ea;
padding:.3rem .5rem;text-align:right}td:first-child,th:first-child,
#region-tool td:nth-child(2),#region-tool th:nth-child(2){text-align:left}
img{max-width:100%;height:auto}.note{color:#5b6775;font-size:.9rem;margin-top:2rem}
"""


def _figure(field: str, label: str, value: str) -> str:
    return (
        f'<div class="figure">{escape(label)}'
        f'<b data-field="{escape(field)}">{escape(value)}</b></div>'
    )


def _figures(summary: dict[str, Any]) -> str:
    if summary["target"] > 0:
        sessions = f"{summary['sessions']} of {summary['target']}"
    else:
        sessions = str(summary["sessions"])
    return "".join(
        (
            _figure("sessions", "Sessions", sessions),
            _figure("active_days", "Active days", str(summary["active_days"])),
            _figure("minutes", "Minutes", _fmt(summary["minutes"])),
            _figure("adherence", "Adherence", _pct(summary["adherence"])),
            _figure("streak_weeks", "Weeks on target", str(summary["streak_weeks"])),
            _figure("mean_pain_before", "Pain before", _fmt(summary["mean_pain_before"])),
            _figure("mean_pain_after", "Pain after", _fmt(summary["mean_pain_after"])),
            _figure("mean_relief", "Mean relief", _fmt(summary["mean_relief"])),
            _figure(
                "meaningful_relief_share", "Clear relief", _pct(summary["meaningful_relief_share"])
            ),
            _figure("worsened_sessions", "Worse after", str(summary["worsened_sessions"])),
            _figure("baseline_trend", "Pain trend", _fmt(summary["baseline_trend"])),
        )
    )


def _cells_table(inputs: dict[str, Any]) -> str:
    cells = visible_cells(inputs)
    hidden = len(inputs["region_tool"]) - len(cells)
    rows = "".join(
        f'<tr data-region="{escape(c["region"])}" data-tool="{escape(c["tool"])}">'
        f"<td>{escape(c['region'].replace('_', ' '))}</td>"
        f"<td>{escape(c['tool'].replace('_', ' '))}</td>"
        f"<td>{escape(str(c['sessions']))}</td><td>{escape(_fmt(c['mean_relief']))}</td></tr>"
        for c in cells
    )
    if cells:
        table = (
            '<table id="region-tool"><tr><th>Region</th><th>Tool</th><th>Sessions</th>'
            f"<th>Mean relief</th></tr>{rows}</table>"
        )
    else:
        table = f"<p>No region and tool had {MIN_CELL_SESSIONS} or more sessions this week.</p>"
    if hidden:
        table += (
            f'<p data-field="region_tool_hidden_cells">{hidden} '
            f"{'combination' if hidden == 1 else 'combinations'} with fewer than "
            f"{MIN_CELL_SESSIONS} sessions {'is' if hidden == 1 else 'are'} not shown.</p>"
        )
    return table


def _baseline_table(inputs: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(w['week'])}</td><td>{escape(str(w['sessions']))}</td>"
        f"<td>{escape(_fmt(w['mean_pain_before']))}</td></tr>"
        for w in inputs["baseline_weeks"]
    )
    return (
        '<table id="baseline"><tr><th>Week</th><th>Sessions</th>'
        f"<th>Mean pain before</th></tr>{rows}</table>"
    )


def render_html(
    summary: dict[str, Any], inputs: dict[str, Any], timezone: str, chart: bytes | None = None
) -> str:
    """The report page; `chart` is chart_png(inputs) when the caller already drew it."""
    week = escape(summary["week"])
    if chart is None:
        # Here, not at the top: matplotlib stays out of processes that never draw (the
        # clock's own when workers draw, the web).
        from core.reports.chart import chart_png

        chart = chart_png(inputs)
    chart_b64 = base64.b64encode(chart).decode("ascii")
    width, height = CHART_SIZE_PX
    lines = "".join(f"<li>{escape(line)}</li>" for line in findings(summary))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>knotlog week {week}</title><style>{_CSS}</style></head><body>"
        f"<h1>Your week {week}</h1>"
        f"<p>Days and weeks as lived in {escape(timezone)}.</p>"
        f'<div class="figures">{_figures(summary)}</div>'
        f'<h2>What stands out</h2><ul id="findings">{lines}</ul>'
        "<h2>Day by day</h2>"
        f'<div id="chart"><img src="data:image/png;base64,{chart_b64}" width="{width}" '
        f'height="{height}" alt="{escape(CHART_ALT)}"></div>'
        f"<h2>Relief by region and tool</h2>{_cells_table(inputs)}"
        f"<h2>Pain before sessions, last 8 weeks</h2>{_baseline_table(inputs)}"
        f'<p class="note" id="not-medical-advice">{escape(NOT_MEDICAL_ADVICE)}</p>'
        "</body></html>"
    )
