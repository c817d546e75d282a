"""python-telegram-bot's own Bot round-trips through the emulator (with spec checking on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import BadRequest, Forbidden

from bot.emulator.client import SimClient
from bot.emulator.server import RunningEmulator, start_emulator
from tests.emulator.emulator_helpers import PNG, TOKEN, USER


@pytest.fixture
async def spec_emu(spec_path: Path) -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(spec_path=str(spec_path))
    yield running
    await running.stop()


@pytest.fixture
async def bot(spec_emu: RunningEmulator) -> AsyncIterator[Bot]:
    async with SimClient(spec_emu.url) as sim:
        await sim.create_user(USER, "Ann")
    instance = Bot(TOKEN, base_url=f"{spec_emu.url}/bot", base_file_url=f"{spec_emu.url}/file/bot")
    async with instance:
        yield instance


@pytest.fixture
async def psim(spec_emu: RunningEmulator) -> AsyncIterator[SimClient]:
    async with SimClient(spec_emu.url) as client:
        yield client


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456 and me.username


async def test_send_message_with_keyboard_and_press(bot: Bot, psim: SimClient) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Report", callback_data="report")]])
    msg = await bot.send_message(USER, "<b>Hi</b> there", parse_mode="HTML", reply_markup=markup)
    assert msg.text == "Hi there" and msg.reply_markup == markup and msg.from_user.is_bot
    pressed = await psim.press(USER, msg.message_id, button="Report")
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and query.data == "report"
    assert await bot.answer_callback_query(query.id, text="Noted")
    assert (await psim.callback_answer(pressed["callback_query_id"]))["text"] == "Noted"
    edited = await bot.edit_message_text("Done", chat_id=USER, message_id=msg.message_id)
    assert edited.text == "Done" and edited.edit_date is not None
    assert not [c for c in await psim.calls() if "spec_violation" in c]


async def test_send_photo_bytes_get_file_download(bot: Bot) -> None:
    msg = await bot.send_photo(USER, PNG, caption="meter")
    assert msg.caption == "meter" and msg.photo[-1].width == 320
    file = await bot.get_file(msg.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PNG
    again = await bot.send_photo(USER, msg.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == msg.photo[-1].file_unique_id


async def test_user_photo_downloadable(bot: Bot, psim: SimClient) -> None:
    await psim.send_photo(USER, PNG, caption="broken pole")
    update = (await bot.get_updates())[-1]
    assert update.message is not None and update.message.caption == "broken pole"
    file = await update.message.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == PNG


async def test_media_group_document_location_poll(bot: Bot) -> None:
    album = await bot.send_media_group(USER, [InputMediaPhoto(PNG), InputMediaPhoto(PNG)])
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    doc = await bot.send_document(USER, b"a,b\n1,2\n", filename="data.csv")
    assert doc.document is not None and doc.document.file_name == "data.csv"
    loc = await bot.send_location(USER, 52.52, 13.40)
    assert loc.location is not None and loc.location.latitude == 52.52
    poll_msg = await bot.send_poll(USER, "Outage today?", ["yes", "no"], is_anonymous=False)
    assert poll_msg.poll is not None and [o.text for o in poll_msg.poll.options] == ["yes", "no"]
    stopped = await bot.stop_poll(USER, poll_msg.message_id)
    assert stopped.is_closed
    copied = await bot.copy_message(USER, USER, doc.message_id)
    assert copied.message_id > doc.message_id
    assert await bot.send_chat_action(USER, "typing")
    assert await bot.delete_message(USER, loc.message_id)


async def test_commands_chat_webhook_info(bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "Start"), ("report", "Report an outage")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    chat = await bot.get_chat(USER)
    assert chat.id == USER and chat.type == "private"
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_errors_become_ptb_exceptions(bot: Bot, psim: SimClient) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "x" * 5000)
    await psim.block(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "hi")


async def test_ptb_application_polling(spec_emu: RunningEmulator, psim: SimClient) -> None:
    from telegram import Update
    from telegram.ext import (
        Application,
        CallbackQueryHandler,
        CommandHandler,
        ContextTypes,
    )

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ping", callback_data="ping")]])
        await update.effective_message.reply_text("Welcome!", reply_markup=keyboard)

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("pong")
        await update.callback_query.edit_message_text("Pinged")

    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(f"{spec_emu.url}/bot")
        .base_file_url(f"{spec_emu.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    await psim.create_user(USER, "Ann")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            await psim.send_text(USER, "/start")
            welcome = await psim.wait_for(USER, lambda m: m["text"] == "Welcome!")
            pressed = await psim.press(USER, welcome["message_id"], button="Ping")
            await psim.wait_for(USER, lambda m: m["text"] == "Pinged" and m["edited"])
            assert (await psim.callback_answer(pressed["callback_query_id"]))["text"] == "pong"
        finally:
            await app.updater.stop()
            await app.stop()
    assert not [c for c in await psim.calls() if "spec_violation" in c]
