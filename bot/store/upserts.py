"""The INSERT … ON CONFLICT statements written on every update, in a form SQLAlchemy caches.

SQLAlchemy never caches its dialect INSERTs that carry ON CONFLICT (their `inherit_cache` is
False), so each execution compiled the statement anew: about half a millisecond of CPU, twice
for every message (its inbox row and the person's rate window). Declared here once as text with
typed parameters — SQLite (3.24 and later) and PostgreSQL read these forms alike — they are
compiled once per shape and then only bound. Rarer upserts keep `Domain.insert`. The same
multi-row form writes a hot transaction's outgoing rows on SQLite's driver (`bot.store.db`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.sql.elements import TextClause

from bot.store.models import InboxUpdate, RateWindow

#: The columns an inbox row is written with (every row names all of them, None where unset).
INBOX_COLUMNS = ("update_id", "payload", "user_id", "received_at", "status", "attempts")
INBOX_DONE_COLUMNS = (*INBOX_COLUMNS, "processed_at")


@lru_cache(maxsize=128)
def rows_insert(
    table: Table, columns: tuple[str, ...], rows: int, conflict: str = "", returning: str = ""
) -> TextClause:
    """INSERT `rows` rows of `columns` in one statement, as text with typed parameters
    (`:<column>_<row>`, see `rows_params`); with `conflict`, skipping rows whose `conflict`
    column is stored already; with `returning`, answering that column."""
    values = ", ".join("(" + ", ".join(f":{c}_{i}" for c in columns) + ")" for i in range(rows))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {values}"
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {returning}"
    stmt = text(sql).bindparams(
        *(bindparam(f"{c}_{i}", type_=table.c[c].type) for i in range(rows) for c in columns)
    )
    written = stmt.columns(table.c[returning]) if returning else stmt
    # the table it writes, where the write listeners (bot.store.db) look on a Core INSERT
    written.table = table  # type: ignore[attr-defined]
    return written  # type: ignore[return-value]


def rows_params(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> dict[str, Any]:
    """`rows_insert`'s parameters for these rows (None where a row has no value)."""
    return {f"{c}_{i}": row.get(c) for i, row in enumerate(rows) for c in columns}


def inbox_insert(
    rows: Sequence[dict[str, Any]], *, returning: bool = False
) -> tuple[TextClause, dict[str, Any]]:
    """INSERT inbox rows, skipping update_ids already stored (a duplicate delivery); with
    `returning`, the statement answers the update_ids it inserted."""
    columns = INBOX_DONE_COLUMNS if any("processed_at" in r for r in rows) else INBOX_COLUMNS
    stmt = rows_insert(
        InboxUpdate.__table__,  # type: ignore[arg-type]
        columns,
        len(rows),
        "update_id",
        "update_id" if returning else "",
    )
    return stmt, rows_params(rows, columns)


_WINDOW = RateWindow.__table__
_RESTART = "rate_windows.window_start <= :since OR rate_windows.window_start > :now"
#: Open, restart (a minute has passed, or the clock went back) or count up a person's window;
#: it answers the new count. SET reads the row as it was before the update, on both databases.
RATE_WINDOW_COUNT = text(
    "INSERT INTO rate_windows (user_id, window_start, count, warned)"
    " VALUES (:user_id, :now, 1, :no)"
    " ON CONFLICT (user_id) DO UPDATE SET"
    f" window_start = CASE WHEN {_RESTART} THEN :now ELSE rate_windows.window_start END,"
    f" count = CASE WHEN {_RESTART} THEN 1 ELSE rate_windows.count + 1 END,"
    f" warned = CASE WHEN {_RESTART} THEN :no ELSE rate_windows.warned END"
    " RETURNING count"
).bindparams(
    bindparam("user_id", type_=_WINDOW.c.user_id.type),
    bindparam("now", type_=_WINDOW.c.window_start.type),
    bindparam("since", type_=_WINDOW.c.window_start.type),
    bindparam("no", type_=_WINDOW.c.warned.type),
)
RATE_WINDOW_COUNT.table = _WINDOW  # type: ignore[attr-defined]
