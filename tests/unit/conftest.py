"""Fixtures for the fast layer: the domain services on a real database, no Telegram, no emulator.

Each test gets its own fresh database with the schema the Alembic migrations build and the
demo grid map (bot/examples/demo-community.yaml) loaded the way `gridvoice grids load` loads
it, and a `ManualClock` standing on a Tuesday morning in Beijing (everyone on duty).

Fixtures
    clock     the `ManualClock` the domain reads (`clock.advance(timedelta(hours=5))`).
    settings  `Settings` for the test database (override with `domain_settings` below).
    domain    the `Domain` services receive: store, renderer, classifier, routing.
    uow       one unit of work (one transaction), committed when the test ends. Use either
              `uow` or `async with domain.unit() as uow:` blocks in a test, never both: a
              unit holds the writer's turn, so a second one opened inside it would wait.
              Several blocks are how the chat works (one transaction per update) and show
              what was committed; `uow.now` is read when the unit opens, so move the clock
              between blocks.

Factories and readers (residents, cases, the demo map's staff ids, the audit trail, the
outbox) are in `unit_helpers.py`: `from unit_helpers import new_resident, file_case, ...`.

`domain_settings` (a dict fixture, empty by default) lets a module or a test change settings:
    @pytest.fixture
    def domain_settings(): return {"reopen_window": timedelta(days=1)}

Backends: SQLite in memory by default. Once per session the migrations run into a scratch
file and the demo map is loaded into it; each test's in-memory database is filled from a dump
of that file in one call (a few milliseconds; `create_all` would test the models, not the
migrations the app runs). With TEST_DATABASE_URL set (PostgreSQL), the schema is migrated once
and, before each test, every table is emptied and the map loaded. Every test using `domain`
is marked `db`.

Speed: what every test would rebuild the same (the parsed demo map, the template labels, the
compiled templates) is built once per session and shared; all of it is immutable or, for the
renderer's timezone, set again by each map load.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from unit_helpers import DEMO_MAP, START

import bot.render
from bot.clock import ManualClock
from bot.config import Settings
from bot.services.shared.domain import Domain, UnitOfWork
from bot.services.shared.gridmap_store import load_document
from bot.store.db import create_engine, upgrade_sync
from routing.gridmap import GridMap
from tests.support.database import drop_schema, empty_postgres

MEMORY_URL = "sqlite+aiosqlite://"
_SHARED: dict[str, Any] = {}  # built once per session (see "Speed" above)
_parse_map = functools.lru_cache(maxsize=16)(GridMap.from_yaml)
_load_labels = functools.lru_cache(maxsize=8)(bot.render._load_labels)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the `domain` touch the database: they run on PostgreSQL too (marker `db`)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "domain" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def _test_database_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    """What every test's database starts from, built once per session.

    SQLite: the migrations run into a scratch file, the demo map is loaded into it by
    `load_document` (as `gridvoice grids load` does), and the result is kept as an SQL dump
    that fills each test's in-memory database in one call. PostgreSQL: the test database is
    migrated once; each test empties it and loads the map."""
    scratch = tmp_path_factory.mktemp("unit")
    no_model = str(scratch / "no-category-model.npz")
    url = _test_database_url()
    if url is not None:
        asyncio.run(drop_schema(url))
        upgrade_sync(url)
        return Seed(None, no_model)
    path = scratch / "seed.db"
    file_url = f"sqlite+aiosqlite:///{path}"
    upgrade_sync(file_url)
    asyncio.run(_load_demo_map(Settings(database_url=file_url, model_path=no_model)))
    con = sqlite3.connect(path)
    try:
        script = "\n".join(con.iterdump())
    finally:
        con.close()
    return Seed(script, no_model)


@dataclass(frozen=True)
class Seed:
    sql: str | None  # the SQLite dump (schema and demo map); None on PostgreSQL
    no_model: str  # a category model path that does not exist: the packaged classifier


async def _load_demo_map(settings: Settings) -> Domain:
    built = Domain(settings)
    try:
        await load_document(built, DEMO_MAP.read_text(encoding="utf-8"), str(DEMO_MAP))
    finally:
        await built.dispose()
    return built


async def _fill(engine: AsyncEngine, script: str) -> None:
    """Run the seed dump on the (single, static) connection of an in-memory database."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.executescript(script)  # type: ignore[union-attr]


@pytest.fixture
def clock() -> ManualClock:
    """The domain's clock: a Tuesday morning in Beijing, moved only by the test."""
    return ManualClock(START)


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    """Settings a module or a test overrides (see the module docstring)."""
    return {}


@pytest.fixture
def settings(seed: Seed, domain_settings: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "database_url": _test_database_url() or MEMORY_URL,
        "token": "123456:TEST",
        "api_url": "http://127.0.0.1:9",  # never called: nothing here talks to Telegram
        # No trained model from the developer's data directory: the packaged classifier.
        "model_path": seed.no_model,
    }
    values.update(domain_settings)
    return Settings(**values)


def _share_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse the same map document and label files once per session (frozen results)."""
    monkeypatch.setattr(GridMap, "from_yaml", staticmethod(_parse_map))
    monkeypatch.setattr(bot.render, "_load_labels", _load_labels)


@pytest.fixture
async def domain(
    settings: Settings,
    clock: ManualClock,
    seed: Seed,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Domain]:
    """The services' context on a fresh database holding the demo grid map."""
    _share_parsing(monkeypatch)
    engine = create_engine(settings.database_url)
    if seed.sql is not None:
        await _fill(engine, seed.sql)
    else:
        await empty_postgres(engine)
    built = Domain(settings, clock=clock, engine=engine)
    # One renderer (its compiled templates) for the session; each map load sets its timezone.
    built.renderer = _SHARED.setdefault("renderer", built.renderer)
    try:
        if seed.sql is None:
            await load_document(built, DEMO_MAP.read_text(encoding="utf-8"), str(DEMO_MAP))
        else:
            await built.reload_routing(force=True)
        yield built
    finally:
        await built.dispose()


@pytest.fixture
async def uow(domain: Domain) -> AsyncIterator[UnitOfWork]:
    """One unit of work for the whole test, committed at its end."""
    async with domain.unit() as unit:
        yield unit
