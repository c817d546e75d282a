"""Engine, sessions and migrations. SQLite by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Float, bindparam, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, configure_mappers

log = logging.getLogger(__name__)

#: Statements, commits and rollbacks this process sent, counted when `GRIDVOICE_SQL_STATS` is
#: set (the benchmark sets it; /metrics shows them as gridvoice_sql_*_total).
SQL_STATS: dict[str, int] = {"statements": 0, "commits": 0, "rollbacks": 0}


def count_sql(engine: AsyncEngine) -> None:
    """Count every statement, commit and rollback on `engine` into `SQL_STATS`."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(*_args):  # type: ignore[no-untyped-def]
        SQL_STATS["statements"] += 1

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(_conn):  # type: ignore[no-untyped-def]
        SQL_STATS["commits"] += 1

    @event.listens_for(engine.sync_engine, "rollback")
    def _rollback(_conn):  # type: ignore[no-untyped-def]
        SQL_STATS["rollbacks"] += 1


#: Execution option of a write transaction whose statements may run on the event loop's own
#: thread (SQLite): the processor's and the sender's short transactions (`Domain.unit(hot=True)`).
ON_LOOP = "statements_on_loop"
#: A statement on the loop's thread slower than this sends the rest of its transaction back to
#: the connection's thread: a handler that reads much (a report over months) blocks the loop once.
SLOW_ON_LOOP = 0.02


async def _ready(value: Any) -> Any:
    """An awaitable that is done at once: SQLAlchemy's async layer insists that an execution
    awaits something, and a statement run on the loop's thread has nothing to wait for."""
    return value


def _one_trip_sqlite() -> None:
    """SQLite through aiosqlite: run a statement in ONE trip to the connection's thread, or none.

    SQLAlchemy's adapter makes four (open a cursor, execute, fetch, close), each a hand-over
    between threads and an event-loop wake-up: for the bot's short statements those trips cost
    more CPU than SQLite itself. The same four steps, done in the thread in one go; anything
    unexpected (a server-side cursor, a changed adapter) keeps the adapter's own way.

    A write transaction that asked for it (`ON_LOOP`) runs on the event loop's thread with no
    trip at all, from its `BEGIN IMMEDIATE` to its `COMMIT`: once it holds the database's only
    write lock nothing can make its statements wait, and the processor's and the sender's are a
    few point reads and writes each.
    - Its `BEGIN IMMEDIATE` is tried here without waiting (a busy timeout of 0). Where another
      connection holds the lock, it goes to the connection's thread and waits there as before:
      the loop never waits for a lock (the holder may be this loop's own web request).
    - Its `COMMIT` appends to the write-ahead log here (`synchronous=NORMAL`: no fsync), with
      SQLite's automatic checkpoint of the log to disk turned off for it. A transaction that
      changed many rows, and every `CHECK_EVERY`th hot commit, commit on the connection's
      thread instead, with the checkpoint on: it runs there when the log is long.
    - A handler about to read much says so (`statements_off_loop`), and a statement that took
      longer than `SLOW_ON_LOOP` sends the rest of its transaction (its commit too) back to the
      thread: the loop is never held for long.
    A rollback or commit with no transaction open (the pool's reset of every connection it
    takes back) is a no-op in SQLite and makes no trip either."""
    try:
        from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_cursor as Cursor
    except ImportError:  # pragma: no cover - no aiosqlite
        return
    if getattr(Cursor, "_one_trip", False) or not hasattr(Cursor, "execute"):
        return
    original = Cursor.execute

    def run(conn: Any, operation: Any, parameters: Any) -> tuple[Any, Any, Any, Any]:
        cursor = conn.cursor()
        try:
            if parameters is None:
                cursor.execute(operation)
            else:
                cursor.execute(operation, parameters)
            if cursor.description:
                return cursor.description, cursor.fetchall(), -1, -1
            return None, None, cursor.lastrowid, cursor.rowcount
        finally:
            cursor.close()

    def call(cursor: Any, fn: Any, *args: Any) -> Any:
        """`fn(sqlite3 connection, *args)`: here, in a hot transaction; else in one trip."""
        connection = cursor._connection
        raw = connection._conn
        if not getattr(connection, ON_LOOP, False):
            return cursor.await_(connection._execute(fn, raw, *args))
        if not raw.in_transaction:
            if not (args and args[0] == _BEGIN):
                return cursor.await_(connection._execute(fn, raw, *args))
            if _begin_here(raw):
                done = cursor.await_(_ready((None, None, None, -1)))
            else:  # another connection holds the lock: wait for it on the connection's thread
                done = cursor.await_(connection._execute(fn, raw, *args))
            # where the commit counts this transaction's changes from, however it began
            setattr(connection, _CHANGES, raw.total_changes)
            return done
        started = time.perf_counter()
        done = fn(raw, *args)
        if time.perf_counter() - started > SLOW_ON_LOOP:
            setattr(connection, ON_LOOP, False)  # the rest of it goes to the thread
        return cursor.await_(_ready(done))

    def execute(self: Any, operation: Any, parameters: Any = None) -> Any:
        connection = self._connection
        if self.server_side or not hasattr(connection, "_execute"):
            return original(self, operation, parameters)
        try:
            description, rows, lastrowid, rowcount = call(self, run, operation, parameters)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
            return None
        self.description = description
        self.lastrowid, self.rowcount = lastrowid, rowcount
        if description:
            self._rows = deque(rows)
        return None

    def run_many(conn: Any, operation: Any, rows: Any) -> tuple[Any, Any]:
        cursor = conn.cursor()
        try:
            cursor.executemany(operation, rows)
            return cursor.lastrowid, cursor.rowcount
        finally:
            cursor.close()

    original_many = Cursor.executemany

    def executemany(self: Any, operation: Any, seq_of_parameters: Any) -> Any:
        connection = self._connection
        if not hasattr(connection, "_execute"):
            return original_many(self, operation, seq_of_parameters)
        try:
            lastrowid, rowcount = call(self, run_many, operation, seq_of_parameters)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
            return None
        self.description = None
        self.lastrowid, self.rowcount = lastrowid, rowcount
        return None

    try:
        from sqlalchemy.dialects.sqlite.aiosqlite import (
            AsyncAdapt_aiosqlite_connection as Adapted,
        )
    except ImportError:  # pragma: no cover - no aiosqlite
        Adapted = None

    def idle(adapted: Any) -> bool:
        raw = getattr(getattr(adapted, "_connection", None), "_conn", None)
        return raw is not None and not raw.in_transaction

    if Adapted is not None and hasattr(Adapted, "rollback") and hasattr(Adapted, "commit"):
        original_rollback, original_commit = Adapted.rollback, Adapted.commit

        def rollback(self: Any) -> None:
            if not idle(self):
                original_rollback(self)

        def commit(self: Any) -> None:
            if idle(self):
                return
            connection = self._connection
            if getattr(connection, ON_LOOP, False) and _commit_here(connection):
                raw = connection._conn
                try:
                    raw.execute("PRAGMA wal_autocheckpoint=0")  # no checkpoint on the loop
                    try:
                        raw.commit()
                    finally:
                        raw.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT}")
                except Exception as error:
                    self._handle_exception(error)
                return
            original_commit(self)

        Adapted.rollback, Adapted.commit = rollback, commit

    Cursor.execute = execute
    Cursor.executemany = executemany
    Cursor._one_trip = True


