"""The inbox, team groups and reminder settings against a real database (both backends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.inbox.notifications import (
    DeliveryState,
    NewNotification,
    Notification,
    NotificationKind,
    QuietHours,
)
from core.inbox.notifications import GroupService, InboxService, parse_quiet_hours, publish
from core.org.membership import OrgService
from tests.example_org import DEFAULTS, department_id, import_example, make_dana_head_finance

CAROL, ERIN, DANA, WALT, LI = 2001, 1002, 1001, 1003, 2002
GROUP = -100777


@pytest.fixture
async def org(database, clock) -> OrgService:
    await import_example(database, clock)
    return OrgService(database.uow, clock, DEFAULTS)


@pytest.fixture
def inbox(org, database, clock) -> InboxService:
    return InboxService(database.uow, clock)


@pytest.fixture
def groups(org, database, clock) -> GroupService:
    return GroupService(database.uow, clock, DEFAULTS)


async def notify(database, clock, member: str, key: str,
                 kind: NotificationKind = NotificationKind.SYSTEM) -> Notification | None:
    async with database.uow() as uow:
        recipient = await uow.members.by_key(member)
        created = await publish(uow, NewNotification(
            key=key, kind=kind, member_id=recipient.id, payload={"text": key}),
            now=clock.now(), settings=await uow.organization.get())
        await uow.commit()
    return created


# --- the inbox -------------------------------------------------------------------------------


async def test_inbox_lists_unread_first_newest_first_five_to_a_page(inbox, database, clock):
    created = []
    for n in range(7):
        created.append(await notify(database, clock, "carol", f"n{n}"))
        clock.advance(minutes=1)
    await inbox.open(CAROL, created[6].id)  # the newest, now read: it goes last
    first = await inbox.page(CAROL, 0)
    assert (first.number, first.pages, first.total, first.unread) == (0, 2, 7, 6)
    assert [n.key for n in first.items] == ["n5", "n4", "n3", "n2", "n1"]
    second = await inbox.page(CAROL, 1)
    assert [n.key for n in second.items] == ["n0", "n6"]


async def test_inbox_page_far_out_of_range_shows_the_last_page(inbox, database, clock):
    for n in range(6):
        await notify(database, clock, "carol", f"n{n}")
    page = await inbox.page(CAROL, 10**6)
    assert page.number == 1 and len(page.items) == 1
    assert (await inbox.page(CAROL, -3)).number == 0


async def test_empty_inbox_has_one_empty_page(inbox):
    page = await inbox.page(CAROL, 4)
    assert (page.number, page.pages, page.total, page.items) == (0, 1, 0, [])


async def test_opening_marks_read_once(inbox, database, clock):
    created = await notify(database, clock, "carol", "once")
    assert await inbox.unread(CAROL) == 1
    first = await inbox.open(CAROL, created.id)
    assert first.read_at == clock.now()
    opened_at = clock.now()
    clock.advance(hours=1)
    again = await inbox.open(CAROL, created.id)
    assert again.read_at == opened_at
    assert await inbox.unread(CAROL) == 0


async def test_member_cannot_open_another_members_notification(inbox, database, clock):
    carols = await notify(database, clock, "carol", "carols")
    with pytest.raises(NotFound) as refused:
        await inbox.open(ERIN, carols.id)
    assert refused.value.code == "notification_not_found"
    assert await inbox.unread(CAROL) == 1


async def test_opening_a_notification_that_does_not_exist_is_refused(inbox):
    with pytest.raises(NotFound):
        await inbox.open(CAROL, 987654)


# --- team groups -----------------------------------------------------------------------------


async def test_manager_binds_a_group_to_their_department(groups, database):
    binding = await groups.bind(ERIN, GROUP, "East team", bot_is_member=True)
    assert binding.department_name == "East region" and binding.choices == []
    bound = await groups.bound(GROUP)
    assert bound.department_id == await department_id(database, "east") and bound.active


async def test_rep_cannot_bind_a_group(groups):
    with pytest.raises(NotAllowed) as refused:
        await groups.bind(CAROL, GROUP, "East team", bot_is_member=True)
    assert refused.value.code == "bind_not_manager"
    assert await groups.bound(GROUP) is None


async def test_binding_is_refused_when_the_bot_is_not_in_the_group(groups):
    with pytest.raises(NotAllowed) as refused:
        await groups.bind(ERIN, GROUP, "East team", bot_is_member=False)
    assert refused.value.code == "bot_not_in_group"
    assert await groups.bound(GROUP) is None


async def test_manager_heading_two_departments_is_asked_which(groups, database):
    await make_dana_head_finance(database)
    binding = await groups.bind(DANA, GROUP, "Mixed", bot_is_member=True)
    assert binding.group is None
    assert sorted(name for _, name in binding.choices) == ["Finance", "Sales"]
    finance = await department_id(database, "finance")
    chosen = await groups.bind(DANA, GROUP, "Mixed", bot_is_member=True, department_id=finance)
    assert chosen.department_name == "Finance"
    assert (await groups.bound(GROUP)).department_id == finance


async def test_manager_cannot_choose_a_department_they_do_not_manage(groups, database):
    await make_dana_head_finance(database)
    finance = await department_id(database, "finance")
    with pytest.raises(NotAllowed):
        await groups.bind(ERIN, GROUP, "Mixed", bot_is_member=True, department_id=finance)
    assert await groups.bound(GROUP) is None


async def test_another_departments_group_cannot_be_taken_over(groups, database):
    await groups.bind(ERIN, GROUP, "East team", bot_is_member=True)
    with pytest.raises(NotAllowed) as refused:
        await groups.bind(WALT, GROUP, "East team", bot_is_member=True)
    assert refused.value.code == "group_bound_elsewhere"
    assert (await groups.bound(GROUP)).department_id == await department_id(database, "east")


async def test_rep_cannot_unbind_a_group(groups):
    await groups.bind(ERIN, GROUP, "East team", bot_is_member=True)
    with pytest.raises(NotAllowed):
        await groups.unbind(CAROL, GROUP)
    assert await groups.bound(GROUP) is not None


async def test_manager_unbinds_a_group(groups):
    await groups.bind(ERIN, GROUP, "East team", bot_is_member=True)
    await groups.unbind(ERIN, GROUP)
    assert await groups.bound(GROUP) is None
    with pytest.raises(NotFound):
        await groups.unbind(ERIN, GROUP)


async def test_bot_removed_from_a_bound_group_unbinds_it_and_tells_the_manager(
        groups, inbox, database, clock):
    binding = await groups.bind(ERIN, GROUP, "East team", bot_is_member=True)
    async with database.uow() as uow:
        waiting = await publish(uow, NewNotification(
            key="digest", kind=NotificationKind.DIGEST, group_id=binding.group.id,
            payload={}), now=clock.now(), settings=await uow.organization.get())
        await uow.commit()
    assert await groups.bot_removed(GROUP) == 1  # Erin bound it and manages East
    assert await groups.bound(GROUP) is None
    page = await inbox.page(ERIN)
    assert [n.payload for n in page.items] == [{"event": "group_unbound_removed",
                                                "group": "East team"}]
    async with database.uow(read_only=True) as uow:
        assert (await uow.notifications.get(waiting.id)).state == DeliveryState.SKIPPED
    assert await groups.bot_removed(GROUP) == 0  # told once


async def test_bot_removed_from_an_unbound_group_tells_nobody(groups):
    assert await groups.bot_removed(GROUP) == 0


# --- reminder settings -----------------------------------------------------------------------


async def test_paused_reminders_are_not_created_but_requests_are(org, database, clock):
    assert (await org.pause_reminders(CAROL, True)).reminders_paused
    assert await notify(database, clock, "carol", "plan", NotificationKind.PLAN_REMINDER) is None
    assert await notify(database, clock, "carol", "ask",
                        NotificationKind.APPROVAL_REQUEST) is not None
    assert not (await org.pause_reminders(CAROL, False)).reminders_paused
    assert await notify(database, clock, "carol", "plan", NotificationKind.PLAN_REMINDER)


async def test_quiet_hours_delay_reminders_but_not_requests(org, database, clock):
    # 02:00 UTC is 10:00 in Asia/Shanghai: inside 09:00-12:00, which ends at 04:00 UTC.
    member = await org.set_quiet_hours(CAROL, "09:00-12:00")
    assert member.quiet_hours == QuietHours(time(9), time(12))
    reminder = await notify(database, clock, "carol", "log", NotificationKind.LOG_REMINDER)
    assert reminder.due_at == datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    request = await notify(database, clock, "carol", "ask", NotificationKind.APPROVAL_REQUEST)
    assert request.due_at == clock.now()
    assert (await org.set_quiet_hours(CAROL, None)).quiet_hours is None
    assert (await org.reminder_settings(CAROL)).quiet_hours is None


@pytest.mark.parametrize("text, code", [
    ("tonight", "quiet_hours_format"),
    ("22:00", "quiet_hours_format"),
    ("25:00-07:00", "quiet_hours_format"),
    ("22:61-07:00", "quiet_hours_format"),
    ("22.00-07.00", "quiet_hours_format"),
    ("22:00-07:00-09:00", "quiet_hours_format"),
    ("22:00-22:00", "quiet_hours_same"),
    ("07:00-06:00", "quiet_hours_too_long"),
])
async def test_bad_quiet_hours_are_refused_and_change_nothing(org, text, code):
    await org.set_quiet_hours(LI, "22:00-07:00")
    with pytest.raises(DomainError) as refused:
        await org.set_quiet_hours(LI, text)
    assert refused.value.code == code
    assert (await org.reminder_settings(LI)).quiet_hours == QuietHours(time(22), time(7))


@pytest.mark.parametrize("text", ["22:00-07:30", "22:00 – 07:30", "22:00~07:30",
                                  "22：00至07：30", "22:00 to 07:30", "22:00到7:30"])
def test_quiet_hours_are_read_as_people_type_them(text):
    assert parse_quiet_hours(text) == QuietHours(time(22), time(7, 30))


async def test_settings_of_someone_who_is_not_a_member_are_refused(org):
    with pytest.raises(NotAllowed):
        await org.pause_reminders(9999, True)



async def test_reminder_held_by_quiet_hours_is_not_in_the_inbox_yet(org, inbox, database,
                                                                     clock):
    async with database.uow() as uow:
        carol = await uow.members.by_account_id(CAROL)
        await uow.members.update(replace(carol, quiet_hours=QuietHours(time(0, 0),
                                                                       time(23, 59))))
        await publish(uow, NewNotification("held", NotificationKind.PLAN_REMINDER, {},
                                           member_id=carol.id),
                      now=clock.now(), settings=DEFAULTS)
        await uow.commit()
    assert (await inbox.page(CAROL)).total == 0 and await inbox.unread(CAROL) == 0
    clock.advance(days=1)
    assert (await inbox.page(CAROL)).total == 1 and await inbox.unread(CAROL) == 1
