"""A migrated, empty database for each test, without running the migrations for each test.

What a test starts from is what `upgrade` gives on a new database: the schema at the head
revision and no rows. Running the migrations takes a few tenths of a second, hundreds of times
per suite, so they run once per process and each test gets the result:

* SQLite: a file migrated once is copied (SQLite's backup, so a WAL file left behind is no
  matter) to the test's own file.
* PostgreSQL: while the schema is at the revision this process migrated it to, every table is
  emptied and every sequence restarted (ids start again at 1, as in a new database); a schema
  another test dropped or left at an older revision is dropped and migrated again.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.db import create_engine, upgrade

# Every table of the public schema emptied and every sequence restarted, in one round trip.
_EMPTY_ALL = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT tablename FROM pg_tables
                WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
        EXECUTE format('DELETE FROM %I', name);
    END LOOP;
    FOR name IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER SEQUENCE %I RESTART', name);
    END LOOP;
END $$
"""

# Built once per process: the migrated SQLite file, the revision PostgreSQL was migrated to.
_template: tempfile.TemporaryDirectory[str] | None = None
_head: str | None = None


async def drop_schema(url: str) -> None:
    """An empty PostgreSQL schema: no tables, no revision."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def empty_postgres(engine: AsyncEngine) -> None:
    """The migrated PostgreSQL schema emptied, ids starting again at 1 as in a new database.

    DELETE with the foreign-key triggers off is several times faster than TRUNCATE on tables
    this small; where the account may not turn them off, TRUNCATE it is."""
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(_EMPTY_ALL))
    except DBAPIError:
        async with engine.begin() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version'"
                    )
                )
            ).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def fresh_database(url: str) -> None:
    """Make the database at `url` migrated and empty (an SQLite file that exists is kept,
    as `upgrade` would keep it)."""
    if url.startswith("sqlite"):
        await _copy_sqlite_template(url)
    else:
        await _fresh_postgres(url)


async def _copy_sqlite_template(url: str) -> None:
    global _template
    target = Path(make_url(url).database or "")
    if target.exists():
        await upgrade(url)
        return
    if _template is None:
        folder = tempfile.TemporaryDirectory(prefix="gridvoice-template-")
        await upgrade(f"sqlite+aiosqlite:///{Path(folder.name) / 'migrated.db'}")
        _template = folder
    source = sqlite3.connect(Path(_template.name) / "migrated.db")
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


async def _fresh_postgres(url: str) -> None:
    global _head
    engine = create_engine(url)
    try:
        if _head is not None and await _revision(engine) == _head:
            await empty_postgres(engine)
            return
    finally:
        await engine.dispose()
    await drop_schema(url)
    await upgrade(url)
    engine = create_engine(url)
    try:
        _head = await _revision(engine)
    finally:
        await engine.dispose()


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = (
            await conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
        ).scalar_one()
        if not exists:
            return None
        return (await conn.execute(text("SELECT max(version_num) FROM alembic_version"))).scalar()