#: How long a statement waits for another connection's write lock (not on the loop's thread).
BUSY_TIMEOUT_MS = 30_000
#: A hot transaction's `BEGIN`, as the engine's `begin` listener issues it.
_BEGIN = "BEGIN IMMEDIATE"
#: Attribute of a driver connection: `total_changes` when its hot transaction began.
_CHANGES = "changes_at_begin"
#: A hot transaction that changed more rows than this commits on the connection's thread (a
#: long append to the log, and maybe its checkpoint).
MANY_CHANGES = 64
#: SQLite's automatic checkpoint: a commit that leaves the log this many pages long or longer
#: copies it into the database (its default).
AUTOCHECKPOINT = 1000
#: Every this many hot commits, one commits on the connection's thread with the checkpoint
#: on. A hot transaction writes a few pages, so the log stays within a few hundred pages of
#: `AUTOCHECKPOINT`.
CHECK_EVERY = 32
_hot_commits = [0]


def _begin_here(raw: Any, wait_after: bool = True) -> bool:
    """`BEGIN IMMEDIATE` on this thread if the write lock is free now; False (nothing begun)
    when another connection holds it. `wait_after`: the connection's later statements wait
    for a lock again (a pooled connection; the loop's own never does)."""
    import sqlite3

    if wait_after:
        raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute(_BEGIN)
    except sqlite3.OperationalError:
        if raw.in_transaction:  # pragma: no cover - BEGIN either starts one or fails
            raise
        return False
    finally:
        if wait_after:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return True


def _checkpoint_turn() -> bool:
    """Whether this hot commit is the `CHECK_EVERY`th, to be made where it may checkpoint."""
    _hot_commits[0] += 1
    return _hot_commits[0] % CHECK_EVERY == 0


def _commit_here(connection: Any) -> bool:
    """Whether a hot transaction commits on the event loop's thread (see `_one_trip_sqlite`)."""
    changed = connection._conn.total_changes - getattr(connection, _CHANGES, 0)
    if changed > MANY_CHANGES:
        return False
    return not _checkpoint_turn()


_one_trip_sqlite()


