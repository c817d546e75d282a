"""Telegram-flavoured HTML validation."""

from __future__ import annotations

import pytest

from bot.emulator.validation import ApiError, parse_html


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em>", "bold s i e"),
        ("<u>u</u><ins>i</ins><s>s</s><strike>k</strike><del>d</del>", "uiskd"),
        ('<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>', "xy"),
        ('<a href="https://example.org/?a=1&amp;b=2">link</a>', "link"),
        ('<pre><code class="language-python">x = 1 &lt; 2</code></pre>', "x = 1 < 2"),
        ("<blockquote expandable>q</blockquote>", "q"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ("a &lt;b&gt; &amp; &quot;c&quot; &#65;&#x42;", 'a <b> & "c" AB'),
        ("1 > 0", "1 > 0"),
    ],
)
def test_valid_html(source: str, plain: str) -> None:
    assert parse_html(source) == plain


@pytest.mark.parametrize(
    "source",
    [
        "<b>unclosed",
        "<b><i>crossed</b></i>",
        "stray </b>",
        "<script>x</script>",
        "<span>no class</span>",
        "1 < 2",
        "<b",
        "fish & chips",
        "&nbsp;",
        "<tg-emoji>x</tg-emoji>",
    ],
)
def test_invalid_html(source: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_html(source)
    assert err.value.code == 400
    assert err.value.description.startswith("Bad Request: can't parse entities: ")
