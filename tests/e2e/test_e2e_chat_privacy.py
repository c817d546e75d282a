"""What staff and strangers can see: cases stay out of arbitrary groups, staff-facing data is
pseudonymous and coarse, and the similar-case offer does not show a neighbour's words."""

from __future__ import annotations

import pytest
from gv_world import MEMBER_1, PROPERTY_CHAT, PROPERTY_STAFF, World
from test_e2e_resident_support import LANG_IDS, LANGS

NEIGHBOURS_GROUP = -100777


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_case_and_queue_are_refused_in_a_group_the_map_does_not_name(
    world: World, code: str, lang: str
) -> None:
    resident = 1601
    await world.resident(resident, lang=lang)
    case_id, _ = await world.report(resident, "The street light outside building 1 is broken")
    await world.card(MEMBER_1, case_id)
    await world.sim.create_user(1602, "Neighbour", language_code=code)
    await world.sim.create_chat(NEIGHBOURS_GROUP, "Building 1 chat", [MEMBER_1, resident, 1602])
    for user, command in (
        (MEMBER_1, f"/case {case_id}"),
        (MEMBER_1, "/queue"),
        (resident, f"/case {case_id}"),
    ):
        after = await world.last_id(NEIGHBOURS_GROUP)
        await world.sim.send_text(user, command, chat=NEIGHBOURS_GROUP)
        reply = await world.wait_bot(NEIGHBOURS_GROUP, after=after, timeout=2.0)
        assert case_id not in reply["text"] and not reply.get("reply_markup"), reply
        assert "🔒" in reply["text"]
    await world.settle()
    shown = await world.sim.messages(NEIGHBOURS_GROUP)
    assert not any(case_id in (m.get("text") or "") for m in shown if m.get("from_bot"))
    assert not any(m.get("reply_markup") for m in shown if m.get("from_bot"))


async def test_queue_still_works_in_a_party_group_of_the_map(world: World) -> None:
    resident = 1603
    await world.resident(resident)
    case_id, _ = await world.report(
        resident, "The lift in our building is broken again, the property company ignores us"
    )
    await world.card(PROPERTY_CHAT, case_id)
    after = await world.last_id(PROPERTY_CHAT)
    await world.sim.send_text(PROPERTY_STAFF, "/queue", chat=PROPERTY_CHAT)
    reply = await world.wait_bot(PROPERTY_CHAT, after=after, timeout=2.0)
    assert "🔒" not in reply["text"]
