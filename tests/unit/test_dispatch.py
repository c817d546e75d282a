"""The chat dispatcher's tables, as the handler modules declare them.

Buttons stay in people's chats for months: every callback prefix ever sent must keep reaching
the function that answers it, whichever module it lives in. And two modules claiming the same
command or prefix is a mistake the dispatcher refuses at start-up, not a silent override.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from dialogue_helpers import dispatcher

from handlers.dispatch import Dispatcher

# Callback data as buttons in people's chats carry it -> the function that must answer it.
STORED_BUTTONS = {
    "c:acc:1:1": "handlers.cases.card:card_button",
    "r:tl:1": "handlers.cases.resident:case_button",
    "r:one:1:0:traffic": "handlers.cases.resident:case_button",
    "r:else:1:0": "handlers.cases.resident:case_button",
    "c:catm:1:0": "handlers.cases.card:card_button",
    "d:send": "handlers.reports.drafts:draft_button",
    "o:consent:yes": "handlers.people.onboarding:onboarding_button",
    "l:en": "handlers.people.onboarding:language_button",
    "f:yes": "handlers.people.onboarding:forget_button",
    "h:y:token": "handlers.people.household:verify_button",
    "k:pub": "handlers.participation.consultations:committee_button",
    "k:man:1": "handlers.participation.consultations:committee_button",
    "k:ag:g1": "handlers.participation.announcements:announce_button",
    "k:aall": "handlers.participation.announcements:announce_button",
    "k:asend": "handlers.participation.announcements:announce_button",
    "k:arep:1": "handlers.participation.announcements:announce_button",
    "v:1:o:0": "handlers.participation.ballots:vote_button",
}


@pytest.mark.parametrize(("data", "expected"), sorted(STORED_BUTTONS.items()))
def test_every_stored_button_reaches_its_handler(data: str, expected: str) -> None:
    handler = dispatcher().callback_handler(data)
    assert handler is not None
    assert f"{handler.__module__}:{handler.__name__}" == expected


def test_an_unknown_prefix_reaches_nothing() -> None:
    assert dispatcher().callback_handler("zz:1") is None


def test_groups_take_only_the_declared_buttons_and_commands() -> None:
    d = dispatcher()
    assert d.group_callbacks == {"c", "v", "j", "du"}  # "j": a co-handler's task card in a
    # party group; "du": a ruling asked of the street office's group
    assert d.group_commands == {"case", "queue", "consultpost"}


def _module(name: str, **tables: object) -> ModuleType:
    module = ModuleType(name)
    for key, value in tables.items():
        setattr(module, key, value)
    return module


async def _noop(ctx: object) -> None:
    return None


def test_a_command_declared_twice_is_refused() -> None:
    one = _module("one", COMMANDS={"queue": _noop})
    two = _module("two", COMMANDS={"queue": _noop})
    with pytest.raises(ValueError, match="queue"):
        Dispatcher(modules=(one, two))


def test_a_group_command_that_is_no_command_is_refused() -> None:
    with pytest.raises(ValueError, match="case"):
        Dispatcher(modules=(_module("one", GROUP_COMMANDS=("case",)),))


def test_a_press_parses_without_the_pressed_keyboard_and_the_payload_keeps_it() -> None:
    """A button press reaches its handler with its data, chat and message; the keyboard of the
    message it was on is left out of the parse (nothing reads it), not out of what is stored."""
    from telegram import Bot

    from bot.runtime.processor import parse_update

    keyboard = {"inline_keyboard": [[{"text": "Send", "callback_data": "d:send"}]]}
    payload = {
        "update_id": 7,
        "callback_query": {
            "id": "q1",
            "from": {"id": 42, "is_bot": False, "first_name": "A"},
            "chat_instance": "c",
            "data": "d:send",
            "message": {
                "message_id": 9,
                "date": 1_700_000_000,
                "chat": {"id": 42, "type": "private"},
                "text": "Your report",
                "reply_markup": keyboard,
            },
        },
    }
    update = parse_update(payload, Bot("1:T"))
    query = update.callback_query
    assert query is not None and query.data == "d:send" and query.from_user.id == 42
    assert query.message is not None and query.message.message_id == 9
    assert query.message.chat.id == 42 and query.message.text == "Your report"
    assert query.message.reply_markup is None
    assert payload["callback_query"]["message"]["reply_markup"] == keyboard  # stored as came
    # an update without a pressed message, or not a press at all, parses as before
    del payload["callback_query"]["message"]
    assert parse_update(payload, Bot("1:T")).callback_query.message is None
    chat = {"id": 1, "type": "private"}
    sent = {"message_id": 1, "date": 1, "text": "hi", "chat": chat, "reply_markup": keyboard}
    text = {"update_id": 8, "message": sent}
    assert parse_update(text, Bot("1:T")).message.reply_markup is not None
