"""The inbox through the real bot: the menu count, pages, opening, and untrusted buttons.

Notifications are published straight into the database; the dispatcher may also push
them as messages, so these tests look only at the inbox screens and the database.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton

from bot import subjects
from bot.i18n import Translator
from bot.notices import render, summary
from bot.subjects import SubjectView
from core.domain.inbox.notifications import NewNotification, Notification, NotificationKind
from core.inbox.notifications import publish
from tests.chat.conftest import texts

INBOX_EMPTY = ("📥 Inbox\n\nNothing here yet. Approval requests, reminders and alerts will "
               "appear here.")
NOT_YOURS = "I could not find that notification in your inbox."
STALE = "That button is no longer valid."


async def notify(database, clock, member: str, key: str, *, text: str | None = None,
                 kind: NotificationKind = NotificationKind.SYSTEM,
                 subject_type: str | None = None, subject_id: int | None = None) -> Notification:
    """Put a notification into a member's inbox, as a core service would."""
    async with database.uow() as uow:
        recipient = await uow.members.by_key(member)
        created = await publish(uow, NewNotification(
            key=key, kind=kind, member_id=recipient.id, payload={"text": text or key},
            subject_type=subject_type, subject_id=subject_id),
            now=clock.now(), settings=await uow.organization.get())
        await uow.commit()
    return created


async def stored(database, notification_id: int) -> Notification:
    async with database.uow(read_only=True) as uow:
        return await uow.notifications.get(notification_id)


def inbox_screen(stage, user):
    """The bot's latest inbox message in the user's chat (push messages aside)."""
    return next(m for m in reversed(stage.standin.bot_messages(user.id))
                if m.text and m.text.startswith("📥 "))


def now(stage, message):
    """The message as it stands now (the inbox edits its screen in place)."""
    return next(m for m in stage.standin.bot_messages(message.chat_id)
                if m.message_id == message.message_id)


def answers(entries) -> list:
    return [e for e in entries if e.kind == "callback_answer"]


def alert(entries) -> str:
    answered = answers(entries)
    assert len(answered) == 1 and answered[0].raw.get("show_alert"), answered
    return answered[0].raw["text"]


def item_buttons(message) -> list[str]:
    return [row[0] for row in message.buttons if row is not message.buttons[-1]
            or not any(label == "◀" or label == "▶" or "/" in label for label in row)]


async def test_menu_button_shows_the_unread_count_and_opens_the_inbox(
        stage, cast, org_database, clock):
    for n in range(3):
        await notify(org_database, clock, "carol", f"note {n}")
    entries = await stage.act(cast.carol.send("/start"))
    menu = next(e for e in reversed(entries) if e.by_bot and e.keyboard == "reply")
    assert menu.buttons[1] == ["🧾 Expense", "📅 Calendar", "📥 Inbox (3)"]
    await stage.act(cast.carol.send("📥 Inbox (3)"))
    screen = inbox_screen(stage, cast.carol)
    assert screen.text.startswith("📥 Inbox — unread: 3 of 3")
    assert len(item_buttons(screen)) == 3


async def test_menu_button_with_a_stale_count_still_opens_the_inbox(stage, cast, org_database,
                                                                    clock):
    await notify(org_database, clock, "carol", "only one")
    await stage.act(cast.carol.send("📥 Inbox (12)"))
    assert inbox_screen(stage, cast.carol).text.startswith("📥 Inbox — unread: 1 of 1")


async def test_chinese_menu_button_opens_the_inbox_in_chinese(stage, cast, org_database, clock):
    await notify(org_database, clock, "li", "提醒")
    entries = await stage.act(cast.li.send("/start"))
    menu = next(e for e in reversed(entries) if e.by_bot and e.keyboard == "reply")
    assert menu.buttons[1] == ["🧾 报销", "📅 日历", "📥 消息中心 (1)"]
    await stage.act(cast.li.send("📥 消息中心 (1)"))
    screen = inbox_screen(stage, cast.li)
    assert screen.text.startswith("📥 消息中心 — 未读 1 条，共 1 条")


async def test_empty_inbox_says_what_will_arrive(stage, cast):
    entries = await stage.act(cast.carol.send("/inbox"))
    assert texts(entries) == [INBOX_EMPTY]
    assert inbox_screen(stage, cast.carol).buttons == []


