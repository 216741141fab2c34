"""Team group chats through the real bot: binding, unbinding, and the bot added or removed."""

from __future__ import annotations

import pytest

from tests.chat.conftest import texts
from tests.example_org import department_id, make_dana_head_finance

BOUND_EAST = ("✅ This group is now the team chat of East region: it will receive the "
              "department's reminders and digests. /unbindgroup undoes it.")
NOT_MANAGER = "Only the manager of a department can bind or unbind its team group."
EAST_TEAM = -100700


@pytest.fixture
def dana(stage):
    return stage.standin.user(1001, "Dana", last_name="Whitfield", username="dana_w")


@pytest.fixture
def walt(stage):
    return stage.standin.user(1003, "Walt", last_name="Moreno")


@pytest.fixture
def east_team(stage, cast):
    return stage.standin.group(EAST_TEAM, "East team", members=[cast.erin, cast.carol, cast.li])


async def binding(database, chat_id: int):
    """(department key, active) of the chat's binding, or None."""
    async with database.uow(read_only=True) as uow:
        group = await uow.groups.by_chat(chat_id)
        if group is None:
            return None
        department = next(d for d in await uow.departments.all() if d.id == group.department_id)
        return department.key, group.active


def alert(entries) -> str:
    answered = [e for e in entries if e.kind == "callback_answer"]
    assert len(answered) == 1 and answered[0].raw.get("show_alert"), answered
    return answered[0].raw["text"]


async def test_manager_binds_the_group_to_their_department(stage, cast, east_team, org_database):
    entries = await stage.act(cast.erin.send("/bindgroup", chat=east_team))
    assert texts(entries) == [BOUND_EAST]
    assert await binding(org_database, EAST_TEAM) == ("east", True)


async def test_bindgroup_by_a_rep_is_refused(stage, cast, east_team, org_database):
    entries = await stage.act(cast.carol.send("/bindgroup", chat=east_team))
    assert texts(entries) == [NOT_MANAGER]
    assert await binding(org_database, EAST_TEAM) is None


async def test_bindgroup_in_a_private_chat_is_refused(stage, cast, org_database):
    entries = await stage.act(cast.erin.send("/bindgroup"))
    assert texts(entries) == [
        "Send /bindgroup in your team's group chat, after adding me to that group."]
    async with org_database.uow(read_only=True) as uow:
        assert await uow.groups.active() == []


async def test_bindgroup_when_the_bot_is_not_a_member_is_refused_privately(
        stage, cast, east_team, org_database):
    async def send_then_lose_the_bot():
        # The bot is removed after the command was sent, before it is handled.
        update = await cast.erin.send("/bindgroup", chat=east_team)
        east_team.chat.bot_status = "left"
        return update

    entries = await stage.act(send_then_lose_the_bot())
    private = [e for e in entries if e.by_bot and e.chat_id == cast.erin.id]
    assert [e.text for e in private] == [
        "I am not a member of that group, so I cannot post there. "
        "Add me to the group, then send /bindgroup there again."]
    assert await binding(org_database, EAST_TEAM) is None


async def test_manager_heading_several_departments_picks_one(stage, dana, org_database):
    await make_dana_head_finance(org_database)
    group = stage.standin.group(-100701, "Head office", members=[dana])
    entries = await stage.act(dana.send("/bindgroup", chat=group))
    assert texts(entries) == ["Dana Whitfield, which department's team chat is this group?"]
    choice = stage.standin.bot_messages(group.id)[-1]
    assert sorted(choice.buttons) == [["Finance"], ["Sales"]]
    pressed = await stage.act(dana.press(choice, "Finance"))
    assert [e.text for e in pressed if e.kind == "edit"] == [
        "✅ This group is now the team chat of Finance: it will receive the department's "
        "reminders and digests. /unbindgroup undoes it."]
    assert any(e.kind == "callback_answer" for e in pressed)
    assert await binding(org_database, group.id) == ("finance", True)


async def test_manager_of_another_department_pressing_the_choice_changes_nothing(
        stage, cast, dana, org_database):
    await make_dana_head_finance(org_database)
    group = stage.standin.group(-100702, "Head office", members=[dana, cast.erin])
    await stage.act(dana.send("/bindgroup", chat=group))
    choice = stage.standin.bot_messages(group.id)[-1]
    entries = await stage.act(cast.erin.press(choice, "Finance"))
    assert alert(entries) == "Only the person who sent /bindgroup can choose here."
    assert not [e for e in entries if e.kind == "edit"]
    assert stage.standin.bot_messages(group.id)[-1].buttons == choice.buttons
    assert await binding(org_database, group.id) is None


async def test_forged_choice_of_a_department_the_presser_does_not_manage(
        stage, cast, dana, org_database):
    await make_dana_head_finance(org_database)
    group = stage.standin.group(-100703, "Head office", members=[dana, cast.erin])
    await stage.act(dana.send("/bindgroup", chat=group))
    choice = stage.standin.bot_messages(group.id)[-1]
    finance = await department_id(org_database, "finance")
    entries = await stage.act(cast.erin.press(
        choice, callback_data=f"grp:bind:{finance}:{cast.erin.id}", forge=True))
    assert alert(entries) == NOT_MANAGER
    assert await binding(org_database, group.id) is None


