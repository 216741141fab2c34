"""The outbox dispatcher in the real bot, delivering through the Bot API stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bootstrap import org_defaults
from bot.stage import Stage, free_port
from core.domain.inbox.notifications import NewNotification, NotificationKind
from core.domain.org.model import Member
from core.inbox.notifications import GroupService, publish, publish_many
from standin import BotApiStandIn, Limits
from storage.tables import NotificationRow, TeamGroupRow
from tests.chat.conftest import texts
from tests.conftest import RunningClock

FIRST_MEMBER_ID = 70_000
# PTB warns about retry_after's future type whenever a RetryAfter is made.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def clock():
    """Retries fall due as seconds pass, like in production, on a known day and hour."""
    return RunningClock()


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait until condition() holds, checking every few milliseconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.01)


async def member_id(database, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return (await uow.members.by_key(key)).id


async def add_members(stage: Stage, database, count: int) -> list[int]:
    """`count` East-region reps who have started the bot; their member ids."""
    async with database.uow() as uow:
        east = await uow.departments.by_key("east")
        ids = []
        for i in range(count):
            account_id = FIRST_MEMBER_ID + i
            stage.standin.user(account_id, f"Rep {i}")
            member = await uow.members.add(Member(None, f"rep{i}", f"Rep {i}", east.id,
                                                  account_id=account_id))
            ids.append(member.id)
        await uow.commit()
    return ids


async def publish_now(stage: Stage, database, config, *news: NewNotification) -> None:
    async with database.uow() as uow:
        await publish_many(uow, list(news), now=stage.application.bot_data["services"].clock.now(),
                           settings=org_defaults(config))
        await uow.commit()
    stage.dispatcher.wake()


def text_note(key: str, member: int, text: str) -> NewNotification:
    return NewNotification(key=key, kind=NotificationKind.SYSTEM, member_id=member,
                           payload={"text": text})


async def states(database, **where) -> list[str]:
    async with database.uow(read_only=True) as uow:
        return list(await uow.session.scalars(
            select(NotificationRow.state).filter_by(**where).order_by(NotificationRow.id)))


def bot_texts(stage: Stage, chat: int) -> list[str]:
    return texts(stage.standin.transcript(chat))


async def test_a_notification_arrives_once_in_the_recipients_language(stage, cast, org_database,
                                                                      config):
    carol, li = await member_id(org_database, "carol"), await member_id(org_database, "li")
    payload = {"event": "member_unreachable", "member": "Sam Okafor"}
    await publish_now(stage, org_database, config, *(
        NewNotification(key=f"unreachable:sam:{who}", kind=NotificationKind.SYSTEM,
                        member_id=who, payload=payload) for who in (carol, li)))
    english = await stage.standin.next_bot_message(cast.carol)
    chinese = await stage.standin.next_bot_message(cast.li)
    assert "I can no longer reach Sam Okafor on Telegram" in english.text
    assert "联系不到 Sam Okafor" in chinese.text
    await until(lambda: stage.dispatcher.counters.sent == 2, what="both recorded")
    stage.dispatcher.wake()
    await asyncio.sleep(0.2)  # a further round must not send them again
    assert len(bot_texts(stage, cast.carol.id)) == len(bot_texts(stage, cast.li.id)) == 1
    assert await states(org_database) == ["delivered", "delivered"]
    async with org_database.uow(read_only=True) as uow:
        row = await uow.notifications.by_key(f"unreachable:sam:{carol}")
    assert (row.chat_id, row.message_id) == (cast.carol.id, english.message_id)


async def test_wake_delivers_without_waiting_for_a_poll(stage, cast, org_database, config,
                                                       clock):
    dispatcher = stage.dispatcher
    dispatcher.poll_seconds = 60
    dispatcher.wake()  # ends the current one-second wait; the next one lasts a minute
    await asyncio.sleep(0.05)
    carol = await member_id(org_database, "carol")
    async with org_database.uow() as uow:
        await publish(uow, text_note("hello", carol, "Your claim was approved."),
                      now=clock.now(), settings=org_defaults(config))
        await uow.commit()
    await asyncio.sleep(0.3)
    assert bot_texts(stage, cast.carol.id) == []
    started = time.monotonic()
    dispatcher.wake()
    message = await stage.standin.next_bot_message(cast.carol, timeout=2)
    assert message.text == "Your claim was approved."
    assert time.monotonic() - started < 1


async def test_a_revised_notification_edits_the_message_it_sent(stage, cast, org_database,
                                                                 config):
    erin = await member_id(org_database, "erin")
    await publish_now(stage, org_database, config, text_note("claim:3", erin, "Claim 3: waiting"))
    sent = await stage.standin.next_bot_message(cast.erin)
    await until(lambda: stage.dispatcher.counters.sent == 1, what="first version recorded")
    async with org_database.uow() as uow:
        await uow.notifications.revise("claim:3", {"text": "Claim 3: approved by Dana"})
        await uow.commit()
    stage.dispatcher.wake()
    await until(lambda: stage.dispatcher.counters.edited == 1, what="the edit")
    [shown] = stage.standin.bot_messages(cast.erin)
    assert (shown.message_id, shown.text) == (sent.message_id, "Claim 3: approved by Dana")


async def test_a_fan_out_within_telegrams_limits_meets_no_429(stage, org_database, config):
    members = await add_members(stage, org_database, 60)
    stage.standin.limits = Limits()
    await publish_now(stage, org_database, config, *(
        text_note(f"fanout:{m}", m, "The new price list is in the shared folder.")
        for m in members))
    stats = stage.standin.stats
    await until(lambda: stage.dispatcher.counters.sent == 60, timeout=10, what="60 sent")
    assert stats.too_many_requests == 0 and stage.dispatcher.counters.too_many_requests == 0
    assert all(stats.messages_per_chat[FIRST_MEMBER_ID + i] == 1 for i in range(60))
    assert set(await states(org_database)) == {"delivered"}


async def test_a_429_storm_still_delivers_everything_exactly_once_in_order(stage, org_database,
                                                                         config):
    members = await add_members(stage, org_database, 24)
    # Tighter than the dispatcher's own limits: most first attempts are refused.
    stage.standin.limits = Limits(overall_per_second=8, private_per_second=0.5)
    news = [text_note(f"storm:{m}", m, "first") for m in members]
    news += [text_note(f"storm:{m}:again", m, "second") for m in members[:4]]
    await publish_now(stage, org_database, config, *news)
    await until(lambda: stage.dispatcher.counters.sent == 28, timeout=20, what="28 sent")
    assert stage.standin.stats.too_many_requests > 0
    assert stage.dispatcher.counters.too_many_requests == stage.standin.stats.too_many_requests
    for i in range(24):
        expected = ["first", "second"] if i < 4 else ["first"]
        assert bot_texts(stage, FIRST_MEMBER_ID + i) == expected
    assert set(await states(org_database)) == {"delivered"}
    async with org_database.uow(read_only=True) as uow:
        attempts = await uow.session.scalars(select(NotificationRow.attempts))
        assert set(attempts) == {0}  # a 429 is not a failed attempt


async def test_a_member_who_blocked_the_bot_is_given_up_and_their_manager_told(
        stage, cast, org_database, config):
    stage.standin.user(1001, "Dana", last_name="Whitfield")
    carol = await member_id(org_database, "carol")
    cast.carol.block_bot()
    await publish_now(stage, org_database, config,
                      *(text_note(f"carol:{i}", carol, f"note {i}") for i in range(3)))
    notice = await stage.standin.next_bot_message(cast.erin, timeout=5)
    assert "I can no longer reach <b>Carol Lin</b>" in notice.html
    refused = stage.standin.stats.errors[403]
    assert refused <= 1
    await publish_now(stage, org_database, config, text_note("carol:later", carol, "later"))
    await stage.sent()
    await asyncio.sleep(0.2)
    assert stage.standin.stats.errors[403] == refused  # no further attempts
    assert await states(org_database, member_id=carol) == ["skipped"] * 4
    assert len(bot_texts(stage, cast.erin.id)) == 1
    assert len(bot_texts(stage, 1001)) == 1  # Dana, the admin, once too
    async with org_database.uow(read_only=True) as uow:
        assert not (await uow.members.get(carol)).reachable


@pytest.mark.parametrize("removal", ["seen", "missed"])
async def test_the_bot_removed_from_a_bound_group_unbinds_it_and_tells_the_manager(
        stage, cast, org_database, config, clock, removal):
    group = stage.standin.group(-100777, "East team", [cast.erin, cast.carol])
    groups = GroupService(org_database.uow, clock, org_defaults(config))
    binding = await groups.bind(cast.erin.id, group.id, "East team", bot_is_member=True)
    if removal == "seen":
        await stage.act(group.remove_bot(by=cast.erin))
    else:
        # Removed while the bot was offline: only the 403 on the next send tells it.
        group.chat.bot_status, group.chat.bot_removed = "kicked", True
    await publish_now(stage, org_database, config, NewNotification(
        key="team-note:east", kind=NotificationKind.SYSTEM, group_id=binding.group.id,
        payload={"text": "The new price list is in the shared folder."}))
    notice = await stage.standin.next_bot_message(cast.erin, timeout=5)
    assert "I was removed from the group <b>East team</b>" in notice.html
    await stage.sent()
    assert await groups.bound(group.id) is None
    assert bot_texts(stage, group.id) == []
    assert len(bot_texts(stage, cast.erin.id)) == 1
    assert stage.dispatcher.counters.unreachable == (removal == "missed")
    async with org_database.uow(read_only=True) as uow:
        row = await uow.session.scalar(select(TeamGroupRow).filter_by(chat_id=group.id))
        assert row.active is False


async def test_a_network_error_is_retried_with_backoff(org_database, config, clock):
    standin = BotApiStandIn(port=free_port())
    await standin.start()
    try:
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            carol = standin.user(2001, "Carol", last_name="Lin")
            member = await member_id(org_database, "carol")
            await standin.stop()  # Telegram cannot be reached for a moment
            await publish_now(stage, org_database, config,
                              text_note("after-outage", member, "Back online"))
            await until(lambda: stage.dispatcher.counters.retried == 1, what="the retry")
            failed_at = time.monotonic()
            await standin.start()
            message = await standin.next_bot_message(carol, timeout=6)
            waited = time.monotonic() - failed_at
            assert message.text == "Back online"
            assert 1.5 < waited < 4  # the first backoff is two seconds
            await until(lambda: stage.dispatcher.counters.sent == 1)
            async with org_database.uow(read_only=True) as uow:
                row = await uow.notifications.by_key("after-outage")
            assert (row.state, row.attempts) == ("delivered", 1)
            assert len(texts(standin.transcript(carol))) == 1
    finally:
        await standin.stop()
