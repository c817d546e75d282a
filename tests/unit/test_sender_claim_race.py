"""An answer handed over while the sender's claim runs goes before the broadcast it came with.

A committee publishes a consultation: one transaction writes the committee's answer (handed to
the sender at commit) and the ballots (claimed from the store). On PostgreSQL that commit can
land between the sender taking what was handed and its claim finding the ballots: the ballots
then went out first and the answer after all of them.
"""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot

from bot.runtime.sender import Sender
from bot.services.shared.domain import Domain

COMMITTEE = -100777
VOTERS = list(range(61001, 61011))


@pytest.fixture
def domain_settings() -> dict[str, Any]:
    return {"courier": False}  # the ballots' calls made here, in the order they are made


async def test_an_answer_handed_during_the_claim_goes_before_its_ballots(domain: Domain) -> None:
    sender = Sender(domain, Bot("123456:TEST", base_url="http://127.0.0.1:9/bot"))
    made: list[int] = []

    async def call(method: str, payload: dict[str, Any]) -> Any:
        made.append(int(payload["chat_id"]))
        return {"message_id": len(made)}

    sender.api.call = call  # type: ignore[method-assign]
    claim = sender._claim

    async def claim_meanwhile(limit: int, busy: set[int]) -> Any:
        # the publish commits after the pass took what was handed, before its claim looks
        async with domain.unit() as uow:
            uow.outbox.send_text(COMMITTEE, "Published #1")
            for voter in VOTERS:
                uow.outbox.send_text(voter, "Ballot #1", campaign="consultation:1")
        sender._claim = claim  # type: ignore[method-assign]
        return await claim(limit, busy)

    sender._claim = claim_meanwhile  # type: ignore[method-assign]
    for _ in range(5):
        if not await sender.pass_once() and len(made) == 1 + len(VOTERS):
            break
    assert sorted(made) == sorted([COMMITTEE, *VOTERS])
    assert made[0] == COMMITTEE