async def test_malformed_group_button_data_is_answered(stage, cast, east_team, org_database):
    await stage.act(cast.carol.send("/bindgroup", chat=east_team))
    message = stage.standin.bot_messages(east_team.id)[-1]
    for data in ("grp:", "grp:bind:east:1002", "grp:bind:1", "grp:bind:1:1002:9"):
        entries = await stage.act(cast.erin.press(message, callback_data=data, forge=True))
        assert alert(entries) == "That button is no longer valid.", data
    assert await binding(org_database, EAST_TEAM) is None


async def test_forged_group_choice_in_a_private_chat_is_refused(stage, cast, org_database):
    await stage.act(cast.erin.send("/help"))
    message = stage.standin.bot_messages(cast.erin.id)[-1]
    east = await department_id(org_database, "east")
    entries = await stage.act(cast.erin.press(
        message, callback_data=f"grp:bind:{east}:{cast.erin.id}", forge=True))
    assert alert(entries) == "That button is no longer valid."
    async with org_database.uow(read_only=True) as uow:
        assert await uow.groups.active() == []


async def test_another_departments_group_cannot_be_taken_over(stage, cast, walt, org_database):
    group = stage.standin.group(-100704, "East team", members=[cast.erin, walt])
    await stage.act(cast.erin.send("/bindgroup", chat=group))
    entries = await stage.act(walt.send("/bindgroup", chat=group))
    assert texts(entries) == [
        "This group is already the team chat of another department. "
        "One of its managers has to send /unbindgroup first."]
    assert await binding(org_database, group.id) == ("east", True)


async def test_unbindgroup_by_a_rep_is_refused(stage, cast, east_team, org_database):
    await stage.act(cast.erin.send("/bindgroup", chat=east_team))
    entries = await stage.act(cast.carol.send("/unbindgroup", chat=east_team))
    assert texts(entries) == [NOT_MANAGER]
    assert await binding(org_database, EAST_TEAM) == ("east", True)


async def test_manager_unbinds_the_group(stage, cast, east_team, org_database):
    await stage.act(cast.erin.send("/bindgroup", chat=east_team))
    entries = await stage.act(cast.erin.send("/unbindgroup", chat=east_team))
    assert texts(entries) == ["Done: this group no longer receives reminders or digests. "
                              "A manager can send /bindgroup to bind it again."]
    assert await binding(org_database, EAST_TEAM) == ("east", False)
    again = await stage.act(cast.erin.send("/unbindgroup", chat=east_team))
    assert texts(again) == ["This group is not bound to any department."]


async def test_unbindgroup_in_a_private_chat_points_to_the_group(stage, cast):
    entries = await stage.act(cast.erin.send("/unbindgroup"))
    assert texts(entries) == [
        "Send /unbindgroup in the group chat that should stop receiving messages."]


async def test_bot_removed_from_a_bound_group_unbinds_it_and_tells_the_manager(
        stage, cast, east_team, org_database):
    await stage.act(cast.erin.send("/bindgroup", chat=east_team))
    await stage.act(east_team.remove_bot(by=cast.carol))
    assert await binding(org_database, EAST_TEAM) == ("east", False)
    await stage.act(cast.erin.send("/inbox"))
    screen = next(m for m in reversed(stage.standin.bot_messages(cast.erin.id))
                  if m.text and m.text.startswith("📥 "))
    assert screen.buttons[0][0] == "● Removed from East team · 11-26 10:00"
    await stage.act(cast.erin.press(screen, screen.buttons[0][0]))
    opened = next(m for m in stage.standin.bot_messages(cast.erin.id)
                  if m.message_id == screen.message_id)
    assert "I was removed from the group East team" in opened.text


async def test_bot_removed_from_an_unbound_group_tells_nobody(stage, cast, east_team,
                                                              org_database, clock):
    await stage.act(east_team.remove_bot(by=cast.carol))
    async with org_database.uow(read_only=True) as uow:
        erin = await uow.members.by_key("erin")
        assert await uow.notifications.inbox_counts(erin.id, clock.now()) == (0, 0)


async def test_bot_added_to_a_group_explains_bindgroup(stage, cast):
    group = stage.standin.group(-100705, "New team", members=[cast.erin, cast.carol],
                                bot_is_member=False)
    entries = await stage.act(group.add_bot(by=cast.carol))
    assert texts(entries) == [
        "Hello! I am the sales team's CRM bot. A department's manager can send /bindgroup "
        "here, and this group will receive the team's reminders and digests."]


async def test_bot_added_by_a_chinese_member_says_hello_in_chinese(stage, cast):
    group = stage.standin.group(-100706, "华东团队", members=[cast.li], bot_is_member=False)
    entries = await stage.act(group.add_bot(by=cast.li))
    assert texts(entries) == [
        "大家好！我是销售团队的 CRM 机器人。部门经理在这里发送 /bindgroup，"
        "这个群就会收到团队的提醒和汇总。"]


async def test_bot_added_by_a_stranger_stays_quiet(stage, cast):
    group = stage.standin.group(-100707, "Elsewhere", members=[cast.stranger],
                                bot_is_member=False)
    entries = await stage.act(group.add_bot(by=cast.stranger))
    assert texts(entries) == []


async def test_group_commands_are_listed_for_managers_only(stage, cast):
    manager = "\n".join(texts(await stage.act(cast.erin.send("/help"))))
    assert "/bindgroup — Send your department's reminders and digests to this group" in manager
    rep = "\n".join(texts(await stage.act(cast.carol.send("/help"))))
    assert "/bindgroup" not in rep and "/inbox — " in rep
