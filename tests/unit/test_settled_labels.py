"""Settled labels (bot/services/cases/labels.py): what `gridvoice model train` reads back from
the cases, whichever door the category was settled through."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from unit_helpers import LEADER, file_case, new_resident

from bot.services.cases import labels, lifecycle
from bot.services.shared.domain import Domain


@pytest.fixture
def domain_settings(tmp_path: Path) -> dict[str, Any]:
    """A database another connection can open: `labelled_cases` opens its own, as the command
    line does (PostgreSQL already is one; in-memory SQLite is not, so a file)."""
    if os.environ.get("TEST_DATABASE_URL"):
        return {}
    return {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'labels.db'}"}


async def test_corrected_and_confirmed_categories_are_training_data(domain: Domain) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        confirmed = await file_case(uow, resident, "the bins are full", as_category="sanitation")
        corrected = await file_case(uow, resident, "cars block the gate", as_category="dispute")
        triaged = await file_case(uow, resident, "the thing at the gate", as_category=None)
        await file_case(uow, resident, "nobody touched this one", as_category="health")
        await lifecycle.resident_change_category(uow, resident, confirmed, "sanitation")
        await lifecycle.resident_change_category(uow, resident, corrected, "traffic")
        await lifecycle.triage_set_category(uow, LEADER, triaged, "facilities")
    assert await labels.labelled_cases(domain.settings) == [
        ("the bins are full", "sanitation"),
        ("cars block the gate", "traffic"),
        ("the thing at the gate", "facilities"),
    ]


async def test_a_category_the_map_does_not_know_is_not_settled(domain: Domain) -> None:
    async with domain.unit() as uow:
        resident = await new_resident(uow)
        case = await file_case(uow, resident, "the bins are full", as_category="sanitation")
        actor = lifecycle.Actor(resident.id, "resident")
        with pytest.raises(lifecycle.CaseActionError):
            await labels.settle_label(uow, case, "not-a-category", actor, "one_tap")
        assert case.category == "sanitation" and case.version == 0
