"""Migration 0004_dashboard: cases filed before it get their first response from the audit
trail (the first staff action that answers the resident; the resident's and the system's own
events do not count)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.store.db import _alembic_config, create_engine
from tests.support.world import database_url, reset_database

pytestmark = pytest.mark.db


async def test_first_response_backfilled_from_the_audit_trail(tmp_path: Path) -> None:
    from alembic import command

    url = database_url(tmp_path)
    await reset_database(url)
    config = _alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "0004_open311")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for case_id in (1, 2):
                await conn.execute(
                    text(
                        "INSERT INTO cases (id, human_id, language, text, confidence, matched,"
                        " priority, grid_id, status, rung, assignment, created_at, updated_at,"
                        " reopen_count, escalation_count, version)"
                        " VALUES (:id, :hid, 'en', 'x', 0, '[]', 'normal', 'g', 'accepted',"
                        " 'member', '{}', '2026-11-24 02:00:00', '2026-11-24 02:00:00', 0, 0, 0)"
                    ),
                    {"id": case_id, "hid": f"GV-2026-00000{case_id}"},
                )
            events = [
                (1, "2026-11-24 02:00:00", "resident", "created"),
                (1, "2026-11-24 02:30:00", "system", "escalated"),
                (1, "2026-11-24 03:00:00", "resident", "answered"),
                (1, "2026-11-24 04:00:00", "member", "asked"),
                (1, "2026-11-24 05:00:00", "member", "accepted"),
                (2, "2026-11-24 02:00:00", "resident", "created"),
            ]
            for case_id, at, role, kind in events:
                await conn.execute(
                    text(  # the time as a literal: both backends read it as a timestamp
                        "INSERT INTO case_events (case_id, at, actor_role, kind, data)"
                        f" VALUES (:c, '{at}', :role, :kind, '{{}}')"
                    ),
                    {"c": case_id, "role": role, "kind": kind},
                )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, first_response_at FROM cases ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert rows[0][1] is not None and "04:00" in str(rows[0][1])
    assert rows[1][1] is None