class DriverForm:
    """A Core statement as the driver takes it, compiled once for a dialect: its
    SQL, its parameters in the driver's order through their types' bind processors, an
    expanding `IN` list written out for the values given (`bind`), and its result rows
    through their columns' result processors (`rows`)."""

    def __init__(self, statement: Any, dialect: Any, column_keys: list[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self._compiled = compiled
        #: the tables the statement reads or writes (`hot_rows` asks on every run)
        self.tables = _tables(statement)
        self._names = list(compiled.positiontup or ())
        self._processors = [
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self._names
        ]
        self._expanding = {
            name for name in self._names if getattr(compiled.binds[name], "expanding", False)
        }
        # `row` without `construct_params` (which builds a dict of every parameter): each
        # distinct parameter looked up as it does (its key, then its name, else its own value)
        # and processed once, however often the SQL repeats it
        escaped = compiled.escaped_bind_names or {}
        by_name = {
            escaped.get(name, name): (param, name) for param, name in compiled.bind_names.items()
        }
        distinct = list(dict.fromkeys(self._names))
        self._plan = [
            (by_name[name][0].key, by_name[name][1], by_name[name][0], process)
            for name, process in zip(
                distinct, (self._processors[self._names.index(n)] for n in distinct), strict=True
            )
        ]
        self._at = (
            None
            if len(distinct) == len(self._names)
            else tuple(distinct.index(name) for name in self._names)
        )
        #: PostgreSQL's driver numbers its parameters ($1, $2 ...): a list written out renumbers
        self._dollar = dialect.paramstyle == "numeric_dollar"
        results = [
            _result_processor(entry[3], dialect)
            for entry in getattr(compiled, "_result_columns", ())
        ]
        self._results = results if any(results) else None

    def row(self, params: dict[str, Any]) -> tuple:
        """The driver's row for `params` (a statement without expanding parameters): the values
        `construct_params` would give, through their bind processors."""
        values = []
        for key, name, param, process in self._plan:
            if key in params:
                value = params[key]
            elif name in params:
                value = params[name]
            elif param.required:
                self._compiled.construct_params(params)  # raises SQLAlchemy's own error
                raise AssertionError(key)
            else:
                value = param.effective_value if param.callable else param.value
            values.append(value if process is None else process(value))
        at = self._at
        return tuple(values) if at is None else tuple(values[i] for i in at)

    def bind(self, params: dict[str, Any]) -> tuple[str, tuple] | None:
        """The SQL and the driver's row for `params`, each expanding list written out. None
        for an empty list on PostgreSQL, whose empty `IN` SQLAlchemy writes with the column's
        type (the session's way takes it)."""
        if not self._expanding:
            return self.sql, self.row(params)
        full = self._compiled.construct_params(params, _check=False)
        sql, values = self.sql, []
        lists: dict[str, str] = {}
        numbers: dict[str, str] = {}  # PostgreSQL: a plain parameter's number -> its new one
        for name, process in zip(self._names, self._processors, strict=True):
            value = full[name]
            if name not in self._expanding:
                values.append(value if process is None else process(value))
                numbers[str(len(numbers) + 1)] = f"${len(values)}"
                continue
            items = list(value)
            if not items and self._dollar:
                return None
            if not items:  # SQLAlchemy's own form of an empty IN: true of no row
                sql = sql.replace(f"(__[POSTCOMPILE_{name}])", "(SELECT 1 WHERE 1 != 1)")
                continue
            first = len(values) + 1
            marks = (
                (f"${i}" for i in range(first, first + len(items)))
                if self._dollar
                else "?" * len(items)
            )
            lists[name] = ", ".join(marks)
            values.extend(v if process is None else process(v) for v in items)
        if self._dollar:
            sql = _NUMBERED.sub(lambda found: numbers[found.group(1)], sql)
        for name, written in lists.items():
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", written)
        return sql, tuple(values)

    def rows(self, found: list[tuple]) -> list[tuple]:
        """The driver's result rows as SQLAlchemy would give their values."""
        results = self._results
        if results is None:
            return found
        return [
            tuple(v if p is None else p(v) for v, p in zip(r, results, strict=True)) for r in found
        ]


def _result_processor(kind: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a result column's values of type `kind`. PostgreSQL's numbers
    depend on the type the column has in the database: a float column (`Float` makes double
    precision) or a numeric one, as the migrations make them."""
    impl = kind.dialect_impl(dialect)
    try:
        return impl.result_processor(dialect, None)  # type: ignore[no-any-return]
    except (TypeError, InvalidRequestError):
        stored = _PG_FLOAT8 if isinstance(kind, Float) else _PG_NUMERIC
        return impl.result_processor(dialect, stored)  # type: ignore[no-any-return]


#: PostgreSQL's type numbers of double precision and numeric
_PG_FLOAT8, _PG_NUMERIC = 701, 1700

#: A parameter of a statement compiled for PostgreSQL's driver: $1, $2 ...
_NUMBERED = re.compile(r"\$(\d+)")

#: session.info key: the driver's connection of a hot transaction (`Domain.unit(hot=True)`):
#: SQLite's, or asyncpg's on PostgreSQL, whose short statements `hot_rows` runs without
#: SQLAlchemy
HOT_DRIVER = "hot_driver"
#: session.info key: the models whose loaded rows a hot transaction writes on the driver
#: (`hot_write_changes`), before a statement that reads their table and before its commit
HOT_WRITES = "hot_writes"
_FORMS: dict[tuple[Any, str], DriverForm] = {}


async def hot_rows(
    session: AsyncSession, statement: Any, params: dict[str, Any] | list[dict[str, Any]]
) -> list[Any]:
    """The rows `statement` answers for `params` (none for a write without RETURNING, and
    none for a list of parameter sets, run as one `executemany`).

    In a hot transaction on SQLite still on the event loop's thread, the statement goes to
    the driver's connection directly, compiled once (`DriverForm`): SQLAlchemy's session and
    execution context cost about 0.2 ms a statement, SQLite about 5 µs for the processor's
    and the sender's bookkeeping, and the few reads of every report. What the session does
    before a statement is done here too: the ORM changes of this transaction not written yet
    to a table the statement reads or writes are written first (its autoflush), and what the
    session's listeners note is noted (`_statement_seen`); a statement on the outbox while
    messages are queued goes through the session, which writes them first. On PostgreSQL a
    hot transaction, begun on its asyncpg connection (`begin_hot_asyncpg`), sends its
    statements there the same way (a point read cost about 120 µs of CPU through the
    session, 46 µs on asyncpg). Elsewhere it goes through the session, as any statement."""
    sqlite_driver = _hot_driver(session)
    driver = sqlite_driver if sqlite_driver is not None else _hot_asyncpg(session)
    form = bound = None
    if driver is not None:
        form = _form_of(statement, session.bind.dialect)
        if not (session.info.get(QUEUED) and "outbox" in form.tables):
            bound = _driver_values(form, params)
    if form is None or bound is None:
        done = await session.execute(statement, params)
        return list(done.all()) if getattr(done, "returns_rows", True) else []
    sync = session.sync_session
    if _unwritten_in(sync, form.tables):
        # as the session's autoflush would, before the statement: the rows the transaction
        # writes on the driver there (`hot_write_changes`), the rest by the flush
        await hot_write_changes(session)
        if _unwritten_in(sync, form.tables):
            await session.flush()
    _statement_seen(sync, statement, getattr(statement, "is_select", False))
    sql, values, many = bound
    if sqlite_driver is not None:
        return form.rows(_on_driver(sqlite_driver, sql, values, many))
    return form.rows(await _on_asyncpg(driver, sql, values, session.bind.dialect, many))


def _unwritten_in(sync: Session, tables: frozenset[str]) -> bool:
    """Whether the session holds a change not yet written to one of `tables`."""
    unwritten = (*sync.new, *sync.dirty, *sync.deleted)
    return bool(unwritten) and not tables.isdisjoint(
        getattr(o, "__tablename__", "") for o in unwritten
    )


def _driver_values(form: DriverForm, params: Any) -> tuple[str, Any, bool] | None:
    """The SQL, the driver's values and whether they are many rows (a list of parameter sets,
    run as one `executemany`) for `params`; None where `DriverForm.bind` has no form."""
    if isinstance(params, list):
        return form.sql, [form.row(p) for p in params], True
    bound = form.bind(params)
    return None if bound is None else (*bound, False)


def statements_on(
    execute: Execute, dialect: Any
) -> Callable[[Any, dict[str, Any] | list[dict[str, Any]]], Awaitable[list[Any]]]:
    """Core statements run through a driver connection's `execute` (the work of
    `LoopConnection.run` or `DriverConnection.run`), compiled once per database as `hot_rows`
    compiles them: `run(statement, params)` gives their rows as SQLAlchemy would."""

    async def run(statement: Any, params: dict[str, Any] | list[dict[str, Any]]) -> list[Any]:
        form = _form_of(statement, dialect)
        bound = _driver_values(form, params)
        if bound is None:
            raise ValueError("an empty list in IN: only the session writes it on PostgreSQL")
        return form.rows(await execute(*bound))

    return run


def _form_of(statement: Any, dialect: Any) -> DriverForm:
    """`statement` as the driver takes it, compiled on first use for the driver's database (the
    hot path's statements are built once, so they are their own key)."""
    key = (statement, dialect.name)
    form = _FORMS.get(key)
    if form is None:
        if len(_FORMS) >= _FORMS_MAX:
            _FORMS.clear()
        form = _FORMS[key] = DriverForm(statement, dialect)
    return form


async def begin_hot_asyncpg(adapted: Any) -> None:
    """PostgreSQL: begin a hot transaction on its connection at once, as SQLAlchemy's asyncpg
    adapter would at its first statement (`_start_transaction`, the same isolation): that
    statement then goes to asyncpg too (`_hot_asyncpg`) instead of through the session, about
    0.2 ms of CPU less a transaction. An adapter without that method keeps SQLAlchemy's way."""
    start = getattr(adapted, "_start_transaction", None)
    if start is not None and not getattr(adapted, "_started", True):
        await start()


def _hot_connection(session: Session | AsyncSession) -> Any:
    """The driver connection a hot transaction's statements go to (`_hot_driver` on SQLite,
    `_hot_asyncpg` on PostgreSQL), or None where they go through the session."""
    driver = _hot_driver(session)
    return driver if driver is not None else _hot_asyncpg(session)


def _hot_asyncpg(session: Session | AsyncSession) -> Any:
    """PostgreSQL: the asyncpg connection of a hot transaction once its transaction has begun
    there (`begin_hot_asyncpg`, or SQLAlchemy at its first statement), or None."""
    driver = session.info.get(HOT_DRIVER)
    if driver is None or not hasattr(driver, "is_in_transaction"):
        return None
    return driver if driver.is_in_transaction() else None


async def _on_asyncpg(
    driver: Any, sql: str, values: Any, dialect: Any, many: bool = False, counted: bool = True
) -> list[Any]:
    """`_on_driver` on PostgreSQL: one statement on a hot transaction's asyncpg connection
    (asyncpg prepares it once and keeps it); a failure raises as SQLAlchemy would raise it."""
    import asyncpg

    try:
        if many:
            await driver.executemany(sql, values)
            found: list[Any] = []
        else:
            found = await driver.fetch(sql, *values)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise _asyncpg_error(sql, values, error, dialect, driver) from error
    if counted and _COUNTING:
        SQL_STATS["statements"] += 1
    return found


def _broken(error: BaseException) -> bool:
    """Whether an asyncpg error says the connection is gone (the server ended its session, a
    restart, a cut network) rather than that a statement was refused."""
    import asyncpg

    return isinstance(
        error,
        (
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,  # terminated, shutting down
            asyncpg.InterfaceError,  # the connection is closed
            OSError,
        ),
    )


def _asyncpg_error(sql: str, values: Any, error: Exception, dialect: Any, driver: Any) -> Exception:
    """An asyncpg error as SQLAlchemy raises it (`IntegrityError` for a broken constraint ...)."""
    import asyncpg

    dbapi = dialect.loaded_dbapi
    kinds = (
        (asyncpg.exceptions.IntegrityConstraintViolationError, dbapi.IntegrityError),
        (asyncpg.exceptions.SyntaxOrAccessError, dbapi.ProgrammingError),
        (asyncpg.InterfaceError, dbapi.InterfaceError),
        (OSError, dbapi.InterfaceError),
        (asyncpg.PostgresError, dbapi.Error),
        (Exception, dbapi.InterfaceError),  # the client's own (an operation in progress ...)
    )
    kind = next(made for raised, made in kinds if isinstance(error, raised))
    translated = kind(f"{type(error)}: {error}")
    translated.pgcode = translated.sqlstate = getattr(error, "sqlstate", None)
    return DBAPIError.instance(
        sql,
        values,
        translated,
        dbapi.Error,
        connection_invalidated=driver.is_closed() or _broken(error),
    )


def _hot_driver(session: Session | AsyncSession) -> Any:
    """The SQLite connection of a hot transaction still on the event loop's thread (its
    `_conn` is the driver's), or None."""
    driver = session.info.get(HOT_DRIVER)
    if driver is None or not getattr(driver, ON_LOOP, False):
        return None
    return driver if driver._conn.in_transaction else None


def _on_driver(driver: Any, sql: str, values: Any, many: bool = False) -> list[tuple]:
    """Run one statement on a hot transaction's driver connection; its rows, if it answers
    any. A failure raises as SQLAlchemy would raise it; a slow statement sends the rest of
    the transaction to the connection's thread (`SLOW_ON_LOOP`). Counted in `SQL_STATS`."""
    raw = driver._conn
    started = time.perf_counter()
    try:
        cursor = raw.executemany(sql, values) if many else raw.execute(sql, values)
        try:
            found = cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, values, error, sqlite3.Error) from error
    if time.perf_counter() - started > SLOW_ON_LOOP:
        setattr(driver, ON_LOOP, False)  # the rest of the transaction goes to the thread
    if _COUNTING:
        SQL_STATS["statements"] += 1
    return found


