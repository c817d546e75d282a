"""Numbers and text taken from outside (callback data, command arguments, deep links, query
strings, forms, API parameters), parsed and bounded.

Every number a person can type or forge goes through here before it reaches a query, a
`timedelta` or a bit mask: plain ASCII digits only (no sign, no `²`, no `١`), at most a
few digits, inside the range the column or the computation can hold. Anything else is
`None`, and the caller answers with its usual refusal at once. Free text that will be stored
and shown to someone else goes through `clean_text`.
"""

from __future__ import annotations

import hmac
import re

# Row ids are `Integer` columns: PostgreSQL's int4 is the narrowest store.
MAX_ROW_ID = 2**31 - 1
# Telegram user and chat ids fit in 52 bits.
MAX_TELEGRAM_ID = 2**52
# Longer text is never a number we take, whatever its value.
_MAX_DIGITS = 20
_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{0,20})?|-?\.[0-9]{1,20}")


def parse_int(text: str | None, *, low: int = 0, high: int = MAX_ROW_ID) -> int | None:
    """`text` as an int in `[low, high]`, or None. Only ASCII digits, an optional leading `-`
    when `low` is negative."""
    if not isinstance(text, str) or not text or len(text) > _MAX_DIGITS:
        return None
    digits = text[1:] if text.startswith("-") and low < 0 else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_float(text: str | None, *, low: float, high: float) -> float | None:
    """`text` as a finite float in `[low, high]`, or None. Only ASCII: an optional `-`,
    digits, an optional fraction (no exponent, no `nan`, no `１２`, no `1_0`)."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if low <= value <= high else None


def parse_id(text: str | None, *, high: int = MAX_ROW_ID) -> int | None:
    """A positive row id (a case, a consultation) or None."""
    return parse_int(text, low=1, high=high)


def telegram_id(value: object, *, low: int = -MAX_TELEGRAM_ID) -> int | None:
    """A user or chat id as an update carries it (a JSON number), or None: an int, not a bool,
    in `[low, MAX_TELEGRAM_ID]` and not 0 (users are positive: `low=1`)."""
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        return None
    return value if low <= value <= MAX_TELEGRAM_ID else None


def same_secret(given: str | None, expected: str) -> bool:
    """A secret someone presented equals ours, compared in constant time. Any text may be
    presented (`hmac.compare_digest` refuses non-ASCII strings with an exception)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def arg(args: list[str], index: int) -> str:
    """The `index`-th argument or an empty string."""
    return args[index] if 0 <= index < len(args) else ""


# Characters no stored text keeps: C0/C1 controls (but tab and newline), and the bidirectional
# controls (U+061C, U+200E/F, the embeddings and overrides U+202A–U+202E, the isolates
# U+2066–U+2069), which let one line display as something else (a reversed id or amount);
# U+FFFE/U+FFFF are not characters at all.
_UNSTORED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]"
)
_NEWLINES = re.compile("\r\n?|[\u2028\u2029]")


def clean_text(text: str) -> str:
    """Text from outside as it may be stored and shown: line breaks as `\\n`, and without the
    control and bidirectional-control characters above (the words themselves are kept)."""
    return _UNSTORED.sub("", _NEWLINES.sub("\n", text))
