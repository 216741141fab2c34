"""The pipeline over the Mini App's JSON: the board, the lists, the card and the goals are the
figures core computes, for whom the chat shows them, and bad input is refused in the member's
language."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from bot.funnel import step_text
from bot.handlers.goals import METRICS, pace_text
from bot.handlers.opportunities import funnel_steps
from bot.i18n import Translator
from bot.texts import REFUSALS
from core.domain.money import format_amount
from core.domain.period import Period
from storage.tables import NotificationRow, OpportunityRow, OpportunityStageRow
from tests.service.test_opportunities import create
from tests.web.conftest import CAROL, DANA, ERIN, FIONA, LI, SAM, WALT
from web.strings import ERRORS
from web.views.pipeline import BAD_PERIOD

EN, ZH = Translator("en"), Translator("zh_Hans")
Q4 = Period.parse("2026-Q4")
NOT_FOUND = EN(REFUSALS["opp_not_found"])


@pytest.fixture
async def deals(services, database, clock) -> dict:
    """East's deals at several stages, one lost and one won this quarter, and one of West's."""
    deals = services.opportunities
    made = {
        "fleet": await create(deals, database, title="Cold-chain fleet", amount="120000"),
        "pilot": await create(deals, database, title="Pilot", amount="40000.50",
                              customer="pudong-medical"),
        "looms": await create(deals, database, account_id=LI, title="Looms", amount="50000",
                              customer="xihu-textiles"),
        "scanners": await create(deals, database, title="Scanners", amount="9999.99",
                                 customer="pudong-medical", close=date(2026, 11, 28)),
        "west": await create(deals, database, account_id=SAM, title="Frozen dumplings",
                             amount="80000", customer="chengdu-foods"),
    }
    clock.advance(days=2)
    await deals.move(CAROL, made["fleet"].id, "proposal")
    await deals.move(LI, made["looms"].id, "won")
    await deals.move(CAROL, made["pilot"].id, "lost", reason="went with a competitor")
    clock.advance(days=3)
    await deals.move(CAROL, made["fleet"].id, "negotiation")
    return {key: opp.id for key, opp in made.items()}


def table(shown: dict) -> list[tuple[str, int, str, str]]:
    return [(s["key"], s["count"], s["amount_text"], s["weighted_text"]) for s in shown["stages"]]


def core_table(view) -> list[tuple[str, int, str, str]]:
    return [(line.stage, line.count, format_amount(line.amount), format_amount(line.weighted))
            for line in view.lines]


async def test_the_board_is_what_core_counts_for_the_manager(web, services, deals):
    answer = await web(ERIN).get("/app/api/pipeline")
    assert answer.status_code == 200
    shown = answer.json()
    view = await services.opportunities.stats(ERIN, Q4)
    assert table(shown) == core_table(view)
    # Counted here from the deals made above too, not only by the code under test.
    assert table(shown) == [
        ("lead", 1, "9,999.99", "1,000.00"), ("qualified", 0, "0.00", "0.00"),
        ("proposal", 0, "0.00", "0.00"), ("negotiation", 1, "120,000.00", "90,000.00"),
        ("won", 1, "50,000.00", "50,000.00"), ("lost", 1, "40,000.50", "0.00")]
    assert [s["name"] for s in shown["stages"]] == [
        "Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert shown["title"] == "Pipeline 2026-Q4" and shown["period"] == "2026-Q4"
    assert shown["scope"] == ("Opportunities of you and your team, in CNY: open ones, and "
                              "those won or lost in 2026-Q4.")
    assert shown["open"] == {"count": 2, "amount_text": "129,999.99",
                             "weighted_text": "91,000.00"}
    assert shown["win_rate"] == {"text": "Win rate: 50.0% (1 won, 1 lost)", "rate": "50.0",
                                 "won": 1, "lost": 1}
    assert [(f["name"], f["text"], f["width"], f["won"]) for f in shown["funnel"]] == [
        (step.label, step_text(step), f["width"], step.won)
        for step, f in zip(funnel_steps(view, EN), shown["funnel"], strict=True)]
    assert [(f["name"], f["width"]) for f in shown["funnel"]] == [
        ("Lead", 8), ("Qualified", 0), ("Proposal", 0), ("Negotiation", 100), ("Won", 41)]
    assert shown["days"] == "Average days per stage: Lead 2.0 · Proposal 3.0"
    assert shown["people"] == [
        {"name": "Carol Lin", "count": 2, "amount_text": "129,999.99",
         "weighted_text": "91,000.00"}]
    assert "Frozen dumplings" not in answer.text
    assert [(p["key"], p["period"], p["current"]) for p in shown["periods"]] == [
        ("this_month", "2026-12", False), ("last_month", "2026-11", False),
        ("this_quarter", "2026-Q4", True), ("this_year", "2026", False)]


async def test_a_period_asked_for_counts_only_what_closed_in_it(web, services, deals):
    shown = (await web(ERIN).get("/app/api/pipeline", params={"period": "2026-Q3"})).json()
    view = await services.opportunities.stats(ERIN, Period.parse("2026-Q3"))
    assert table(shown) == core_table(view)
    assert shown["win_rate"]["text"] == "Win rate: — (0 won, 0 lost)"
    assert shown["win_rate"]["rate"] is None
    assert [s["count"] for s in shown["stages"]] == [1, 0, 0, 1, 0, 0]
    assert not any(p["current"] for p in shown["periods"])


async def test_a_rep_sees_only_their_own_deals(web, services, deals):
    carol = web(CAROL)
    shown = (await carol.get("/app/api/pipeline")).json()
    assert table(shown) == core_table(await services.opportunities.stats(CAROL, Q4))
    assert [s["count"] for s in shown["stages"]] == [1, 0, 0, 1, 0, 1]  # not Li's won looms
    assert shown["people"] == [] and shown["scope"].startswith("Opportunities of yours,")
    listed = (await carol.get("/app/api/opportunities")).json()
    assert {item["title"] for item in listed["items"]} == {"Cold-chain fleet", "Pilot",
                                                          "Scanners"}
    assert all(item["owner"] is None for item in listed["items"])
    for key in ("looms", "west"):
        answer = await carol.get(f"/app/api/opportunities/{deals[key]}")
        assert answer.status_code == 404, key
        assert answer.json() == {"error": "opp_not_found", "message": NOT_FOUND}
        answer = await carol.get(f"/app/api/opportunities/{deals[key]}/photos")
        assert answer.status_code == 404


async def test_another_team_s_deal_is_not_found_and_finance_sees_everyone(web, services, deals):
    walt = web(WALT)
    answer = await walt.get(f"/app/api/opportunities/{deals['fleet']}")
    assert (answer.status_code, answer.json()["message"]) == (404, NOT_FOUND)
    west = (await walt.get("/app/api/opportunities")).json()
    assert [item["title"] for item in west["items"]] == ["Frozen dumplings"]
    fiona = (await web(FIONA).get("/app/api/pipeline")).json()
    assert fiona["scope"].startswith("Opportunities of the whole organisation,")
    assert table(fiona) == core_table(await services.opportunities.stats(FIONA, Q4))
    assert fiona["stages"][0]["count"] == 2  # Sam's dumplings and Carol's scanners
    assert [p["name"] for p in fiona["people"]] == ["Carol Lin", "Sam Okafor"]


async def test_a_stage_lists_its_deals_page_by_page_overdue_first(web, services, database,
                                                                   clock, deals):
    for n in range(9):
        await create(services.opportunities, database, title=f"Forklift {n}",
                     amount=str(1000 + n), close=date(2026, 12, 10 + n))
    erin = web(ERIN)
    first = (await erin.get("/app/api/opportunities", params={"stage": "lead"})).json()
    core = await services.opportunities.listed(ERIN, stage="lead")
    assert first["title"] == "Opportunities in Lead" and first["stage"] == "lead"
    assert (first["total"], first["page"], first["pages"]) == (10, 0, 2)
    assert [item["id"] for item in first["items"]] == [o.id for o in core.items]
    scanners = first["items"][0]
    assert scanners == {"id": deals["scanners"], "title": "Scanners",
                        "customer": "Pudong Medical Supplies", "amount_text": "CNY 9,999.99",
                        "stage": "Lead", "close": "Sat 28 Nov", "overdue": True,
                        "owner": "Carol Lin"}
    assert first["overdue_note"] == "⚠️ past its expected close date and still open."
    second = (await erin.get("/app/api/opportunities",
                             params={"stage": "lead", "page": 1})).json()
    assert [item["title"] for item in second["items"]] == ["Forklift 7", "Forklift 8"]
    assert second["overdue_note"] is None
    everything = (await erin.get("/app/api/opportunities")).json()
    assert everything["title"] == "All opportunities" and everything["total"] == 13
    assert [s["name"] for s in everything["stages"]][:2] == ["Lead", "Qualified"]
    found = (await erin.get("/app/api/opportunities", params={"search": "pudong"})).json()
    assert found["title"] == "Opportunities matching “pudong”"
    assert {item["title"] for item in found["items"]} == {"Pilot", "Scanners"}
    nothing = (await erin.get("/app/api/opportunities", params={"stage": "qualified"})).json()
    assert nothing["items"] == [] and nothing["empty"] == "None found. Send /opp to add one."


async def test_the_card_shows_its_facts_and_pages_through_its_timeline(web, services, clock,
                                                                      deals):
    fleet = deals["fleet"]
    await services.opportunities.edit_amount(CAROL, fleet, "150000.50")
    for n in range(10):
        clock.advance(minutes=5)
        await services.opportunities.add_note(ERIN if n % 2 else CAROL, fleet, f"note {n}")
    erin = web(ERIN)
    card = (await erin.get(f"/app/api/opportunities/{fleet}")).json()
    assert card["title"] == "Cold-chain fleet"
    assert card["facts"] == [
        "🏢 Harbor Logistics", "👤 Carol Lin",
        "💰 CNY 150,000.50 · 75% → weighted CNY 112,500.38",
        "📅 Expected close: Sun 20 Dec"]
    assert card["stage"] == {"key": "negotiation", "name": "Negotiation", "outcome": ""}
    assert card["amount"] == "150000.50"
    core = await services.opportunities.card(ERIN, fleet)
    assert len(card["timeline"]) == len(core.timeline) == 10 and card["has_more"]
    assert card["page_label"] is None and card["photos_label"] is None
    assert [(e["who"], e["text"]) for e in card["timeline"][:2]] == [
        ("Erin Zhao", "📝 note 9"), ("Carol Lin", "📝 note 8")]
    assert card["timeline"][0]["when"] == "Tue 1 Dec 10:50"
    older = (await erin.get(f"/app/api/opportunities/{fleet}", params={"page": 1})).json()
    assert [(e["kind"], e["text"]) for e in older["timeline"]] == [
        ("stage", "🔀 Proposal → Negotiation"),  # at the same moment as the edit
        ("change", "✏️ amount: CNY 120,000.00 → CNY 150,000.50"),
        ("stage", "🔀 Lead → Proposal"),
        ("stage", "🔀 created at Lead")]
    assert older["timeline"][-1]["when"] == "Thu 26 Nov 10:00"
    assert not older["has_more"] and older["page_label"] == "· page 2"
    lost = (await erin.get(f"/app/api/opportunities/{deals['pilot']}")).json()
    assert "Lost because: went with a competitor" in lost["facts"]
    assert lost["timeline"][0]["text"] == "🔀 Lead → Lost — “went with a competitor”"
    assert lost["stage"]["outcome"] == "lost"
    photos = (await erin.get(f"/app/api/opportunities/{fleet}/photos")).json()
    assert photos == {"photos": [], "empty": "No photos are kept for this opportunity."}


async def test_goals_show_progress_and_pace_as_the_chat_does(web, services, deals):
    await services.goals.set(ERIN, "member:carol", "new", "2026-Q4", "4")
    await services.goals.set(ERIN, "member:li", "visits", "2026-12", "5")
    carol = (await web(CAROL).get("/app/api/goals")).json()
    view = await services.goals.view(CAROL)
    line = next(line for line in view.mine if line.progress.goal.metric == "new")
    # Carol made three deals this quarter: the fleet, the pilot and the scanners.
    assert carol["mine"][1] == {
        "label": "New opportunities · 2026-Q4", "metric": "new", "period": "2026-Q4",
        "percent": 75, "width": 75, "ceiling": False, "figures": "3 / 4",
        "pace": pace_text(line, "CNY", EN), "reached": False, "days_left": line.days_left}
    assert carol["mine"][1]["pace"] == "1 more opportunity, about 1 per working day"
    assert carol["mine"][0]["label"] == "Visits · 2026-12"  # from the org file
    assert carol["mine"][0]["figures"] == "0 / 20" and carol["mine"][0]["width"] == 0
    assert carol["team"] == [] and carol["is_manager"] is False
    erin = (await web(ERIN).get("/app/api/goals")).json()
    assert erin["mine"] == [] and erin["is_manager"]
    team = await services.goals.view(ERIN)
    assert [g["label"] for g in erin["team"]] == [
        f"{line.unit_name} · {EN(METRICS[line.progress.goal.metric])} · "
        f"{line.progress.goal.period.label}" for line in team.team]
    # Nothing spent yet keeps the ceiling at 100%: furthest along, so first.
    assert [g["percent"] for g in erin["team"]][:2] == [100, 75]
    by_label = {g["label"]: g for g in erin["team"]}
    won = by_label["East region · Won amount · 2026-Q4"]
    assert won["figures"] == "CNY 50,000.00 / CNY 500,000.00" and won["percent"] == 10
    ratio = by_label["East region · Expenses to won · 2026-Q4"]
    assert ratio["ceiling"] and ratio["figures"] == "0% (at most 5%)"
    assert by_label["李伟 · Visits · 2026-12"]["figures"] == "0 / 5"
    december = (await web(ERIN).get("/app/api/goals", params={"period": "2026-12"})).json()
    assert [g["label"] for g in december["team"]] == ["Carol Lin · Visits · 2026-12",
                                                      "李伟 · Visits · 2026-12"]
    assert december["period"] == "2026-12"
    assert [p["current"] for p in december["periods"]] == [True, False, False, False]


@pytest.mark.parametrize(("path", "params", "status", "code", "message"), [
    ("/app/api/pipeline", {"period": "2026-13"}, 400, "bad_period", BAD_PERIOD),
    ("/app/api/pipeline", {"period": "x" * 17}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/pipeline", {"when": "2026"}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/opportunities", {"stage": "dreaming"}, 409, "opp_stage_unknown",
     REFUSALS["opp_stage_unknown"]),
    ("/app/api/opportunities", {"page": "-1"}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/opportunities", {"page": "10001"}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/opportunities", {"page": "one"}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/opportunities/0", {}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/opportunities/2147483648", {}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/opportunities/123456", {}, 404, "opp_not_found", REFUSALS["opp_not_found"]),
    ("/app/api/opportunities/1", {"page": "1000"}, 400, "bad_request", ERRORS["bad_request"]),
    ("/app/api/goals", {"period": "December"}, 409, "goal_period", REFUSALS["goal_period"]),
])
@pytest.mark.parametrize("language", ["en", "zh"])
async def test_bad_input_is_refused_in_the_member_s_language(web, database, deals, path,
                                                             params, status, code, message,
                                                             language):
    before = await stored(database)
    answer = await web(ERIN, language=language).get(path, params=params)
    assert answer.status_code == status
    t = ZH if language == "zh" else EN
    assert answer.json() == {"error": code, "message": t(message)}
    assert t(message) != message or language == "en"  # the Chinese catalog has it
    assert await stored(database) == before


async def stored(database) -> list[int]:
    async with database.uow(read_only=True) as uow:
        return [await uow.session.scalar(select(func.count()).select_from(table))
                for table in (OpportunityRow, OpportunityStageRow, NotificationRow)]


async def test_stage_names_and_the_chat_s_words_are_chinese_for_a_chinese_member(web, deals):
    li = web(LI, language="zh")
    shown = (await li.get("/app/api/pipeline")).json()
    assert [s["name"] for s in shown["stages"]] == [
        "线索", "已确认", "方案报价", "商务谈判", "赢单", "输单"]
    assert shown["win_rate"]["text"] == ZH("Win rate: {rate} ({won} won, {lost} lost)",
                                           rate="100.0%", won=1, lost=0)
    assert shown["win_rate"]["text"] != "Win rate: 100.0% (1 won, 0 lost)"
    card = (await li.get(f"/app/api/opportunities/{deals['looms']}")).json()
    assert card["stage"]["name"] == "赢单"
    assert card["timeline"][0]["text"] == "🔀 线索 → 赢单"
    assert card["facts"][0] == ZH("🏢 {customer}", customer="Xihu Textiles")


async def test_the_manager_above_sees_the_whole_subtree(web, services, deals):
    shown = (await web(DANA).get("/app/api/pipeline")).json()
    assert table(shown) == core_table(await services.opportunities.stats(DANA, Q4))
    assert "Sam Okafor" in [p["name"] for p in shown["people"]]

