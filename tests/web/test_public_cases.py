"""The one public view of a case: allow-listed fields, coarse places, no personal data."""

from __future__ import annotations

from dataclasses import fields

import pytest

from bot.services.public.cases import (
    CaseQuery,
    PublicCase,
    count_public_cases,
    cursor_of,
    find_public_case,
    list_public_cases,
    statuses_for,
    stream_public_cases,
)
from tests.support.world import MEMBER_1

ALLOWED = {
    "human_id",
    "service_code",
    "service_name",
    "grid_id",
    "grid_name",
    "community_id",
    "community_name",
    "responsible_role",
    "responsible_name",
    "status",
    "status_notes",
    "hold_reason",  # a hold's reason category, never the owner's note
    "held_until",
    "description",
    "lat",
    "long",
    "source",
    "requested_at",
    "updated_at",
    "accept_by",
    "expected_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "duplicates",
    "reopen_count",
    "timeline",
    "supervised",  # "under supervision" (督办) only: never who, why or until when
    "under_review",  # a return waits for a ruling: never who returned it, the clause or why
}


def test_public_case_holds_only_allow_listed_fields() -> None:
    # A new field is a publication decision: it must be added here on purpose.
    assert {f.name for f in fields(PublicCase)} == ALLOWED


def test_open311_statuses_cover_every_internal_status() -> None:
    assert set(statuses_for("open")) | set(statuses_for("closed")) == {
        "triage", "assigned", "transferred", "escalated", "reopened", "accepted",
        "needs_info", "resolved", "closed", "rejected", "cancelled",
    }  # fmt: skip
    assert statuses_for("in_progress") == ("accepted",)


@pytest.mark.db
async def test_a_case_filed_in_the_bot_is_public_without_its_resident(web_world) -> None:
    w = web_world
    await w.resident(501, address="Xingfu Garden Building 1")
    case_id, filed = await w.report(501, "The street lamp outside is broken, it is dark at night")
    card = await w.card(MEMBER_1, case_id)
    await w.act(MEMBER_1, card, "acc")
    await w.wait_bot(501, case_id, after=filed["message_id"])
    await w.settle()
    domain = w.app.domain

    public = await find_public_case(domain, case_id.lower())
    assert public is not None
    assert public.human_id == case_id
    assert public.service_code == "facilities"
    assert public.grid_id == "xingfu-1" and public.grid_name.en.startswith("Grid 1")
    assert public.status == "in_progress" and public.open311_status == "open"
    assert public.responsible_role == "member"
    assert public.responsible_name.en.startswith("Grid 1")  # the grid, never 王芳
    assert public.description is None  # free text is off by default
    assert public.lat == 39.91 or public.lat == round(public.lat, 3)
    assert [e.kind for e in public.timeline] == ["created", "accepted"]
    assert public.expected_at is not None and public.source == "bot"
    assert await find_public_case(domain, "GV-2026-999999") is None

    listed = await list_public_cases(domain, CaseQuery(statuses=statuses_for("open")))
    assert [c.human_id for c in listed] == [case_id]
    assert await count_public_cases(domain, CaseQuery(service_codes=("traffic",))) == 0
    assert await list_public_cases(domain, CaseQuery(before=cursor_of(listed[0]))) == []
    streamed = [c async for c in stream_public_cases(domain, CaseQuery())]
    assert [c.human_id for c in streamed] == [case_id]
