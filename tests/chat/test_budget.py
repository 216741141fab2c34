"""/budget through the real bot: usage bars, setting a budget, refusals."""

from __future__ import annotations

from tests.chat.conftest import texts
from tests.service.test_approvals import draft, submit


async def test_budget_shows_my_units_with_bars(stage, cast, org_database, clock):
    await submit(org_database, clock, await draft(org_database, clock, "carol", "7200"))
    entries = await stage.act(cast.erin.send("/budget"))
    text = texts(entries)[0]
    assert text.splitlines()[:2] == ["💰 Budgets running now",
                                     "used = approved + waiting for approval"]
    assert ("Travel · East region · 2026-11\n▓▓▓▓▓▓▓░░░ 72%  CNY 7,200.00 of CNY 10,000.00 "
            "· warn") in text


async def test_a_manager_sets_a_budget_and_a_rep_may_not(stage, cast, org_database):
    entries = await stage.act(cast.erin.send(
        "/budget set department:east travel 2026-12 12000 block"))
    assert texts(entries)[0].startswith("✅ Budget saved.\n\nTravel · East region · 2026-12\n"
                                        "░░░░░░░░░░ 0%  CNY 0.00 of CNY 12,000.00 · block")
    entries = await stage.act(cast.carol.send(
        "/budget set department:east travel 2026-12 99999"))
    assert texts(entries) == ["Only a manager of that unit, or finance, can set its budget."]
    entries = await stage.act(cast.erin.send("/budget set department:east travel 2026-13 5"))
    assert texts(entries)[0].startswith("I could not read that period.")
    entries = await stage.act(cast.erin.send("/budget set department:east"))
    assert texts(entries)[0].startswith("To set a budget: /budget set UNIT")


async def test_budget_changes_are_shown_with_who_when_from_and_to(stage, cast, org_database):
    await stage.act(cast.erin.send("/budget set department:east travel 2026-11 12000 block"))
    await stage.act(cast.erin.send("/budget set department:east travel 2026-12 8000"))
    entries = await stage.act(cast.erin.send("/budget"))
    text = texts(entries)[0]
    assert text.split("\n\nLast changes\n")[1].splitlines() == [
        "• 2026-11-26 10:00 · Erin Zhao: Travel · East region · 2026-11: policy warn → block",
        "• 2026-11-26 10:00 · Erin Zhao: Travel · East region · 2026-11: amount "
        "CNY 10,000.00 → CNY 12,000.00"]
    entries = await stage.act(cast.erin.send("/budget 2026-12"))
    assert ("• 2026-11-26 10:00 · Erin Zhao: Travel · East region · 2026-12: amount set to "
            "CNY 8,000.00") in texts(entries)[0]