async def test_inbox_lists_unread_first_five_to_a_page(stage, cast, org_database, clock):
    t = Translator("en")
    made = []
    for n in range(7):
        made.append(await notify(org_database, clock, "carol", f"note {n}"))
        clock.advance(minutes=1)
    await stage.act(cast.carol.send("/inbox"))
    first = inbox_screen(stage, cast.carol)
    # Newest first; times in Asia/Shanghai (02:00 UTC is 10:00 there).
    assert item_buttons(first) == [f"● {summary(made[n], t)} · 11-26 10:0{n}"
                                   for n in (6, 5, 4, 3, 2)]
    assert first.buttons[-1] == ["1/2", "▶"]
    entries = await stage.act(cast.carol.press(first, "▶"))
    assert answers(entries)
    second = inbox_screen(stage, cast.carol)
    assert second.message_id == first.message_id  # turned in place
    assert len(item_buttons(second)) == 2 and second.buttons[-1] == ["◀", "2/2"]


async def test_opening_a_notification_shows_it_in_full_and_marks_it_read(
        stage, cast, org_database, clock):
    made = await notify(org_database, clock, "carol", "gone",
                        text="Your <b>visit</b> plan for tomorrow is missing")
    await stage.act(cast.carol.send("/inbox"))
    screen = inbox_screen(stage, cast.carol)
    entries = await stage.act(cast.carol.press(screen, item_buttons(screen)[0]))
    assert answers(entries) and not answers(entries)[0].raw.get("text")
    opened = now(stage, screen)
    body, _ = render(made, Translator("en"), _Reader())
    assert opened.html == f"<i>Notice · 2026-11-26 10:00</i>\n\n{body}"
    assert "&lt;b&gt;visit&lt;/b&gt;" in opened.html  # the text is escaped, not markup
    assert opened.buttons == [["« Back to inbox"]]
    assert (await stored(org_database, made.id)).read_at == clock.now()
    await stage.act(cast.carol.press(opened, "« Back to inbox"))
    back = inbox_screen(stage, cast.carol)
    assert back.text.startswith("📥 Inbox — unread: 0 of 1")
    assert not item_buttons(back)[0].startswith("●")


async def test_forged_press_on_another_members_notification_changes_nothing(
        stage, cast, org_database, clock):
    carols = await notify(org_database, clock, "carol", "carol's own")
    await notify(org_database, clock, "erin", "erin's own")
    await stage.act(cast.erin.send("/inbox"))
    screen = inbox_screen(stage, cast.erin)
    entries = await stage.act(cast.erin.press(
        screen, callback_data=f"inbox:o:{carols.id}:0", forge=True))
    assert alert(entries) == NOT_YOURS
    assert not [e for e in entries if e.kind == "edit"]
    assert (await stored(org_database, carols.id)).read_at is None
    assert inbox_screen(stage, cast.erin).text == screen.text


async def test_press_on_a_notification_that_does_not_exist_is_refused(stage, cast, org_database,
                                                                      clock):
    await notify(org_database, clock, "carol", "one")
    await stage.act(cast.carol.send("/inbox"))
    entries = await stage.act(cast.carol.press(
        inbox_screen(stage, cast.carol), callback_data="inbox:o:99999999:0", forge=True))
    assert alert(entries) == NOT_YOURS


async def test_old_inbox_message_opens_a_notification_read_since(stage, cast, org_database,
                                                                 clock):
    made = await notify(org_database, clock, "carol", "first read")
    await stage.act(cast.carol.send("/inbox"))
    old = inbox_screen(stage, cast.carol)
    await stage.act(cast.carol.send("/inbox"))
    await stage.act(cast.carol.press(inbox_screen(stage, cast.carol),
                                     item_buttons(inbox_screen(stage, cast.carol))[0]))
    read_at = clock.now()
    clock.advance(hours=2)
    entries = await stage.act(cast.carol.press(old, item_buttons(old)[0]))
    assert answers(entries)
    assert now(stage, old).text.endswith("first read")
    assert (await stored(org_database, made.id)).read_at == read_at  # read once, not again


async def test_page_far_out_of_range_shows_the_last_page(stage, cast, org_database, clock):
    for n in range(6):
        await notify(org_database, clock, "carol", f"note {n}")
    await stage.act(cast.carol.send("/inbox"))
    entries = await stage.act(cast.carol.press(
        inbox_screen(stage, cast.carol), callback_data="inbox:p:999999", forge=True))
    assert answers(entries)
    screen = inbox_screen(stage, cast.carol)
    assert len(item_buttons(screen)) == 1 and screen.buttons[-1] == ["◀", "2/2"]


