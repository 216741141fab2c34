"""The bot's chat, person and conversation state in the database, as a process taking over
reads it back (bot/persistence.py over storage/chat_states.py)."""

from __future__ import annotations

from datetime import date

from bot.persistence import DatabasePersistence
from storage.chat_states import ChatStates


async def test_what_one_process_saved_another_reads_back(database):
    first = DatabasePersistence(ChatStates(database))
    await first.update_chat_data(2001, {"expense": {"claim": 7, "guided": True}})
    await first.update_user_data(2001, {"approval_reasons": {41: 3}})
    await first.update_conversation("plan", (2001, 2001), 2)
    await first.update_conversation("log", (-100777, 2001), 1)
    await first.save()

    second = DatabasePersistence(ChatStates(database))
    assert await second.get_chat_data() == {2001: {"expense": {"claim": 7, "guided": True}}}
    assert await second.get_user_data() == {2001: {"approval_reasons": {41: 3}}}
    assert await second.get_conversations("plan") == {(2001, 2001): 2}
    assert await second.get_conversations("log") == {(-100777, 2001): 1}
    assert await second.get_conversations("expense") == {}


async def test_a_conversation_that_ended_and_emptied_data_are_forgotten(database):
    persistence = DatabasePersistence(ChatStates(database))
    await persistence.update_chat_data(2001, {"plan": {"day": date(2026, 12, 7)}})
    await persistence.update_conversation("plan", (2001, 2001), 0)
    await persistence.save()
    await persistence.update_chat_data(2001, {})
    await persistence.update_conversation("plan", (2001, 2001), None)
    await persistence.save()

    fresh = DatabasePersistence(ChatStates(database))
    assert await fresh.get_chat_data() == {}
    assert await fresh.get_conversations("plan") == {}


async def test_a_chat_without_anything_to_remember_gets_no_row(database):
    states = ChatStates(database)
    persistence = DatabasePersistence(states)
    await persistence.update_chat_data(2001, {"flow": "plan"})
    await persistence.update_chat_data(2002, {})  # touched by an update, nothing kept
    await persistence.save()
    assert list(await states.load("chat")) == ["2001"]
    assert await DatabasePersistence(states).get_chat_data() == {2001: {"flow": "plan"}}
