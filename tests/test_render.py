"""Splitting answers longer than Telegram's 4096 characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render import TELEGRAM_TEXT_LIMIT, Renderer, pick_language, split_text


def test_short_text_is_one_part() -> None:
    assert split_text("hello") == ["hello"]


def test_long_text_splits_at_line_breaks() -> None:
    lines = [f"• line {i} " + "x" * 90 for i in range(200)]
    parts = split_text("\n".join(lines))
    assert len(parts) >= 5
    assert all(len(p) <= TELEGRAM_TEXT_LIMIT for p in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, no line cut


def test_a_line_longer_than_the_limit_is_cut_at_spaces_then_anywhere() -> None:
    words = " ".join(["word"] * 3000)
    parts = split_text(words)
    assert all(len(p) <= TELEGRAM_TEXT_LIMIT for p in parts)
    assert " ".join(parts).split() == words.split()
    solid = "汉" * 9000
    parts = split_text(solid)
    assert [len(p) for p in parts] == [4096, 4096, 808]
    assert "".join(parts) == solid


@given(
    st.text(alphabet=st.sampled_from("ab \n汉"), max_size=12000),
    st.integers(min_value=20, max_value=500),
)
def test_parts_always_fit_and_keep_every_visible_character(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )


def test_language_codes() -> None:
    assert pick_language("zh-hans") == "zh"
    assert pick_language("zh-hant") == "zh"
    assert pick_language("en-US") == "en"
    assert pick_language("de") == "en"
    assert pick_language(None, "zh") == "zh"


def test_durations_in_both_languages() -> None:
    r = Renderer()
    assert "2" in r.duration("zh", 2 * 3600) and "3" in r.duration("zh", 3 * 86400)
    assert r.duration("zh", 117) == "2分钟"
    assert r.duration("en", None) == "—"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 min"),
        (29, "0 min"),
        (59, "1 min"),  # to the nearest minute, never cut down
        (117, "2 min"),
        (3569, "59 min"),
        (3599, "1h 0m"),  # rounding carries into the next unit
        (2 * 3600 + 48 * 60 + 29, "2h 48m"),
        (2 * 3600 + 48 * 60 + 31, "2h 49m"),
        (86_399, "1d 0h"),
        (86_400 + 5 * 3600 + 31 * 60, "1d 6h"),  # past a day: to the nearest hour
        (3 * 86_400 + 23 * 3600 + 40 * 60, "4d 0h"),
        (-5, "0 min"),
    ],
)
def test_durations_round_to_the_nearest_unit_shown(seconds: float, shown: str) -> None:
    assert Renderer().duration("en", seconds) == shown


@pytest.mark.parametrize("n,word", [(1, "1 message about"), (3, "3 messages about")])
def test_counts_in_english_agree_with_their_noun(n, word):
    """A returning resident reads "1 message", not "1 message(s)"."""
    text = Renderer().render("en", "missed_updates", count=n)
    assert word in text and "(s)" not in text


@pytest.mark.parametrize("n,word", [(1, "(1 photo attached)"), (2, "(2 photos attached)")])
def test_a_lapsed_draft_counts_its_photos_in_words(n, word):
    text = Renderer().render("en", "draft_expired", photos=n, text="x")
    assert word in text