async def test_malformed_inbox_data_is_answered_and_changes_nothing(stage, cast, org_database,
                                                                    clock):
    made = await notify(org_database, clock, "carol", "untouched")
    await stage.act(cast.carol.send("/inbox"))
    screen = inbox_screen(stage, cast.carol)
    for data in ("inbox:", "inbox:o:abc:0", f"inbox:o:{made.id}", "inbox:p:-1",
                 f"inbox:o:{made.id}:0:extra", "inbox:p:1234567", "inbox:x:1"):
        entries = await stage.act(cast.carol.press(screen, callback_data=data, forge=True))
        assert alert(entries) == STALE, data
        assert not [e for e in entries if e.kind == "edit"], data
    assert (await stored(org_database, made.id)).read_at is None


async def test_inbox_in_a_group_points_to_the_private_chat(stage, cast):
    group = stage.standin.group(-100600, "East team", members=[cast.carol, cast.erin])
    entries = await stage.act(cast.carol.send("/inbox", chat=group))
    assert texts(entries) == ["Please use /inbox in a private chat with me."]


async def test_forged_inbox_press_in_a_group_shows_nothing_there(stage, cast, org_database,
                                                                 clock):
    made = await notify(org_database, clock, "carol", "private matter")
    group = stage.standin.group(-100601, "East team", members=[cast.carol, cast.erin])
    await stage.act(cast.carol.send("/inbox", chat=group))
    pointer = stage.standin.bot_messages(group.id)[-1]
    entries = await stage.act(cast.carol.press(
        pointer, callback_data=f"inbox:o:{made.id}:0", forge=True))
    assert alert(entries) == "Please use /inbox in a private chat with me."
    assert "private matter" not in "\n".join(m.text or "" for m in
                                             stage.standin.bot_messages(group.id))
    assert (await stored(org_database, made.id)).read_at is None


async def test_stranger_forging_an_inbox_press_is_refused(stage, cast, org_database, clock):
    made = await notify(org_database, clock, "carol", "carol only")
    await stage.act(cast.stranger.send("/start"))
    refusal = stage.standin.bot_messages(cast.stranger.id)[-1]
    entries = await stage.act(cast.stranger.press(
        refusal, callback_data=f"inbox:o:{made.id}:0", forge=True))
    assert "only for members" in alert(entries)
    assert (await stored(org_database, made.id)).read_at is None


# --- approval requests: the subject says what may be done ------------------------------------


class _Claims:
    """A stand-in for the expenses module's claims: pending until decided."""

    def __init__(self) -> None:
        self.decided: dict[int, str] = {}

    async def view(self, context, notification) -> SubjectView:
        decision = self.decided.get(notification.subject_id)
        if decision:
            return SubjectView(status=f"✅ {decision}")
        return SubjectView(status="⏳ Waiting for your decision", buttons=[[
            InlineKeyboardButton("Approve", callback_data=f"claim:ok:{notification.subject_id}"),
            InlineKeyboardButton("Reject", callback_data=f"claim:no:{notification.subject_id}"),
        ]])


async def test_approval_request_shows_the_actions_its_subject_allows(
        stage, cast, org_database, clock, monkeypatch):
    claims = _Claims()
    monkeypatch.setitem(subjects.VIEWERS, "test_claim", claims.view)
    await notify(org_database, clock, "erin", "claim 7", kind=NotificationKind.APPROVAL_REQUEST,
                 subject_type="test_claim", subject_id=7)
    await stage.act(cast.erin.send("/inbox"))
    screen = inbox_screen(stage, cast.erin)
    await stage.act(cast.erin.press(screen, item_buttons(screen)[0]))
    opened = now(stage, screen)
    assert opened.text.endswith("⏳ Waiting for your decision")
    assert opened.buttons == [["Approve", "Reject"], ["« Back to inbox"]]
    claims.decided[7] = "Approved by Dana Whitfield"
    await stage.act(cast.erin.press(opened, "« Back to inbox"))
    await stage.act(cast.erin.press(now(stage, screen), item_buttons(now(stage, screen))[0]))
    reopened = now(stage, screen)
    assert reopened.text.endswith("✅ Approved by Dana Whitfield")
    assert reopened.buttons == [["« Back to inbox"]]


async def test_approval_request_of_an_unknown_subject_offers_no_actions(
        stage, cast, org_database, clock):
    await notify(org_database, clock, "erin", "claim 8", kind=NotificationKind.APPROVAL_REQUEST,
                 subject_type="nobody_registered_this", subject_id=8)
    await stage.act(cast.erin.send("/inbox"))
    screen = inbox_screen(stage, cast.erin)
    await stage.act(cast.erin.press(screen, item_buttons(screen)[0]))
    assert now(stage, screen).buttons == [["« Back to inbox"]]


class _Reader:
    timezone = "Asia/Shanghai"
    recipient_name = "Carol Lin"
