"""Opening the Mini App from the chat: "Open dashboard" under the screens it shows more of,
the menu button, the link from a team group, and nothing of it without a public address."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, WebAppInfo
from telegram.error import BadRequest

from bootstrap import build_services
from bot.dashboard import DASHBOARD
from bot.demo import Cast
from bot.org_file import parse_org_file
from bot.stage import Stage
from standin import BotApiStandIn
from tests.chat.conftest import EAST_CHAT, bind_east, last, texts
from web.config import WebConfig

APP = "https://crm.example.com/app/"
OPEN = "📊 Open dashboard"
DEFAULT = {"type": "default"}
MENU = {"type": "web_app", "text": "Dashboard", "web_app": {"url": APP}}
GROUP_LINK = "https://t.me/crmbot_demo_bot?start=dashboard"
NOT_A_MEMBER = ("Sorry, this bot is only for members of our sales team. "
                "If you work with us, ask your manager for an invite link.")


@pytest.fixture
def config_sections() -> dict:
    return {"web": {"public_url": APP}}


async def published(stage) -> None:
    """Until the menu buttons the bot sets when it starts are all set."""
    await stage.application.bot_data[DASHBOARD].published()


def opens_no_dashboard(message) -> bool:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return not any("web_app" in button or "start=dashboard" in button.get("url", "")
                   for row in rows for button in row)


# Under the screens -----------------------------------------------------------------------

async def test_a_managers_team_stats_and_pipeline_open_their_tabs(stage, cast):
    await stage.act(cast.erin.send("/team"))
    team = last(stage, cast.erin)
    assert team.text.startswith("👥 Your team today")
    assert team.buttons[-1] == [OPEN]
    assert team.web_app_url(OPEN) == APP + "?view=today"

    await stage.act(cast.erin.send("/stats"))
    stats = last(stage, cast.erin)
    assert stats.text.startswith("📊 Expenses 2026-11")
    assert stats.web_app_url(OPEN) == APP + "?view=budgets"
    # Another period: the table is edited in place and keeps the button.
    await stage.act(cast.erin.press(stats, "Last month"))
    edited = last(stage, cast.erin)
    assert edited.edited and edited.text.startswith("📊 Expenses 2026-10")
    assert edited.web_app_url(OPEN) == APP + "?view=budgets"

    await stage.act(cast.erin.send("/pipeline"))
    pipeline = next(m for m in stage.standin.bot_messages(cast.erin.id)
                    if (m.text or "").startswith("📊 Pipeline"))
    assert pipeline.buttons == [[OPEN]]
    assert pipeline.web_app_url(OPEN) == APP + "?view=pipeline"


async def test_finance_stats_open_the_budgets(stage, cast):
    await stage.act(cast.fiona.send("/stats"))
    assert last(stage, cast.fiona).web_app_url(OPEN) == APP + "?view=budgets"


async def test_a_reps_day_and_claims_open_her_tabs(stage, cast):
    await stage.act(cast.carol.send("/calendar"))
    month = last(stage, cast.carol)
    assert month.text.startswith("📅 My schedule — Nov 2026")
    assert month.buttons[-1] == [OPEN]
    assert month.web_app_url(OPEN) == APP + "?view=mine"
    await stage.act(cast.carol.press(month, "[26]"))
    day = last(stage, cast.carol)
    assert day.text.startswith("📅 My day — Thu 26 Nov")
    assert day.buttons[-2:] == [["« Month"], [OPEN]]
    assert day.web_app_url(OPEN) == APP + "?view=mine"

    await stage.act(cast.carol.send("/claims"))
    claims = last(stage, cast.carol)
    assert claims.text == "You have no expense claims yet. Send /expense to file one."
    assert claims.web_app_url(OPEN) == APP + "?view=claims"


async def test_someone_elses_calendar_from_the_team_view_carries_no_button(stage, cast):
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "Carol Lin"))
    month = last(stage, cast.erin)
    assert month.text.startswith("📅 Carol Lin — Nov 2026")
    assert month.buttons[-1] == ["« Team"]
    assert opens_no_dashboard(month)


async def test_li_sees_the_button_in_chinese(stage, cast):
    await stage.act(cast.li.send("/calendar"))
    assert last(stage, cast.li).web_app_url("📊 打开管理面板") == APP + "?view=mine"
    await stage.act(cast.li.send("/start dashboard"))
    assert last(stage, cast.li).text == "点击下方按钮打开你的管理面板。"


# The menu button ---------------------------------------------------------------------------

@pytest.fixture
async def stage(org_database, config, clock):
    """The bot started after everyone has a private chat with it, as in a running team."""
    async with BotApiStandIn() as standin:
        Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin) as running:
            yield running


async def test_managers_finance_and_admins_get_the_menu_button_when_the_bot_starts(stage,
                                                                                     cast):
    await published(stage)
    for person in (cast.erin, cast.dana, cast.fiona):
        assert stage.standin.menu_button(person) == MENU
    for rep in (cast.carol, cast.li, cast.sam, cast.stranger):
        assert stage.standin.menu_button(rep) == DEFAULT
    # Walt never opened a chat with the bot: Telegram refused his, the others went on; the
    # reps keep the default, which takes no call.
    assert stage.standin.stats.requests["setChatMenuButton"] == 4


async def test_start_sets_the_menu_button_in_the_members_language(stage, cast):
    await published(stage)
    # Walt had no chat with the bot when it started: his /start sets his button.
    walt = stage.standin.user(1003, "Walt", last_name="Moreno", language_code="en")
    assert stage.standin.menu_button(walt) == DEFAULT
    await stage.act(walt.send("/start"))
    assert stage.standin.menu_button(walt) == MENU
    await stage.act(cast.erin.send("/language"))
    await stage.act(cast.erin.press(last(stage, cast.erin), "简体中文"))
    assert stage.standin.menu_button(cast.erin) == {**MENU, "text": "管理面板"}
    await stage.act(cast.carol.send("/start"))
    assert stage.standin.menu_button(cast.carol) == DEFAULT


async def test_a_member_who_lost_the_role_gets_the_default_back_at_the_next_start(
        org_database, config, clock, org_file):
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await published(stage)
            assert standin.menu_button(cast.erin) == MENU
        # Erin hands East over to Dana and sells again.
        for department in org_file["departments"]:
            if department["key"] == "east":
                department["manager"] = "dana"
        for member in org_file["members"]:
            if member["key"] == "erin":
                member["roles"] = ["rep"]
        await build_services(config, org_database, clock).org.import_org(
            parse_org_file(org_file))
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await published(stage)
            assert standin.menu_button(cast.erin) == DEFAULT
            assert standin.menu_button(cast.dana) == MENU


async def test_a_restart_sets_again_only_the_menu_buttons_that_changed(
        org_database, config, clock, org_file):
    """What was set is kept with the member's chat: a restart (or a takeover) of a bot for
    thousands of members does not set every button again."""
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await published(stage)
        # Were Erin's set again, it would be back; Fiona's text changes with her language.
        standin.world.menu_buttons.pop(cast.erin.id)
        standin.world.menu_buttons.pop(cast.fiona.id)
        for member in org_file["members"]:
            if member["key"] == "fiona":
                member["language"] = "zh_Hans"
        await build_services(config, org_database, clock).org.import_org(
            parse_org_file(org_file))
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await published(stage)
            assert standin.menu_button(cast.erin) == DEFAULT
            assert standin.menu_button(cast.fiona) == {**MENU, "text": "管理面板"}
            assert standin.menu_button(cast.dana) == MENU


async def test_without_the_public_url_the_menu_buttons_set_before_go_back(
        org_database, config, clock):
    async with BotApiStandIn() as standin:
        cast = Cast(standin)
        async with Stage(config, org_database, clock=clock, standin=standin) as stage:
            await published(stage)
            assert standin.menu_button(cast.erin) == MENU
        offline = config.model_copy(update={"web": WebConfig()})
        async with Stage(offline, org_database, clock=clock, standin=standin) as stage:
            await published(stage)
            for person in (cast.erin, cast.dana, cast.fiona, cast.carol):
                assert standin.menu_button(person) == DEFAULT


# From a team group -------------------------------------------------------------------------

async def test_a_team_group_gets_a_link_into_the_private_chat(stage, cast):
    group = await bind_east(stage, cast)
    entries = await stage.act(cast.erin.send("/team", chat=group))
    assert texts(entries) == ["Please use /team in a private chat with me."]
    answer = stage.standin.bot_messages(EAST_CHAT)[-1]
    assert answer.buttons == [["Open a private chat"], [OPEN]]
    assert answer.button(OPEN)["url"] == GROUP_LINK
    assert "web_app" not in answer.button(OPEN)

    await stage.act(cast.carol.send("/calendar", chat=group))
    assert stage.standin.bot_messages(EAST_CHAT)[-1].button(OPEN)["url"] == GROUP_LINK
    # Commands whose screens carry no button point to the private chat only.
    await stage.act(cast.carol.send("/plan", chat=group))
    assert stage.standin.bot_messages(EAST_CHAT)[-1].buttons == [["Open a private chat"]]


async def test_start_dashboard_answers_a_member_with_the_button(stage, cast):
    entries = await stage.act(cast.carol.send("/start dashboard"))
    assert texts(entries) == ["Hello, Carol Lin! What would you like to do?",
                              "Your dashboard opens with the button below."]
    message = last(stage, cast.carol)
    assert message.buttons == [[OPEN]]
    assert message.web_app_url(OPEN) == APP


async def test_start_dashboard_refuses_a_stranger(stage, cast):
    entries = await stage.act(cast.stranger.send("/start dashboard"))
    assert texts(entries) == [NOT_A_MEMBER]
    assert opens_no_dashboard(last(stage, cast.stranger))
    assert stage.standin.menu_button(cast.stranger) == DEFAULT


# Without a public address ------------------------------------------------------------------

@pytest.mark.parametrize("config_sections", [{}])
async def test_without_a_public_url_nothing_offers_the_dashboard(stage, cast):
    await published(stage)
    for person, command in ((cast.erin, "/team"), (cast.erin, "/stats"),
                            (cast.erin, "/pipeline"), (cast.carol, "/calendar"),
                            (cast.carol, "/claims")):
        entries = await stage.act(person.send(command))
        assert texts(entries), command
    shown = [*stage.standin.bot_messages(cast.erin), *stage.standin.bot_messages(cast.carol)]
    assert len(shown) == 5 and all(opens_no_dashboard(m) for m in shown)

    entries = await stage.act(cast.erin.send("/start dashboard"))
    assert texts(entries) == ["Hello, Erin Zhao! What would you like to do?"]

    group = await bind_east(stage, cast)
    await stage.act(cast.erin.send("/team", chat=group))
    assert stage.standin.bot_messages(EAST_CHAT)[-1].buttons == [["Open a private chat"]]
    assert stage.standin.stats.requests["setChatMenuButton"] == 0
    assert stage.standin.menu_button(cast.erin) == DEFAULT


# The stand-in refuses what Telegram refuses ----------------------------------------------------

async def test_web_app_buttons_go_to_private_chats_only_and_over_https(stage, cast):
    await bind_east(stage, cast)
    bot = stage.application.bot
    app_button = InlineKeyboardMarkup.from_button(
        InlineKeyboardButton(OPEN, web_app=WebAppInfo(APP)))
    with pytest.raises(BadRequest, match=r"(?i)^button_type_invalid$"):
        await bot.send_message(EAST_CHAT, "Dashboard", reply_markup=app_button)
    plain = InlineKeyboardMarkup.from_button(
        InlineKeyboardButton(OPEN, web_app=WebAppInfo("http://crm.example.com/app/")))
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed$"):
        await bot.send_message(cast.erin.id, "Dashboard", reply_markup=plain)
    sent = await bot.send_message(cast.erin.id, "Dashboard", reply_markup=app_button)
    assert last(stage, cast.erin).message_id == sent.message_id
    assert "[📊 Open dashboard ▣ https://crm.example.com/app/]" in stage.standin.render(
        cast.erin)


async def test_menu_buttons_are_checked_like_telegram(stage, cast):
    await bind_east(stage, cast)
    bot = stage.application.bot
    await published(stage)
    with pytest.raises(BadRequest, match=r"(?i)^invalid chat_id specified$"):
        await bot.set_chat_menu_button(EAST_CHAT, MenuButtonWebApp("Dashboard",
                                                                   WebAppInfo(APP)))
    with pytest.raises(BadRequest, match=r"(?i)^button_text_invalid$"):
        await bot.set_chat_menu_button(cast.carol.id, MenuButtonWebApp("x" * 65,
                                                                       WebAppInfo(APP)))
    with pytest.raises(BadRequest, match=r"(?i)only https links are allowed$"):
        await bot.set_chat_menu_button(cast.carol.id, MenuButtonWebApp(
            "Dashboard", WebAppInfo("http://crm.example.com/app/")))
    assert stage.standin.menu_button(cast.carol) == DEFAULT
    assert (await bot.get_chat_menu_button(cast.erin.id)).web_app.url == APP
    await bot.set_chat_menu_button(cast.erin.id)  # the default: the chat's own is gone
    assert stage.standin.menu_button(cast.erin) == DEFAULT
    assert (await bot.get_chat_menu_button(cast.erin.id)).type == "default"
