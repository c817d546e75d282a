"""Numbers taken from outside (callback data, command arguments, deep links), parsed and bounded.

Everything a person can type or forge goes through here before it reaches a query, a
`timedelta` or a bit mask: plain ASCII digits only (no sign, no `²`, no `١`), at most a
few digits, inside the range the column or the computation can hold. Anything else is
`None`, and the caller answers with its usual refusal at once.
"""

from __future__ import annotations

# Row ids are `Integer` columns: PostgreSQL's int4 is the narrowest store.
MAX_ROW_ID = 2**31 - 1
# Telegram user and chat ids fit in 52 bits.
MAX_TELEGRAM_ID = 2**52
# Longer text is never a number we take, whatever its value.
_MAX_DIGITS = 20


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


def parse_id(text: str | None, *, high: int = MAX_ROW_ID) -> int | None:
    """A positive row id (a case, a consultation) or None."""
    return parse_int(text, low=1, high=high)


def arg(args: list[str], index: int) -> str:
    """The `index`-th argument or an empty string."""
    return args[index] if 0 <= index < len(args) else ""