async def hot_get(session: AsyncSession, model: Any, key: Any) -> Any:
    """`session.get(model, key)` for a model with no relationships, whose row is all columns:
    a row this session holds is the one returned (through `session.get`); another is read
    with `hot_rows` (on SQLite's hot transaction: the driver) and attached as loaded
    (`make_transient_to_detached`), its changes written as any loaded row's. The ORM's load
    of a person's row cost about 0.35 ms; the row read and attached, about 0.07 ms."""
    from sqlalchemy.orm import make_transient_to_detached
    from sqlalchemy.orm.util import identity_key

    if session.sync_session.identity_map.get(identity_key(model, key)) is not None:
        return await session.get(model, key)
    made = _GETS.get(model)
    if made is None:
        mapper = model.__mapper__
        (primary,) = mapper.primary_key
        attrs = [(prop.key, prop.columns[0]) for prop in mapper.column_attrs]
        made = _GETS[model] = (
            [name for name, _ in attrs],
            select(*(column for _, column in attrs)).where(primary == bindparam("key")),
        )
    names, statement = made
    found = await hot_rows(session, statement, {"key": key})
    if not found:
        return None
    # made as a query's loading makes it (no constructor, the columns set as loaded): about
    # half the CPU of `model(**columns)`, whose every attribute set is an instrumented event
    row = model.__mapper__.class_manager.new_instance()
    row.__dict__.update(zip(names, found[0], strict=True))
    make_transient_to_detached(row)
    session.add(row)
    return row


_GETS: dict[Any, tuple[list[str], Any]] = {}


async def hot_add(session: AsyncSession, row: Any) -> bool:
    """`session.add(row)` and a flush of it alone, for a new row of a model with no
    relationships whose primary key the database numbers, in a hot transaction: one INSERT
    on the driver (`hot_rows`; `rows_insert`, compiled once per set of columns) that answers
    the key. The model's column defaults are given to the row first, as the flush gives them;
    the row is then attached as loaded (`make_transient_to_detached`), so a later change is
    written as any loaded row's. The ORM's flush of a new case cost about 0.8 ms of the
    event loop's CPU. False, with nothing done, outside a hot transaction, or for a model
    whose row only the database can complete (a default only it knows): the caller adds the
    row and the flush writes it."""
    from sqlalchemy.orm import make_transient_to_detached

    from bot.store.upserts import rows_insert, rows_params

    if _hot_connection(session) is None:
        return False
    model = type(row)
    if model not in _ADDS:
        _ADDS[model] = _addable(model)
    made = _ADDS[model]
    if made is None:
        return False
    primary, columns = made
    if row.__dict__.get(primary) is not None:
        return False  # a key given by the caller: the flush's way
    values: dict[str, Any] = {}
    for name, default in columns:
        if name in row.__dict__:
            values[name] = row.__dict__[name]
        else:
            values[name] = default() if callable(default) else default
            setattr(row, name, values[name])
    names = tuple(values)
    found = await hot_rows(
        session,
        rows_insert(row.__table__, names, 1, returning=primary),
        rows_params([values], names),
    )
    setattr(row, primary, found[0][0])
    make_transient_to_detached(row)  # as if loaded: no history, every column known
    session.add(row)
    return True


