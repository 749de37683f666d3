"""Weekly report documents: the JSON report, the self-contained HTML page, its chart.

The chart is drawn by matplotlib's Agg canvas (no pyplot state, so threads are
safe) and inlined as a PNG data URI: the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, date, datetime
from html import escape
from typing import Any

import orjson
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

MIN_CELL_SESSIONS = 3  # smaller region x tool cells are too few to read anything into
NOT_MEDICAL_ADVICE = (
    "knotlog summarises what you logged. It is not medical advice: talk to a clinician "
    "about pain that is new, severe, or getting worse."
)


def visible_cells(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in inputs["region_tool"] if c["sessions"] >= MIN_CELL_SESSIONS]


def render_json(
    account_id: str, summary: dict[str, Any], inputs: dict[str, Any], version: int
) -> bytes:
    cells = inputs["region_tool"]
    return orjson.dumps(
        {
            "account_id": account_id,
            "week": summary["week"],
            "version": version,
            "generated_at": datetime.now(UTC),
            "summary": summary,
            "days": inputs["days"],
            "region_tool": visible_cells(inputs),
            "region_tool_hidden_cells": len(cells) - len(visible_cells(inputs)),
            "baseline_weeks": inputs["baseline_weeks"],
            "findings": findings(summary),
            "note": NOT_MEDICAL_ADVICE,
        }
    )


def render_cohort(week_label: str, cohort: dict[str, Any]) -> bytes:
    return orjson.dumps({"week": week_label, **cohort, "generated_at": datetime.now(UTC)})


def _fmt(value: Any, suffix: str = "") -> str:
    return "\N{EN DASH}" if value is None else f"{value:g}{suffix}"


def _pct(share: Any) -> str:
    return "\N{EN DASH}" if share is None else f"{round(share * 100)} %"


def findings(summary: dict[str, Any]) -> list[str]:
    """One plain-language line per thing worth knowing about the week."""
    lines: list[str] = []
    sessions, target = summary["sessions"], summary["target"]
    if target > 0:
        if summary["target_met"]:
            lines.append(f"You did {sessions} of your {target} planned sessions: target met.")
        else:
            lines.append(f"You did {sessions} of your {target} planned sessions.")
    else:
        lines.append(f"You logged {sessions} sessions (no weekly target set).")
    if summary["streak_weeks"] >= 2:
        lines.append(f"That is {summary['streak_weeks']} weeks in a row on target.")
    if summary["mean_relief"] is not None:
        lines.append(
            f"On average a session took your pain from {_fmt(summary['mean_pain_before'])} "
            f"to {_fmt(summary['mean_pain_after'])} ({_fmt(summary['mean_relief'])} points)."
        )
    if summary["meaningful_relief_share"] is not None:
        lines.append(
            f"{_pct(summary['meaningful_relief_share'])} of sessions starting at pain 2 or more "
            "brought a clearly noticeable drop (at least 2 points and 30 %)."
        )
    if summary["worsened_sessions"]:
        lines.append(
            f"{summary['worsened_sessions']} session(s) left you 2 or more points worse: "
            "try less pressure or a softer tool there."
        )
    trend = summary["baseline_trend"]
    if trend is None:
        lines.append("Not enough earlier weeks yet to tell how your pain before sessions moves.")
    elif trend < 0:
        lines.append(
            f"Your pain before sessions is {abs(trend):g} points lower than in recent weeks."
        )
    elif trend > 0:
        lines.append(f"Your pain before sessions is {trend:g} points higher than in recent weeks.")
    else:
        lines.append("Your pain before sessions is level with recent weeks.")
    return lines


def chart_png(inputs: dict[str, Any]) -> bytes:
    """Sessions per day (bars) with mean pain before and after (lines), 0-10 scale."""
    days = inputs["days"]
    labels = [date.fromisoformat(d["date"]).strftime("%a") for d in days]
    x = list(range(len(days)))
    figure = Figure(figsize=(6.4, 2.8), dpi=100)
    FigureCanvasAgg(figure)
    counts_axis = figure.add_subplot()
    counts_axis.bar(x, [d["sessions"] for d in days], color="#d9e6f2", label="sessions")
    counts_axis.set_ylabel("sessions")
    counts_axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts_axis.set_xticks(x, labels)
    pain_axis = counts_axis.twinx()
    for field, color, marker, size, name in (
        ("mean_pain_before", "#c0392b", "o", 9, "pain before"),
        ("mean_pain_after", "#27ae60", "s", 6, "pain after"),
    ):
        # Only days with sessions: a line through empty days would invent values.
        points = [(i, d[field]) for i, d in enumerate(days) if d[field] is not None]
        pain_axis.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker=marker,
            markersize=size,
            color=color,
            label=name,
        )
    pain_axis.set_ylim(0, 10)
    pain_axis.set_ylabel("pain (0-10)")
    pain_axis.legend(loc="upper right", fontsize="small", frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:46rem;margin:2rem auto;
padding:0 1rem;color:#1d2733;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem}
.figure{background:#f3f6f9;border-radius:.5rem;padding:.6rem .8rem}
.figure b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde3ea;
padding:.3rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto}.note{color:#5b6775;font-size:.9rem;margin-top:2rem}
"""


