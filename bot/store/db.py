"""Engine, sessions and migrations. SQLite by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

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
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # Let SQLAlchemy, not pysqlite, open transactions, so BEGIN IMMEDIATE works.
        @event.listens_for(engine.sync_engine, "connect")
        def _no_autobegin(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None

        # Readers that asked for it (`read_only=True`, e.g. public lists and exports) take no
        # write lock: with WAL they never block the bot's writers, however long they stream.
        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn):  # type: ignore[no-untyped-def]
            read_only = conn.get_execution_options().get("read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only: no write lock on SQLite, autocommit-free plain reads."""
    async with engine.connect() as conn:
        yield await conn.execution_options(read_only=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


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
