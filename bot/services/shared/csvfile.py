"""The one way gridvoice writes CSV: open data (/data/*.csv, `gridvoice export`), the desk's
assessment and a consultation's results.

What a spreadsheet opening the file needs:

* UTF-8 with a byte order mark at the start of the file (`BOM`), or Excel reads Chinese as
  mojibake; Python reads it with `encoding="utf-8-sig"`, pandas and Frictionless skip it.
* A text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return (also after
  leading spaces or removed control characters) is prefixed with an apostrophe `'`, so a spreadsheet shows it as text instead of running it as a formula (a status
  note `=HYPERLINK(...)` stays words). Numbers are never prefixed (a longitude may be negative).
* Control characters (C0 and C1, DEL) are removed from text; a line break or a tab inside a
  text becomes a space, so every record is one line.
* Lines end in CRLF (RFC 4180); quoting is the csv module's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BREAKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def cell(value: Any) -> Any:
    """A value as it may stand in a cell: numbers as they are, text made safe (see above)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    clean = _CONTROLS.sub("", _BREAKS.sub(" ", value))
    if value.startswith(FORMULA_START) or clean.lstrip(" ").startswith(FORMULA_START):
        return "'" + clean
    return clean


def csv_line(row: Iterable[Any]) -> str:
    """One record, made safe cell by cell, ending in CRLF."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([cell(v) for v in row])
    return buffer.getvalue()


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """A whole file (header row first) as text, starting with the byte order mark."""
    return BOM + "".join(csv_line(row) for row in rows)


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """A whole file as UTF-8 bytes, byte order mark first."""
    return csv_text(rows).encode("utf-8")