def _figure(field: str, label: str, value: str) -> str:
    return f'<div class="figure">{escape(label)}<b data-field="{field}">{escape(value)}</b></div>'


def render_html(summary: dict[str, Any], inputs: dict[str, Any], timezone: str) -> str:
    week = escape(summary["week"])
    chart = base64.b64encode(chart_png(inputs)).decode()
    figures = "".join(
        (
            _figure("sessions", "Sessions", f"{summary['sessions']} of {summary['target']}"),
            _figure("active_days", "Active days", str(summary["active_days"])),
            _figure("minutes", "Minutes", _fmt(summary["minutes"])),
            _figure("adherence", "Adherence", _pct(summary["adherence"])),
            _figure("streak_weeks", "Weeks on target", str(summary["streak_weeks"])),
            _figure("mean_relief", "Mean relief", _fmt(summary["mean_relief"])),
            _figure(
                "meaningful_relief_share",
                "Clear relief",
                _pct(summary["meaningful_relief_share"]),
            ),
            _figure("worsened_sessions", "Worse after", str(summary["worsened_sessions"])),
            _figure("baseline_trend", "Pain trend", _fmt(summary["baseline_trend"])),
        )
    )
    cells = visible_cells(inputs)
    hidden = len(inputs["region_tool"]) - len(cells)
    rows = "".join(
        f"<tr><td>{escape(c['region'].replace('_', ' '))}</td>"
        f"<td>{escape(c['tool'].replace('_', ' '))}</td>"
        f"<td>{c['sessions']}</td><td>{_fmt(c['mean_relief'])}</td></tr>"
        for c in cells
    )
    table = (
        "<table id='region-tool'><tr><th>Region</th><th>Tool</th><th>Sessions</th>"
        f"<th>Mean relief</th></tr>{rows}</table>"
        if cells
        else "<p>No region and tool had 3 or more sessions this week.</p>"
    )
    if hidden:
        table += f"<p>{hidden} combination(s) with fewer than 3 sessions are not shown.</p>"
    baseline = "".join(
        f"<tr><td>{escape(w['week'])}</td><td>{w['sessions']}</td>"
        f"<td>{_fmt(w['mean_pain_before'])}</td></tr>"
        for w in inputs["baseline_weeks"]
    )
    lines = "".join(f"<li>{escape(line)}</li>" for line in findings(summary))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>knotlog week {week}</title><style>{_CSS}</style></head><body>"
        f"<h1>Your week {week}</h1>"
        f"<p>Times as logged on your phone; weeks in {escape(timezone)}.</p>"
        f"<div class='figures'>{figures}</div>"
        f"<h2>What stands out</h2><ul id='findings'>{lines}</ul>"
        "<h2>Day by day</h2>"
        f"<div id='chart'><img src='data:image/png;base64,{chart}' width='640' height='280' "
        "alt='Sessions per day with mean pain before and after'></div>"
        f"<h2>Relief by region and tool</h2>{table}"
        "<h2>Pain before sessions, last 8 weeks</h2><table id='baseline'><tr><th>Week</th>"
        f"<th>Sessions</th><th>Mean pain before</th></tr>{baseline}</table>"
        f"<p class='note'>{escape(NOT_MEDICAL_ADVICE)}</p></body></html>"
    )