def _addable(model: Any) -> tuple[str, list[tuple[str, Any]]] | None:
    """For `hot_add`: the primary key's name and every other column with its default (a value,
    a function of no argument, or None), or None where a column's key is not its name or its
    value would come from the database alone."""
    mapper = model.__mapper__
    if mapper.relationships or len(mapper.primary_key) != 1:
        return None
    (primary,) = mapper.primary_key
    columns: list[tuple[str, Any]] = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if prop.key != column.name or column.table is not mapper.local_table:
            return None
        if column is primary:
            continue
        default = column.default
        if default is None:
            if column.server_default is not None:
                return None
            columns.append((column.name, None))
        elif default.is_scalar:
            columns.append((column.name, default.arg))
        elif default.is_callable:
            columns.append((column.name, functools.partial(default.arg, None)))
        else:
            return None
    return primary.name, columns


_ADDS: dict[Any, tuple[str, list[tuple[str, Any]]] | None] = {}


async def hot_write_changes(session: AsyncSession) -> None:
    """Before a hot transaction's commit, and before a statement that reads their table: the
    changed columns of the loaded rows of the models the transaction names (`HOT_WRITES`,
    models with no relationships and no defaults on update, such as a person's row, whose
    dialogue state every update changes) are written on the driver (`hot_rows`), one `UPDATE`
    of those columns a row, and the rows are left as written: the ORM's flush at the commit
    has nothing of theirs to do (about 50–100 µs of CPU less a transaction than the ORM's
    flush of the row). Elsewhere (a transaction not hot) the flush writes them, as any
    row."""
    from sqlalchemy.orm.attributes import instance_state

    models = session.info.get(HOT_WRITES)
    if not models or _hot_connection(session) is None:
        return
    sync = session.sync_session
    writes = []
    for row in list(sync.dirty):
        if type(row) not in models:
            continue
        state = instance_state(row)
        keys = tuple(sorted(state.committed_state))
        if not keys or state.key is None:
            continue
        values = {key: getattr(row, key) for key in keys}
        # written below: left as a flush leaves a row it wrote, clean (no longer among the
        # session's dirty rows, so neither a later statement nor the commit flushes it)
        state._commit_all(state.dict, sync.identity_map)
        params = {f"v_{key}": value for key, value in values.items()}
        writes.append((_update_of(type(row), keys), {**params, "_row": state.key[1][0]}))
    for statement, params in writes:
        await hot_rows(session, statement, params)


def _update_of(model: Any, keys: tuple[str, ...]) -> Any:
    """`UPDATE` of these columns of a row of `model` (by its primary key `_row`), built once."""
    found = _UPDATES.get((model, keys))
    if found is None:
        mapper = model.__mapper__
        (primary,) = mapper.primary_key
        found = _UPDATES[(model, keys)] = (
            update(model.__table__)
            .where(primary == bindparam("_row"))
            .values({mapper.attrs[key].columns[0]: bindparam(f"v_{key}") for key in keys})
        )
    return found


_UPDATES: dict[tuple[Any, tuple[str, ...]], Any] = {}


_FORMS_MAX = 256
_COUNTING = bool(os.environ.get("GRIDVOICE_SQL_STATS"))


class LoopConnection:
    """SQLite: a connection of the event loop's own, for its shortest and most frequent writes
    (the sender's `sent` marks), without SQLAlchemy: its session, connection and execution
    context cost about 0.4 ms a transaction, SQLite itself about 15 µs.

    A write takes the in-process writer lock (`lock`, the `Domain`'s), then tries `BEGIN
    IMMEDIATE` here without waiting, as a hot transaction does (`_begin_here`), and commits here
    with no checkpoint. When another process holds the database's lock, or it is a checkpoint's
    turn (`CHECK_EVERY`, shared with the hot transactions), the same transaction runs on a
    worker thread instead, waiting for the lock there and checkpointing as SQLite does. Counted
    in `SQL_STATS` like the engine's statements."""

    @staticmethod
    def serves(url: str) -> bool:
        """Whether `url` is a SQLite file (an in-memory database is the pool's alone)."""
        if not is_sqlite(url):
            return False
        database = make_url(url).database
        return bool(database) and database != ":memory:" and not database.startswith("file:")

    def __init__(self, url: str, lock: asyncio.Lock | None = None) -> None:
        self.database = make_url(url).database
        self.lock = lock or asyncio.Lock()
        self._raw: Any = None
        self._count = bool(os.environ.get("GRIDVOICE_SQL_STATS"))

    def _open(self) -> Any:
        import sqlite3

        raw = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        # standing settings for the loop's thread: never wait, never checkpoint (`_waiting`
        # sets SQLite's own for a run on a worker thread)
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA wal_autocheckpoint=0")
        return raw

    async def run(self, work: Work, one_statement: bool = False) -> bool:
        """Run `work(execute)` in one write transaction: it runs its statements on the
        driver's connection (`execute`, which answers at once: `work` never waits) and answers
        how many, or None to leave everything as it was (the transaction is rolled back). True
        once committed, False when `work` declined. All of it is written, or (raising, or
        declining) none. (`one_statement` is PostgreSQL's: SQLite's transaction is the
        same either way.)"""
        async with self.lock:
            if self._raw is None:
                self._raw = await asyncio.to_thread(self._open)
            raw = self._raw
            if not _checkpoint_turn() and _begin_here(raw, wait_after=False):
                return self._run(raw, work)
            # shielded: a cancelled caller must not let another write use the connection
            # while this one still runs on the worker thread
            return await asyncio.shield(asyncio.to_thread(self._waiting, raw, work))

    def _run(self, raw: Any, work: Work) -> bool:
        try:
            ran = _at_once(work(_sqlite_execute(raw)))
            if ran is None:
                raw.rollback()
            else:
                raw.commit()
        except BaseException:
            if raw.in_transaction:
                raw.rollback()
            raise
        if self._count:
            if ran is None:
                SQL_STATS["rollbacks"] += 1
            else:
                SQL_STATS["statements"] += 1 + ran  # with the BEGIN, as the engine's
                SQL_STATS["commits"] += 1
        return ran is not None

    def _waiting(self, raw: Any, work: Work) -> bool:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        raw.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT}")
        try:
            raw.execute(_BEGIN)
            return self._run(raw, work)
        finally:
            raw.execute("PRAGMA busy_timeout=0")
            raw.execute("PRAGMA wal_autocheckpoint=0")

    async def close(self) -> None:
        async with self.lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None


#: How a driver connection's `run` lets its work run one statement: `execute(sql, values,
#: many)`, the driver's values (for `many`, a list of rows, run as one `executemany`); the
#: statement's rows.
Execute = Callable[[str, Any, bool], Awaitable[list[Any]]]
#: The work a driver connection runs in one transaction: how many statements it ran, or None
#: to leave everything as it was.
Work = Callable[[Execute], Awaitable[int | None]]


def _sqlite_execute(raw: Any) -> Execute:
    """`Execute` on an sqlite3 connection: each statement is done when it returns."""

    async def execute(sql: str, values: Any, many: bool = False) -> list[Any]:
        if many:
            raw.executemany(sql, values)
            return []
        return raw.execute(sql, values).fetchall()

    return execute


