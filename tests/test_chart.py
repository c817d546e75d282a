"""The consultation chart: a PNG drawn with matplotlib, labelled in the reader's language, with
Chinese glyphs from the font the package ships (no system font needed), imported lazily."""

from __future__ import annotations

import struct
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from bot.render import Renderer
from bot.services.participation import chart
from bot.services.participation.chart import FONT_FILE, ChartText, bar_chart
from bot.services.participation.consultations import chart_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = {
    "en": ["Build a covered bicycle shed by the north gate", "Keep the lawn", "Later"],
    "zh": ["在北门旁建一个带顶棚的自行车棚", "保留草坪", "以后再说"],
}
QUESTION = {"en": "Should we add a bicycle shed?", "zh": "要不要建自行车棚？"}


def data(lang: str) -> dict:
    votes, percents = [42, 23, 4], [60.9, 33.3, 5.8]
    return {
        "options": [
            {"n": i + 1, "text": t, "votes": v, "percent": p}
            for i, (t, v, p) in enumerate(zip(RESULTS[lang], votes, percents, strict=True))
        ],
        "ballots": 69,
        "eligible": 212,
        "turnout": 32.5,
        "grids": [],
    }


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chart_text_is_in_the_readers_language(lang: str) -> None:
    c = NS(id=7, question=QUESTION[lang], status="closed")
    text = chart_text(Renderer(), c, data(lang), lang)
    assert QUESTION[lang] in text.title and "#7" in text.title
    assert text.options == RESULTS[lang] and text.votes == [42, 23, 4]
    expected = {
        "en": ("Turnout 32.5%", "69 of 212", "Votes", "42 (60.9%)"),
        "zh": ("参与率 32.5%", "212 位", "票数", "42票（60.9%）"),
    }[lang]
    assert expected[0] in text.subtitle and expected[1] in text.subtitle
    assert text.votes_axis == expected[2] and text.bar_labels[0] == expected[3]
    live = chart_text(Renderer(), NS(id=7, question="Q & A", status="open"), data(lang), lang)
    assert "Q & A" in live.title and "&amp;" not in live.title  # plain text, not HTML
    assert ("live" if lang == "en" else "实时") in live.title


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chart_is_a_png_sized_for_its_options(lang: str) -> None:
    c = NS(id=7, question=QUESTION[lang], status="closed")
    png = bar_chart(chart_text(Renderer(), c, data(lang), lang))
    width, height = png_size(png)
    assert width == 800 and 300 <= height <= 500
    one = bar_chart(ChartText("T", "S", "V", ["a"], [0], ["0 (0%)"]))
    assert png_size(one)[1] < height  # fewer options, a shorter chart


def test_chinese_labels_need_only_the_shipped_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a fresh machine with only `pip install .`: no system CJK font to fall back to."""
    assert FONT_FILE.exists() and FONT_FILE.stat().st_size < 2_500_000
    chart._font_families()  # registers the shipped font
    from matplotlib import font_manager

    shipped = font_manager.FontProperties(fname=str(FONT_FILE)).get_name()
    monkeypatch.setattr(chart, "_families", [shipped])
    c = NS(id=7, question=QUESTION["zh"] + "（议事协商）", status="closed")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bar_chart(chart_text(Renderer(), c, data("zh"), "zh"))
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


def test_matplotlib_is_not_imported_when_the_bot_starts() -> None:
    code = (
        "import sys, bot.runtime.app, bot.services.participation.consultations, handlers.dispatch;"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
