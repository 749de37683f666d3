"""The week's chart: sessions per day (bars) with mean pain before and after (lines).

Drawn by matplotlib's Agg canvas (no pyplot state, so threads are safe) into a
palette PNG. Only processes that draw import this module (and matplotlib).
"""

from __future__ import annotations

import io
import threading
from datetime import date
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from core.reports.render import CHART_SIZE_PX


class _ChartCanvas:
    """A drawn chart frame (axes, ticks, legend) whose data artists are redrawn per account.

    Drawing a whole matplotlib figure costs ~50 ms, which at one chart per person
    would dominate the weekly run; restoring the saved background and drawing
    seven bars and two lines onto it (matplotlib's blitting) costs about a tenth.
    """

    def __init__(self, labels: tuple[str, ...], sessions_top: int) -> None:
        width, height = CHART_SIZE_PX
        self.figure = Figure(figsize=(width / 100, height / 100), dpi=100)
        self.canvas = FigureCanvasAgg(self.figure)
        # Fixed margins instead of tight_layout(), which costs a third of the drawing time.
        self.figure.subplots_adjust(left=0.08, right=0.91, bottom=0.12, top=0.86)
        x = list(range(len(labels)))
        self.counts_axis = self.figure.add_subplot()
        self.bars = self.counts_axis.bar(x, [0] * len(x), color="#d9e6f2", label="sessions")
        self.counts_axis.set_ylabel("sessions")
        self.counts_axis.set_ylim(0, sessions_top)
        self.counts_axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.counts_axis.set_xticks(x, labels)
        self.counts_axis.set_xlim(-0.6, len(x) - 0.4)
        self.pain_axis = self.counts_axis.twinx()
        self.lines = {
            field: self.pain_axis.plot(
                [], [], marker=marker, markersize=size, color=color, label=name
            )[0]
            for field, color, marker, size, name in (
                ("mean_pain_before", "#c0392b", "o", 9, "pain before"),
                ("mean_pain_after", "#27ae60", "s", 6, "pain after"),
            )
        }
        self.pain_axis.set_ylim(0, 10)
        self.pain_axis.set_ylabel("pain (0-10)")
        # Above the plot, so the redrawn data never covers it.
        self.pain_axis.legend(
            handles=[self.bars, *self.lines.values()],
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=3,
            fontsize="small",
            frameon=False,
        )
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        # One 64-colour palette per frame, taken from a sample drawing with every colour
        # and blend a chart can have (lines over bars): mapping each chart onto it costs a
        # fifth of computing a palette per chart, and a palette PNG skips the per-row
        # filters of an RGB one. It looks the same, and the file is a third the size.
        top = sessions_top - 1
        sample = [
            {"sessions": top - i % 2, "mean_pain_before": 9.0 - i, "mean_pain_after": float(i)}
            for i in range(len(labels))
        ]
        self.palette = self._draw(sample).quantize(colors=64, method=Image.Quantize.FASTOCTREE)

    def _draw(self, days: list[dict[str, Any]]) -> Image.Image:
        self.canvas.restore_region(self.background)
        for bar, day in zip(self.bars, days, strict=True):
            bar.set_height(day["sessions"])
            self.counts_axis.draw_artist(bar)
        for field, line in self.lines.items():
            # Only days with sessions: a line through empty days would invent values.
            points = [(i, d[field]) for i, d in enumerate(days) if d[field] is not None]
            line.set_data([p[0] for p in points], [p[1] for p in points])
            self.pain_axis.draw_artist(line)
        width, height = CHART_SIZE_PX
        return Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba()).convert("RGB")

    def render(self, days: list[dict[str, Any]]) -> bytes:
        image = self._draw(days).quantize(palette=self.palette, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)  # speed over the last bytes
        return buffer.getvalue()


_canvases = threading.local()  # matplotlib figures must not be shared between threads


def chart_png(inputs: dict[str, Any]) -> bytes:
    """Sessions per day (bars) with mean pain before and after (lines), 0-10 scale."""
    days = inputs["days"]
    labels = tuple(date.fromisoformat(d["date"]).strftime("%a %d") for d in days)
    sessions_top = max([3, *(d["sessions"] for d in days)]) + 1
    cache: dict[tuple[tuple[str, ...], int], _ChartCanvas] = _canvases.__dict__.setdefault(
        "by_frame", {}
    )
    canvas = cache.get((labels, sessions_top))
    if canvas is None:
        if len(cache) >= 16:  # a run moves week by week: keep only recent frames
            cache.clear()
        canvas = cache[(labels, sessions_top)] = _ChartCanvas(labels, sessions_top)
    return canvas.render(days)
