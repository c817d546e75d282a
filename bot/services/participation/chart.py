"""The consultation chart: one horizontal bar per option with its votes and share, the question
as the title and the turnout under it, as a PNG drawn with matplotlib in the reader's language.

matplotlib is imported on the first chart (or by `warm_up` in a worker thread after start-up),
never when the bot starts, and only its object API with the Agg canvas is used: no pyplot, no
display, no global figure state, so charts can be drawn in a worker thread.

Chinese glyphs come from a font shipped with the package (`bot/services/fonts/`: Noto Sans CJK
SC cut down to GB 2312 and Latin, SIL Open Font License 1.1), so a fresh `pip install .` draws
Chinese labels. A full CJK font installed on the machine (Debian's `fonts-noto-cjk`, optional)
is used for any character the shipped font lacks.
"""

from __future__ import annotations

import io
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "GridvoiceSansSC-Regular.otf"
# Fonts tried after the shipped one, glyph by glyph (matplotlib's font fallback).
FALLBACK_FAMILIES = ["Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
PALETTE = [
    "#3478f6",
    "#f68234",
    "#2eaa5a",
    "#d63c3c",
    "#8c5ac8",
    "#1eaab4",
    "#c8aa1e",
    "#787878",
    "#e65aa0",
    "#5a8c3c",
]
INK = "#333333"
MUTED = "#666666"
WIDTH_INCHES = 8.0
DPI = 100

_lock = threading.Lock()
_families: list[str] | None = None
_warming: threading.Thread | None = None


@dataclass(frozen=True)
class ChartText:
    """Everything the chart says, already in the reader's language (from the templates)."""

    title: str
    subtitle: str
    votes_axis: str
    options: list[str]
    votes: list[int]
    bar_labels: list[str]


def _font_families() -> list[str]:
    """Register the shipped font once; the family list to draw with."""
    global _families
    with _lock:
        if _families is None:
            from matplotlib import font_manager

            families: list[str] = []
            if FONT_FILE.exists():
                font_manager.fontManager.addfont(str(FONT_FILE))
                families.append(font_manager.FontProperties(fname=str(FONT_FILE)).get_name())
            installed = {f.name for f in font_manager.fontManager.ttflist}
            families += [f for f in FALLBACK_FAMILIES if f in installed or f == "DejaVu Sans"]
            _families = families
        return _families


def warm_up() -> None:
    """Import matplotlib and load the fonts (a second or two) by drawing a tiny chart."""
    bar_chart(ChartText("", "", "", ["1"], [1], ["1"]))


def warm_up_soon() -> None:
    """Start `warm_up` in a background thread, once per process, when charts are about to be
    asked for (a consultation published or managed), so the first one is not slow."""
    global _warming
    with _lock:
        if _warming is None:
            _warming = threading.Thread(target=warm_up, name="chart-warm-up", daemon=True)
            _warming.start()


def _wrap(text: str, width: int) -> str:
    """Wrap a label; Chinese has no spaces, so long runs are cut by characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width, break_long_words=True) or [""]
    if len(lines) > 3:
        lines = [*lines[:2], lines[2][: max(1, width - 1)] + "…"]
    return "\n".join(lines)


def _width_units(text: str) -> int:
    """Wide (CJK) characters take about two Latin character widths."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _wrap_for(text: str, columns: int) -> str:
    wide = _width_units(text) > len(text) * 1.5
    return _wrap(text, columns // 2 if wide else columns)


def bar_chart(chart: ChartText) -> bytes:
    """The chart as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    families = _font_families()
    n = max(1, len(chart.options))
    height = 1.9 + 0.62 * n
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    font: dict[str, Any] = {"family": families}
    axes = figure.add_subplot()
    positions = list(range(len(chart.options)))
    colours = [PALETTE[i % len(PALETTE)] for i in positions]
    bars = axes.barh(positions, chart.votes, color=colours, height=0.6)
    axes.invert_yaxis()  # the first option on top
    axes.set_yticks(
        positions,
        [_wrap_for(f"{i + 1}. {o}", 28) for i, o in enumerate(chart.options)],
        fontdict={**font, "size": 11, "color": INK},
    )
    peak = max(chart.votes or [0]) or 1
    axes.set_xlim(0, peak * 1.25)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel(chart.votes_axis, fontdict={**font, "size": 10, "color": MUTED})
    for label in axes.get_xticklabels():
        label.set_fontfamily(families)
    axes.bar_label(
        bars, labels=chart.bar_labels, padding=4, fontsize=11, color=INK, fontfamily=families
    )
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(axis="y", length=0)
    figure.suptitle(_wrap_for(chart.title, 70), fontsize=14, color=INK, **font)
    axes.set_title(_wrap_for(chart.subtitle, 90), fontsize=10, color=MUTED, loc="left", **font)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()
