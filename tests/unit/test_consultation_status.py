"""A consultation's status table (bot/services/participation/consultations.py): every move
allowed and refused, what each status lets residents do, and the results of an audience
with nobody eligible."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from unit_helpers import COMMITTEE, new_resident

from bot.services.participation import consultations as cs
from bot.services.participation.consultations import (
    CONSULT_TRANSITIONS,
    ConsultError,
    ConsultStatus,
)
from bot.services.shared.domain import UnitOfWork
from bot.store.models import Consultation, MessageRef, OutboxMessage

S = ConsultStatus
ALLOWED = {(S.PROPOSALS, S.SCHEDULED), (S.SCHEDULED, S.OPEN), (S.OPEN, S.CLOSED)}


@pytest.fixture(autouse=True)
def no_chart_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs, "bar_chart", lambda text: b"\x89PNG stand-in")


def test_the_table_names_every_status() -> None:
    assert set(CONSULT_TRANSITIONS) == set(ConsultStatus)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(ConsultStatus, repeat=2)))
def test_every_move_is_allowed_or_refused_by_the_table(old: S, new: S) -> None:
    c = Consultation(status=old)
    if (old, new) in ALLOWED:
        cs.move(c, new)
        assert c.status == new
    else:
        with pytest.raises(ConsultError) as refused:
            cs.move(c, new)
        assert refused.value.key == (
            "consult_not_open" if old == S.CLOSED else "consult_wrong_state"
        )
        assert c.status == old


def test_comments_while_proposals_or_open_votes_only_while_open() -> None:
    assert cs.TAKES_COMMENTS == {S.PROPOSALS, S.OPEN}
    assert cs.TAKES_VOTES == {S.OPEN}
    for status in ConsultStatus:
        c = Consultation(status=status)
        if status in cs.TAKES_VOTES:
            cs.require(c, cs.TAKES_VOTES)
        else:
            with pytest.raises(ConsultError):
                cs.require(c, cs.TAKES_VOTES)


def _draft(uow: UnitOfWork, grids: list[str]) -> dict[str, object]:
    return {
        "question": "A bike shed by the gate?",
        "options": ["Yes", "No"],
        "grids": grids,
        "opens_at": uow.now.isoformat(),
        "closes_at": (uow.now + timedelta(days=3)).isoformat(),
    }


async def test_a_closed_consultation_is_not_closed_or_opened_again(uow: UnitOfWork) -> None:
    c = cs.create(uow, COMMITTEE, _draft(uow, ["xingfu-1"]))
    await cs.publish(uow, c)
    assert c.status == S.OPEN
    await cs.close_now(uow, c)
    assert c.status == S.CLOSED
    for again in (cs.close(uow, c), cs.open_consultation(uow, c)):
        with pytest.raises(ConsultError):
            await again
    with pytest.raises(ConsultError):
        await cs.set_options_and_open(uow, c, ["A", "B"])


@pytest.mark.parametrize(
    ("lang", "nobody"), [("en", "nobody eligible"), ("zh", "没有有资格投票的居民")]
)
async def test_results_say_when_a_grid_had_nobody_eligible(
    uow: UnitOfWork, lang: str, nobody: str
) -> None:
    """Grid xingfu-4 has no verified resident: its line says so instead of "0/0 (0.0%)"."""
    await new_resident(uow, verified=True)  # xingfu-1
    c = cs.create(uow, COMMITTEE, _draft(uow, ["xingfu-1", "xingfu-4"]))
    await cs.publish(uow, c)
    await cs.close_now(uow, c)
    text = uow.domain.renderer.render(
        lang, "consult_results", c=c, r=c.results, names=cs.grid_names(uow, lang)
    )
    empty = next(line for line in text.splitlines() if "Ankang" in line or "安康" in line)
    assert "0/0" not in empty and "%" not in empty and nobody in empty, text
    assert "0/1" in text  # the grid with a voter keeps its turnout


async def test_results_of_an_audience_with_nobody_eligible(uow: UnitOfWork) -> None:
    c = cs.create(uow, COMMITTEE, _draft(uow, ["xingfu-4"]))
    await cs.publish(uow, c)
    await cs.close_now(uow, c)
    for lang in ("en", "zh"):
        text = uow.domain.renderer.render(
            lang, "consult_results", c=c, r=c.results, names=cs.grid_names(uow, lang)
        )
        assert "0/0" not in text and "%" not in text, text
        caption = cs.chart_text(uow.domain.renderer, c, c.results, lang).subtitle
        assert "0%" not in caption, caption


async def test_closing_takes_the_buttons_off_delivered_ballots(uow: UnitOfWork) -> None:
    voter = await new_resident(uow, verified=True)
    c = cs.create(uow, COMMITTEE, _draft(uow, ["xingfu-1"]))
    await cs.publish(uow, c)
    await uow.session.flush()
    uow.session.add(MessageRef(ref=cs.ballot_ref(c, voter.id), chat_id=voter.id, message_id=77))
    await cs.close_now(uow, c)
    await uow.session.flush()
    edits = [
        m
        for m in (await uow.session.execute(cs.select(OutboxMessage))).scalars()
        if m.method == "editMessageReplyMarkup"
    ]
    assert [(m.chat_id, m.payload["message_id"], m.payload["reply_markup"]) for m in edits] == [
        (voter.id, 77, {"inline_keyboard": []})
    ]
    assert edits[0].campaign == f"consult-close:{c.id}"  # paced behind case messages