def _at_once(work: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never waits (its statements go to SQLite's driver,
    which answers at once), run to its end here, on this thread."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value
    work.close()
    raise RuntimeError("work on SQLite's own connection waited")


class DriverConnection:
    """PostgreSQL's counterpart of `LoopConnection`: one pooled connection the event loop keeps
    for its shortest and most frequent writes (the sender's `sent` marks), used through asyncpg
    directly: a mark's transaction cost about 580 µs of CPU through a session, 240 µs here.

    The transactions run one at a time (`lock`). A failure rolls back; a connection that broke
    (a database restart) is let go, and the error says so (`connection_invalidated`): the
    sender writes the marks again, on a new connection. Counted in `SQL_STATS` like the
    engine's statements."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.lock = asyncio.Lock()
        self._held: Any = None  # the pool's connection (SQLAlchemy's), kept between runs
        self._count = bool(os.environ.get("GRIDVOICE_SQL_STATS"))

    async def run(self, work: Work, one_statement: bool = False) -> bool:
        """As `LoopConnection.run`: `work(execute)` in one transaction; True once committed,
        False when `work` declined (rolled back).

        `one_statement`: `work` runs a single statement (one `executemany` included, which
        asyncpg runs all or nothing) and never declines: it is its own transaction, without
        a `BEGIN` and a `COMMIT` of two more round trips."""
        import asyncpg

        async with self.lock:
            if self._held is not None and self._held.driver_connection.is_closed():
                await self._let_go(renew_pool=True)  # it broke while idle: a new one
            if self._held is None:
                self._held = await self.engine.raw_connection()
            driver = self._held.driver_connection
            dialect = self.engine.dialect

            async def execute(sql: str, values: Any, many: bool = False) -> list[Any]:
                return await _on_asyncpg(driver, sql, values, dialect, many, counted=False)

            transaction = None
            try:
                if one_statement:
                    ran = await work(execute)
                else:
                    transaction = driver.transaction()
                    await transaction.start()
                    ran = await work(execute)
                    await (transaction.rollback() if ran is None else transaction.commit())
            except BaseException as error:
                cause = error.__cause__ if isinstance(error, DBAPIError) else error
                broken = driver.is_closed() or (cause is not None and _broken(cause))
                if not broken and transaction is not None:
                    try:
                        await transaction.rollback()  # a statement refused: the connection stays
                    except Exception:
                        broken = True
                if broken or not isinstance(cause, asyncpg.PostgresError):
                    # broken, or left in an unknown state (cancelled mid-statement): let go;
                    # when broken, the pool's other connections are likely gone as well
                    await self._let_go(renew_pool=broken)
                if isinstance(error, DBAPIError):
                    error.connection_invalidated = broken
                elif type(error).__module__.startswith("asyncpg") or isinstance(error, OSError):
                    raise _asyncpg_error("BEGIN", (), error, dialect, driver) from error
                raise
        if self._count:  # as the engine's are counted there (its BEGIN is not a statement)
            SQL_STATS["statements"] += ran or 0
            SQL_STATS["commits" if ran is not None else "rollbacks"] += 1
        return ran is not None

    async def _let_go(self, renew_pool: bool = False) -> None:
        """The kept connection is closed and leaves the pool (the next run takes a new one).
        `renew_pool`: the connection broke, so the pool's idle ones are closed too, as
        SQLAlchemy does when a statement finds its connection gone."""
        from sqlalchemy.util import greenlet_spawn

        held, self._held = self._held, None
        with contextlib.suppress(Exception):
            await asyncio.shield(greenlet_spawn(held.invalidate))
        if renew_pool:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.engine.dispose())

    async def close(self) -> None:
        from sqlalchemy.util import greenlet_spawn

        async with self.lock:
            if self._held is not None:
                held, self._held = self._held, None
                await greenlet_spawn(held.close)  # back to the pool


async def statements_off_loop(session: AsyncSession) -> None:
    """The rest of this transaction's statements go to the connection's thread (SQLite): for a
    hot transaction about to read much (a report over months, an export)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = getattr(raw, "driver_connection", None)
    if driver is not None and getattr(driver, ON_LOOP, False):
        setattr(driver, ON_LOOP, False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite."""
    engine = _create_engine(url)
    if os.environ.get("GRIDVOICE_SQL_STATS"):
        count_sql(engine)
    return engine


def _create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # the connection's thread opens it; a hot transaction's statements use it from the
        # event loop's (never both at once: each waits for the other's call to end)
        engine = create_async_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT}")
            cursor.close()

        # Let SQLAlchemy, not pysqlite, open transactions, so BEGIN IMMEDIATE works.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_autobegin(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None

        # Readers that asked for it (`read_only=True`, e.g. public lists and exports) take no
        # write lock: with WAL they never block the bot's writers, however long they stream.
        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn):  # type: ignore[no-untyped-def]
            options = conn.get_execution_options()
            read_only = options.get("read_only")
            driver = getattr(conn.connection.dbapi_connection, "_connection", None)
            if driver is not None:  # before the BEGIN: a hot one is tried on the loop's thread
                hot = bool(options.get(ON_LOOP)) and not read_only
                setattr(driver, ON_LOOP, hot)
                raw = getattr(driver, "_conn", None)
                if hot and raw is not None and not raw.in_transaction and _begin_here(raw):
                    # begun here, straight on the driver (no statement through SQLAlchemy)
                    setattr(driver, _CHANGES, raw.total_changes)
                    if _COUNTING:
                        SQL_STATS["statements"] += 1
                    return
            conn.exec_driver_sql("BEGIN" if read_only else _BEGIN)

        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection idle longer than this is pinged before it is used again.
PING_AFTER_IDLE = 1.0
_CHECKED_IN = "checked_in_at"


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it has been idle (`PING_AFTER_IDLE`).

    `pool_pre_ping` made a round trip before every transaction: a few percent of the bot's
    CPU, for connections used milliseconds before. A connection that went away while idle (a
    database restart, a proxy's timeout) is still found out and replaced before use. One that
    breaks within the second fails its transaction, which SQLAlchemy then takes as the signal
    to replace every connection of the pool; the processor handles that update again, the
    sender writes that mark again (`Sender._flush_marks`)."""
    from sqlalchemy import exc

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE:
            return  # just connected, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"ping failed: {error}") from error
        if alive is False:
            raise exc.DisconnectionError("ping failed")


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only: no write lock on SQLite, autocommit-free plain reads."""
    async with engine.connect() as conn:
        yield await conn.execution_options(read_only=True)


def session_factory(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of `engine`. `info["on_commit"]`, if given, is called after each commit with the
    queue tables the transaction wrote (see `QUEUES`): how the loops are woken on work."""
    return async_sessionmaker(engine, expire_on_commit=False, info=dict(info or {}))


# --- wake on work ---------------------------------------------------------------------
#
# Whoever writes a queue row (an outgoing message, an incoming update) wakes the loop that
# serves it: in this process at commit, and on PostgreSQL in the other replicas too (NOTIFY in
# the same transaction, delivered at its commit). The writes are noticed on the session, so a
# row written outside the outbox helper wakes the sender as well.

#: table name -> the wake-up's name (and the PostgreSQL channel `gridvoice_<name>`).
QUEUES = {"outbox": "outbox", "inbox": "inbox"}

#: session.info key of the outgoing messages queued in the transaction and not written yet
#: (`bot.services.shared.outbox.Outbox`): written in one statement before the commit, or
#: before any statement that reads or writes the outbox (so it sees them, in their order).
QUEUED = "outbox_queued"


#: session.info key, set where this process's sender takes rows from its own transactions:
#: the lease (a datetime) until which the rows written are claimed at birth; their copies,
#: with what sending them needs, go in `HANDED` and reach the sender after the commit.
BORN_CLAIMED = "outbox_born_claimed"
HANDED = "outbox_handed"
#: session.info key: the people (User rows) a transaction loaded to handle an update, by id
PEOPLE = "people_loaded"


_BUILT: dict[str, Any] = {}


def _built(name: str, make: Callable[[], Any]) -> Any:
    """A statement of the hot path built once, on first use (the models import this module):
    SQLAlchemy remembers a statement's cache key on the statement, so it is keyed once."""
    found = _BUILT.get(name)
    if found is None:
        found = _BUILT[name] = make()
    return found


def write_queued_outbox(session: Session) -> None:
    """Write the queued outgoing messages now, in one statement (in the order queued).

    Where the sender runs in this process (`BORN_CLAIMED`), a conversation's messages are
    written already claimed by it ('sending', under its lease) and handed to it after the
    commit: the sender then needs no transaction of its own to claim them. Broadcast rows
    (a campaign) are not: the sender claims them a second's worth at a time."""
    rows = session.info.get(QUEUED)
    if not rows:
        return
    from bot.store.models import OutboxMessage

    batch = list(rows)
    rows.clear()
    lease = session.info.get(BORN_CLAIMED)
    if lease is None:
        session.connection().execute(insert(OutboxMessage.__table__), batch)
        _note(session, "outbox")
        return
    mine = [r for r in batch if r["campaign"] is None]
    others = [r for r in batch if r["campaign"] is not None]
    if others:
        session.connection().execute(insert(OutboxMessage.__table__), others)
        _note(session, "outbox")
    if mine:
        _write_born_claimed(session, mine, lease)


def _write_born_claimed(session: Session, rows: list[dict[str, Any]], lease: Any) -> None:
    from bot.store.models import OutboxMessage

    table = OutboxMessage.__table__
    for row in rows:
        row["status"], row["locked_until"] = "sending", lease
    connection = session.connection()
    driver = _hot_connection(session)
    if driver is not None and len(rows) <= BORN_HERE and len({tuple(row) for row in rows}) == 1:
        ids = _insert_here(driver, table, rows, connection.dialect)
    elif connection.dialect.name == "sqlite":
        # One statement for all the rows. SQLAlchemy would insert them one by one to match
        # each id to its row, but SQLite numbers a statement's rows in order (each one more
        # than the largest before it): sorted, the ids are the rows'.
        ids = sorted(
            connection.execute(
                _built("born_sqlite", lambda: insert(table).returning(table.c.id)), rows
            ).scalars()
        )
    else:
        ids = list(
            connection.execute(
                _built(
                    "born",
                    lambda: insert(table).returning(table.c.id, sort_by_parameter_order=True),
                ),
                rows,
            ).scalars()
        )
    # made without the constructor, whose every attribute set is an instrumented event (as a
    # query's loading makes a row, `hot_get`): about 3 µs a row against 32. Like a constructed
    # row, it belongs to no session; the sender reads it and writes its marks with statements.
    configure_mappers()  # at once where they are (a row made so does not configure them)
    make = OutboxMessage.__mapper__.class_manager.new_instance
    made = []
    for row_id, row in zip(ids, rows, strict=True):
        message = make()
        message.__dict__.update(row, id=row_id)
        made.append(message)
    unreachable, refs = sending_needs(connection, made, loaded=session.info.get(PEOPLE))
    handed = session.info.setdefault(HANDED, ([], {}, set()))
    handed[0].extend(made)
    handed[1].update(refs)
    handed[2].update(unreachable)


#: A hot transaction writes up to this many outgoing rows on the driver (`_insert_here`); more
#: (a notice to many) go through SQLAlchemy, which splits a long INSERT within SQLite's limits.
BORN_HERE = 16


def _insert_here(driver: Any, table: Any, rows: list[dict[str, Any]], dialect: Any) -> list[int]:
    """INSERT rows (of the same columns) on a hot transaction's driver in one statement
    (`bot.store.upserts.rows_insert`, compiled once per number of rows); their ids in the rows'
    order (both databases number a VALUES list's rows in order, each id from the table's
    sequence as its row is made: sorted, the ids are the rows').

    Called while the session flushes, which is synchronous code: on PostgreSQL the statement
    is awaited from there (`await_only`: the flush runs in SQLAlchemy's greenlet, whose
    caller is the event loop's coroutine)."""
    from bot.store.upserts import rows_insert, rows_params

    keys = tuple(rows[0])
    form = _form_of(rows_insert(table, keys, len(rows), returning="id"), dialect)
    sql, values = form.bind(rows_params(rows, keys))  # type: ignore[misc]
    if hasattr(driver, "is_in_transaction"):
        from sqlalchemy.util import await_only

        found = await_only(_on_asyncpg(driver, sql, values, dialect))
    else:
        found = _on_driver(driver, sql, values)
    return sorted(int(row_id) for (row_id,) in found)


def sending_needs(
    connection: Any, rows: list[Any], known: Any = (), loaded: Any = None
) -> tuple[set[int], dict[str, tuple[int, int]]]:
    """What sending outbox rows needs, read in the transaction that claims them: the people
    among their chats known to have blocked the bot (their rows wait as refused, sent again
    in order when they come back, instead of racing their return), and the messages the rows
    reply to or edit, by ref (those in `known` are known already).

    `loaded`: the people the transaction that wrote the rows has loaded, by id, None where
    there is no row (`PEOPLE`: the person whose update it handles, always, and whoever a
    message was written to in their language): they are not asked again."""
    from bot.store.models import MessageRef, User

    private = {r.chat_id for r in rows if r.chat_id > 0}
    unreachable: set[int] = set()
    if loaded is not None:
        for chat_id in list(private):
            if chat_id not in loaded:
                continue
            person = loaded[chat_id]
            if person is None:  # no row: nobody there was ever marked unreachable
                private.discard(chat_id)
            elif "unreachable" in person.__dict__:
                private.discard(chat_id)
                if person.unreachable:
                    unreachable.add(chat_id)
    if private:
        unreachable |= set(
            connection.execute(
                select(User.id).where(User.id.in_(private), User.unreachable)
            ).scalars()
        )
    names = {
        name
        for r in rows
        for name in (r.edit_ref, (r.payload or {}).get("reply_to_ref"))
        if name and name not in known
    }
    refs = (
        {
            ref: (chat_id, message_id)
            for ref, chat_id, message_id in connection.execute(
                _built(
                    "refs",
                    lambda: select(MessageRef.ref, MessageRef.chat_id, MessageRef.message_id).where(
                        MessageRef.ref.in_(bindparam("names", expanding=True))
                    ),
                ),
                {"names": list(names)},
            ).all()
        }
        if names
        else {}
    )
    return unreachable, refs


def _note(session: Session, queue: str) -> None:
    if queue not in session.info.get("quiet", ()):
        session.info.setdefault("wrote", set()).add(queue)


@event.listens_for(Session, "before_flush")
def _queue_rows_flushed(session: Session, _context: Any, _instances: Any) -> None:
    if "on_commit" not in session.info and not session.info.get(QUEUED):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        queue = QUEUES.get(getattr(obj, "__tablename__", ""))
        if queue is not None:
            if queue == "outbox":
                write_queued_outbox(session)  # the queued messages keep their place before it
            _note(session, queue)


#: session.info keys: the cases created in the transaction, and the tables it has written
#: since (see `UnitOfWork.none_yet`)
CREATED_CASES = "created_cases"
WRITTEN = "tables_written"


@event.listens_for(Session, "after_flush")
def _tables_flushed(session: Session, _context: Any) -> None:
    if CREATED_CASES not in session.info:
        return
    written = session.info.setdefault(WRITTEN, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        written.add(getattr(obj, "__tablename__", ""))


@event.listens_for(Session, "do_orm_execute")
def _queue_rows_written(state: ORMExecuteState) -> None:
    session = state.session
    if session.info.get(QUEUED) and "outbox" in _tables(state.statement):
        write_queued_outbox(session)  # a statement on the outbox sees the queued messages
    _statement_seen(session, state.statement, state.is_select)


def _statement_seen(session: Session, statement: Any, is_select: bool) -> None:
    """What a statement about to run tells the transaction: the tables written since a case
    was created in it, and the queues it writes (to wake their loops after the commit)."""
    if CREATED_CASES in session.info and not is_select:
        table = getattr(statement, "table", None)
        session.info.setdefault(WRITTEN, set()).add(getattr(table, "name", "?"))
    if "on_commit" not in session.info or is_select:
        return
    table = getattr(statement, "table", None)
    queue = QUEUES.get(getattr(table, "name", ""))
    if queue is not None:
        _note(session, queue)


def _tables(statement: Any) -> frozenset[str]:
    """The names of the tables a statement reads or writes (subqueries included).

    Remembered per statement shape (SQLAlchemy's cache key, which its compiled-statement cache
    computes anyway): the bot asks this of most statements of a transaction that queued a
    message, and walking a statement's tree costs more than running it on SQLite."""
    from sqlalchemy.sql.util import find_tables

    try:
        cache_key = statement._generate_cache_key()
        key = cache_key.key if cache_key is not None else None
    except Exception:  # not cacheable: walk it
        key = None
    if key is not None:
        known = _TABLES.get(key)
        if known is not None:
            return known
    try:
        found = frozenset(
            t.name for t in find_tables(statement, include_crud=True, include_joins=True)
        )
    except Exception:  # an unusual construct: assume it may touch the outbox
        return frozenset({"outbox"})
    if key is not None:
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.clear()
        _TABLES[key] = found
    return found


#: statement shape -> the tables it touches (see `_tables`); bounded
_TABLES: dict[Any, frozenset[str]] = {}
_TABLES_MAX = 2000


@event.listens_for(Session, "before_commit")
def _notify_replicas(session: Session) -> None:
    write_queued_outbox(session)
    wrote = session.info.get("wrote")
    if wrote and session.info.get("notify"):
        connection = session.connection()
        for queue in sorted(wrote):
            connection.exec_driver_sql(f"NOTIFY gridvoice_{queue}")


@event.listens_for(Session, "after_commit")
def _wake_loops(session: Session) -> None:
    wrote = session.info.pop("wrote", None)
    on_commit = session.info.get("on_commit")
    if wrote and on_commit is not None:
        on_commit(wrote)
    handed = session.info.pop(HANDED, None)
    on_hand = session.info.get("on_hand")
    if handed and on_hand is not None:
        on_hand(*handed)


@event.listens_for(Session, "after_rollback")
def _forget_writes(session: Session) -> None:
    session.info.pop("wrote", None)
    session.info.pop(HANDED, None)
    queued = session.info.get(QUEUED)
    if queued:
        queued.clear()


async def listen(url: str, callbacks: dict[str, Callable[[], None]], stop: asyncio.Event) -> None:
    """PostgreSQL: call `callbacks[queue]` whenever another process commits a row to that queue
    (LISTEN gridvoice_<queue>). Reconnects after a lost connection, and then calls every
    callback once (a notification may have been missed meanwhile)."""
    import asyncpg

    target = make_url(url)
    backoff = 1.0
    while not stop.is_set():
        lost = asyncio.Event()
        try:
            conn = await asyncpg.connect(
                host=target.host,
                port=target.port or 5432,
                user=target.username,
                password=target.password,
                database=target.database,
                timeout=10,
            )
        except Exception as exc:
            log.warning("LISTEN connection failed: %s", exc)
            await _sleep_or_stop(stop, backoff)
            backoff = min(30.0, backoff * 2)
            continue
        backoff = 1.0
        try:
            conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
            for queue, callback in callbacks.items():
                await conn.add_listener(
                    f"gridvoice_{queue}", lambda *_args, callback=callback: callback()
                )
            for callback in callbacks.values():
                callback()
            while not stop.is_set() and not lost.is_set() and not conn.is_closed():
                await _sleep_or_stop(stop, 30.0, lost)
                if not stop.is_set() and not lost.is_set():
                    try:  # a dead peer is noticed only when something is sent
                        await conn.execute("SELECT 1", timeout=10)
                    except Exception:
                        break
        except Exception as exc:
            log.warning("LISTEN connection lost: %s", exc)
        finally:
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()
        if not stop.is_set():
            await _sleep_or_stop(stop, backoff)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float, *more: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in (stop, *more)]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    from bot.store import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str) -> None:
    """Apply every Alembic migration (blocking; runs its own event loop in migrations/env.py)."""
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


async def upgrade(url: str) -> None:
    """Apply migrations from async code without blocking the running loop."""
    await asyncio.to_thread(upgrade_sync, url)
