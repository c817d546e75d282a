"""What a case ends up as: triage for words that say nothing, one case for one problem,
transfers only where the card offered, the right owner, and cards that stay true."""

from __future__ import annotations

import pytest
from gv_world import MEMBER_1, World
from test_e2e_resident_support import LANG_IDS, LANGS, case_row, events, label

VAGUE = {
    "en": "I would like to know more about the thing we discussed",
    "zh": "我想了解一下我们上次讨论的事情",
}


@pytest.mark.parametrize(("code", "lang"), LANGS, ids=LANG_IDS)
async def test_a_message_that_matches_nothing_goes_to_triage_not_other(
    world: World, code: str, lang: str
) -> None:
    user = 1301
    await world.resident(user, lang=lang)
    case_id, filed = await world.report(user, VAGUE[lang])
    row = await case_row(world, case_id)
    assert row.status == "triage" and row.category is None
    assert not any(m in ("lik", "lik to", "would lik") for m in row.matched)
    assert label(world, lang, "cat_other") not in filed["text"]
    created = (await events(world, case_id))[0]
    assert created.kind == "created" and not created.data.get("matched")
    # the grid member gets no card: the leader places it first
    texts = " ".join(m.get("text") or "" for m in await world.sim.bot_messages(MEMBER_1))
    assert case_id not in texts
