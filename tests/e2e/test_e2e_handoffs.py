"""A hand-off received from a link, through the chat: the owner's card of a case a district
posted with its link key carries 📞 Contact made; a press records first contact once, answers
in the owner's language, and meets the first-contact deadline; the card of a resident's own
case never offers it."""

from __future__ import annotations

from bot.services.cases import actions, intake
from bot.services.public import api_keys, open311
from bot.store.models import CaseIntake
from tests.e2e.consult_helpers import answer_of
from tests.support.chat import case_row, events, label
from tests.support.world import World, button_labels

STAFF_LANG = "zh"  # the demo staff write in Chinese
CONTACTED = actions.BY_NAME["handoff_contacted"]


async def test_the_owner_presses_contact_made_on_a_received_hand_off(world: World) -> None:
    assert world.app is not None
    domain = world.app.domain
    async with domain.unit() as uow:
        issued = await api_keys.create_key(
            uow.session, "district", uow.now, link="district-7", level="district"
        )
        key = await api_keys.check_key(uow.session, issued.key)
    assert key is not None
    request = open311.new_request(
        domain.routing,
        {
            "service_code": "facilities",
            "lat": "39.91052",
            "long": "116.40081",
            "description": "Handed down: the lamp at the east gate",
            "attribute[remote_ref]": "D-2026-1",
        },
    )
    case_id = await open311.submit(domain, key, request, "Public facilities")
    owner = (await case_row(world, case_id)).owner_chat_id
    assert owner is not None
    card = await world.card(owner, case_id)
    assert label(world, STAFF_LANG, CONTACTED.button or "") in button_labels(card)
    pressed = await world.act(owner, card, CONTACTED.code or "")
    await world.settle()
    assert await answer_of(world, pressed) == label(world, STAFF_LANG, CONTACTED.done or "")
    kinds = [e.kind for e in await events(world, case_id)]
    assert kinds.count("handoff_contacted") == 1
    row = await case_row(world, case_id)
    async with domain.unit() as uow:
        found = await uow.session.get(CaseIntake, row.id)
        assert found is not None and found.contacted_at is not None
        assert not await intake.contact_open(uow, await uow.session.get(type(row), row.id))
    # The card no longer offers it; a resident's own case never did.
    edited = await world.wait_edited(owner, card["message_id"], case_id)
    assert label(world, STAFF_LANG, CONTACTED.button or "") not in button_labels(edited)
    await world.resident(1999)
    own, _ = await world.report(1999, "The street light outside building 1 is broken")
    own_owner = (await case_row(world, own)).owner_chat_id
    assert own_owner is not None
    own_card = await world.card(own_owner, own)
    assert label(world, STAFF_LANG, CONTACTED.button or "") not in button_labels(own_card)
