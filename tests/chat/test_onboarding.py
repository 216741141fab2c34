"""Onboarding through the real bot: greeting, refusals, invites, help, language."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.tables import MemberRow
from tests.chat.conftest import said, texts


async def member_count(database) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(func.count()).select_from(MemberRow))


REP_MENU = [["📍 Check in", "🗓 Plan", "📝 Log"], ["🧾 Expense", "📅 Calendar", "📥 Inbox"],
            ["❓ Help", "🌐 Language"]]


def reply_keyboard(entries) -> list[list[str]]:
    shown = [e for e in entries if e.by_bot and e.keyboard == "reply"]
    assert shown, "no reply keyboard was shown"
    return shown[-1].buttons


async def test_member_start_greets_by_name_with_main_menu(stage, cast):
    entries = await stage.act(cast.carol.send("/start"))
    assert "Hello, Carol Lin! What would you like to do?" in texts(entries)
    assert reply_keyboard(entries) == REP_MENU


async def test_manager_main_menu_offers_invite(stage, cast):
    entries = await stage.act(cast.erin.send("/start"))
    assert reply_keyboard(entries) == [
        ["📍 Check in", "🗓 Plan", "📝 Log"], ["🧾 Expense", "📅 Calendar", "📥 Inbox"],
        ["👥 Team", "✉️ Invite"], ["❓ Help", "🌐 Language"]]


async def test_stranger_is_refused_politely_and_nothing_is_stored(stage, cast, org_database):
    before = await member_count(org_database)
    entries = await stage.act(cast.stranger.send("/start"))
    assert texts(entries) == [
        "Sorry, this bot is only for members of our sales team. "
        "If you work with us, ask your manager for an invite link."]
    for text in ("/help", "hello", "/invite"):
        again = await stage.act(cast.stranger.send(text))
        assert texts(again) == texts(entries)
    assert await member_count(org_database) == before


async def test_chinese_stranger_is_refused_in_chinese(stage):
    visitor = stage.standin.user(9100, "小明", language_code="zh-hans")
    entries = await stage.act(visitor.send("/start"))
    assert texts(entries) == [
        "抱歉，这个机器人仅供我们销售团队的成员使用。如果你是团队成员，请向你的经理索取邀请链接。"]


async def test_stranger_pressing_a_forged_button_changes_nothing(stage, cast, org_database):
    await stage.act(cast.carol.send("/language"))
    message = stage.standin.bot_messages(cast.carol.id)[-1]
    entries = await stage.act(cast.stranger.press(message, callback_data="lang:zh_Hans",
                                                  forge=True))
    answer = [e for e in entries if e.kind == "callback_answer"]
    assert answer and "only for members" in answer[-1].text
    async with org_database.uow(read_only=True) as uow:
        assert (await uow.members.by_account_id(cast.carol.id)).language == "en"


async def test_help_lists_only_the_commands_a_rep_may_use(stage, cast):
    rep = said(await stage.act(cast.carol.send("/help")))
    assert "/language — Switch between English and 简体中文" in rep
    assert "/invite" not in rep
    manager = said(await stage.act(cast.erin.send("❓ Help")))
    assert "/invite — Invite a new member to your department" in manager


async def test_invite_link_registers_the_new_member(stage, cast, org_database):
    entries = await stage.act(cast.erin.send("/invite"))
    text = said(entries)
    assert "East region" in text
    link = text.rsplit("\n", 1)[-1]
    assert link.startswith(f"https://t.me/{stage.standin.bot_username}?start=")
    joined = await stage.act(cast.nora.send(f"/start {link.partition('?start=')[2]}"))
    assert "Welcome to the team, Nora Quinn! You have joined East region." in texts(joined)
    assert reply_keyboard(joined) == REP_MENU
    async with org_database.uow(read_only=True) as uow:
        nora = await uow.members.by_account_id(cast.nora.id)
        east = await uow.departments.by_key("east")
    assert nora.department_id == east.id and nora.username == "nora_q"


async def test_invite_expiry_is_shown_in_the_team_time_zone(stage, cast, clock):
    # 2026-11-26 02:00 UTC + 7 days = 2026-12-03 10:00 in Asia/Shanghai.
    text = said(await stage.act(cast.erin.send("/invite")))
    assert "expires on 2026-12-03 10:00" in text


async def test_used_expired_and_forged_invites_are_refused(stage, cast, org_database, clock):
    link = said(await stage.act(cast.erin.send("/invite"))).rsplit("\n", 1)[-1]
    token = link.partition("?start=")[2]
    await stage.act(cast.nora.send(f"/start {token}"))
    before = await member_count(org_database)
    used = await stage.act(cast.stranger.send(f"/start {token}"))
    assert texts(used) == [
        "This invite link has already been used. Please ask your manager for a new one."]
    fresh = said(await stage.act(cast.erin.send("/invite"))).rsplit("?start=", 1)[-1]
    clock.advance(days=8)
    expired = await stage.act(cast.stranger.send(f"/start {fresh}"))
    assert texts(expired) == [
        "This invite link has expired. Please ask your manager for a new one."]
    forged = await stage.act(cast.stranger.send("/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    assert texts(forged) == [
        "This invite link is not valid. Please ask your manager for a new one."]
    assert await member_count(org_database) == before


async def test_rep_cannot_invite(stage, cast):
    entries = await stage.act(cast.carol.send("/invite"))
    assert texts(entries) == ["Only managers and admins can invite new members."]


async def test_switching_language_changes_every_later_answer(stage, cast, org_database):
    await stage.act(cast.carol.send("🌐 Language"))
    picker = stage.standin.bot_messages(cast.carol.id)[-1]
    assert picker.buttons == [["✓ English", "简体中文"]]
    entries = await stage.act(cast.carol.press(picker, "简体中文"))
    assert "语言：简体中文" in texts(entries)
    assert "从现在起我会用简体中文和你交流。" in texts(entries)
    assert reply_keyboard(entries) == [
        ["📍 签到", "🗓 计划", "📝 日志"], ["🧾 报销", "📅 日历", "📥 消息中心"],
        ["❓ 帮助", "🌐 语言"]]
    assert any(e.kind == "callback_answer" for e in entries)
    help_text = said(await stage.act(cast.carol.send("❓ 帮助")))
    assert help_text.startswith("我可以帮你做这些：")
    async with org_database.uow(read_only=True) as uow:
        assert (await uow.members.by_account_id(cast.carol.id)).language == "zh_Hans"


async def test_forged_language_button_changes_nothing(stage, cast, org_database):
    await stage.act(cast.carol.send("/language"))
    picker = stage.standin.bot_messages(cast.carol.id)[-1]
    entries = await stage.act(cast.carol.press(picker, callback_data="lang:fr", forge=True))
    answers = [e for e in entries if e.kind == "callback_answer"]
    assert answers[-1].text == "That language is not available."
    async with org_database.uow(read_only=True) as uow:
        assert (await uow.members.by_account_id(cast.carol.id)).language == "en"


async def test_chinese_member_is_answered_in_chinese(stage, cast):
    entries = await stage.act(cast.li.send("/start"))
    assert "你好，李伟！今天要做什么？" in texts(entries)


async def test_private_only_command_in_a_group_points_to_the_private_chat(stage, cast):
    group = stage.standin.group(-100500, "East team", members=[cast.carol, cast.erin])
    entries = await stage.act(cast.erin.send("/invite", chat=group))
    assert texts(entries) == ["Please use /invite in a private chat with me."]
    inline = [e for e in entries if e.keyboard == "inline"]
    assert inline[-1].buttons == [["Open a private chat"]]


async def test_stranger_chatter_in_a_group_is_ignored(stage, cast):
    stage.standin.privacy_mode = False  # the bot sees every group message
    group = stage.standin.group(-100501, "Mixed", members=[cast.carol, cast.stranger])
    entries = await stage.act(cast.stranger.send("good morning all", chat=group))
    assert texts(entries) == []
    refused = await stage.act(cast.stranger.send("/help", chat=group))
    assert texts(refused) == [
        "Sorry, this bot is only for members of our sales team. "
        "If you work with us, ask your manager for an invite link."]


async def test_unknown_command_says_where_the_list_is(stage, cast):
    entries = await stage.act(cast.carol.send("/teleport"))
    assert texts(entries) == [
        "I don't know the command /teleport. Send /help to see what I can do."]


async def test_stray_text_points_to_the_menu(stage, cast):
    entries = await stage.act(cast.carol.send("what now?"))
    assert texts(entries) == [
        "I did not understand that. Please use the menu buttons below, or /help."]
