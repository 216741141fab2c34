"""Approvals on each backend: routes, who may decide, one decision per claim, the SLA."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from bot.handlers.approvals import card_text
from bot.handlers.claims import CLAIMANT_REFUSALS, detail_screen
from bot.i18n import Translator
from bot.texts import refusal
from core.config import ApprovalSlaConfig, DelegationConfig, ExpensesConfig
from core.domain.errors import DomainError
from core.domain.expenses.budgets import Budget, OverrunPolicy, UnitKind
from core.domain.expenses.claims import ClaimAction, ClaimStatus, StepKind, StepState
from core.domain.inbox.notifications import Notification, NotificationKind
from core.domain.org.model import OrgSettings
from core.domain.period import Period
from core.expenses.approvals import ApprovalService, route_and_submit, withdraw
from core.expenses.claims import ExpenseService
from storage.photos import PhotoStore
from storage.tables import (
    ClaimEventRow,
    ClaimRow,
    DepartmentRow,
    MemberRow,
    NotificationRow,
)
from tests.conftest import PG_URL
from tests.example_org import import_example
from tests.service.test_expense_stats import HARBOR, add_deal

DEFAULTS = OrgSettings("Defaults Inc.", "UTC", "CNY", "en")
DANA, ERIN, WALT, CAROL, LI, SAM, FIONA = 1001, 1002, 1003, 2001, 2002, 2003, 3001
SPENT = date(2026, 11, 20)
CONFIG = ExpensesConfig()


async def member_id(database, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(MemberRow.id).where(MemberRow.key == key))


async def department_id(database, key: str) -> int:
    async with database.uow(read_only=True) as uow:
        return await uow.session.scalar(select(DepartmentRow.id).where(DepartmentRow.key == key))


async def draft(database, clock, key: str, amount: str, *, category: str = "travel",
                unit: tuple[UnitKind, int] | None = None, spent_on: date = SPENT,
                description: str = "taxi to Harbor Logistics") -> int:
    """A complete draft written straight into the table, as the claimant's side leaves it."""
    member = await member_id(database, key)
    async with database.uow() as uow:
        person = await uow.members.get(member)
        kind, unit_id = unit or (UnitKind.DEPARTMENT, person.department_id)
        row = ClaimRow(member_id=member, department_id=person.department_id,
                       amount=Decimal(amount), currency="CNY", category=category,
                       spent_on=spent_on, unit_kind=str(kind), unit_id=unit_id,
                       description=description, status=str(ClaimStatus.DRAFT), version=1,
                       created_at=clock.now(), updated_at=clock.now())
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id


async def submit(database, clock, claim_id: int, config: ExpensesConfig = CONFIG):
    async with database.uow() as uow:
        claim = await uow.approvals.claim(claim_id)
        claimant = await uow.members.get(claim.member_id)
        result = await route_and_submit(uow, claim, claimant, settings=DEFAULTS, config=config,
                                        now=clock.now(), chat_id=claimant.account_id)
        await uow.commit()
        return result


async def filed(database, clock, key: str, amount: str, config: ExpensesConfig = CONFIG,
                **kwargs) -> int:
    claim_id = await draft(database, clock, key, amount, **kwargs)
    await submit(database, clock, claim_id, config)
    return claim_id


async def add_budget(database, kind: UnitKind, unit_id: int, amount: str,
                     policy: OverrunPolicy, category: str | None = "travel",
                     period: str = "2026-11") -> Budget:
    """Set a budget (the example org has some already: this replaces theirs)."""
    async with database.uow() as uow:
        budget = Budget(None, kind, unit_id, category, Period.parse(period), Decimal(amount),
                        policy)
        existing = await uow.budgets.find(kind, unit_id, category, period)
        if existing is None:
            budget = await uow.budgets.add(budget)
        else:
            budget = Budget(existing.id, *astuple_tail(budget))
            await uow.budgets.update(budget)
        await uow.commit()
        return budget


def astuple_tail(budget: Budget) -> tuple:
    return (budget.unit_kind, budget.unit_id, budget.category, budget.period, budget.amount,
            budget.policy)


async def notifications(database, kind: NotificationKind | None = None) -> list[Notification]:
    async with database.uow(read_only=True) as uow:
        query = select(NotificationRow.key).order_by(NotificationRow.id)
        if kind is not None:
            query = query.where(NotificationRow.kind == str(kind))
        return [await uow.notifications.by_key(key) for key in await uow.session.scalars(query)]


async def claim_of(database, claim_id: int):
    async with database.uow(read_only=True) as uow:
        return await uow.approvals.claim(claim_id), await uow.approvals.steps(claim_id)


async def events(database, claim_id: int) -> list[tuple[str, int | None]]:
    async with database.uow(read_only=True) as uow:
        rows = await uow.session.scalars(select(ClaimEventRow).where(
            ClaimEventRow.claim_id == claim_id).order_by(ClaimEventRow.id))
        return [(r.action, r.actor_id, r.chat_id, r.detail) for r in rows]


def approvals(database, clock, config: ExpensesConfig = CONFIG,
              sla: ApprovalSlaConfig | None = None) -> ApprovalService:
    return ApprovalService(database.uow, clock, DEFAULTS, config, sla)


async def test_submit_numbers_routes_and_sends_the_card_to_the_manager(org, clock):
    claim_id = await draft(org, clock, "carol", "120.50")
    result = await submit(org, clock, claim_id)
    assert result.claim.status is ClaimStatus.PENDING
    assert result.claim.number == f"EXP-2026-{claim_id:06d}"
    assert [(s.kind, s.state) for s in result.steps] == [
        (StepKind.MANAGER, StepState.CURRENT), (StepKind.FINANCE, StepState.WAITING)]
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert [c.member_id for c in cards] == [await member_id(org, "erin")]
    assert cards[0].payload["amount"] == "120.50" and cards[0].payload["steps"] == 2
    assert [e[0] for e in await events(org, claim_id)] == ["submitted"]


async def refused(call) -> DomainError:
    with pytest.raises(DomainError) as error:
        await call
    return error.value


async def route_of(org, claim_id: int) -> list[tuple[str, str | None]]:
    names = {}
    async with org.uow(read_only=True) as uow:
        for member in await uow.members.all():
            names[member.id] = member.key
        steps = await uow.approvals.steps(claim_id)
    return [(str(s.kind), names.get(s.approver_id)) for s in steps]


async def test_a_department_manager_is_approved_by_the_parents_manager(org, clock):
    claim_id = await filed(org, clock, "erin", "300")
    assert await route_of(org, claim_id) == [("manager", "dana"), ("finance", None)]


async def test_each_threshold_passed_adds_the_next_manager_up(org, clock):
    claim_id = await filed(org, clock, "carol", "6000")
    assert await route_of(org, claim_id) == [("manager", "erin"), ("manager", "dana"),
                                              ("finance", None)]


async def test_finance_members_claim_with_nobody_to_approve_is_refused(org, clock):
    claim_id = await draft(org, clock, "fiona", "50",
                           unit=(UnitKind.DEPARTMENT, await department_id(org, "finance")))
    assert (await refused(submit(org, clock, claim_id))).code == "no_approver"
    claim, steps = await claim_of(org, claim_id)
    assert (claim.status, steps) == (ClaimStatus.DRAFT, [])


@pytest.mark.parametrize(("who", "code"), [
    (CAROL, "own_claim"),  # the claimant, with a forged callback
    (LI, "not_your_approval"),  # a peer
    (WALT, "not_your_approval"),  # the manager of another department
    (DANA, "not_your_approval"),  # the next level up, before it is their turn
    (FIONA, "not_your_approval"),  # finance, before the finance step
])
async def test_a_forged_approval_changes_nothing_and_says_why(org, clock, who, code):
    claim_id = await filed(org, clock, "carol", "120")
    service = approvals(org, clock)
    error = await refused(service.approve(who, claim_id, version=2, chat_id=who))
    assert error.code == code
    claim, steps = await claim_of(org, claim_id)
    assert (claim.status, claim.version, steps[0].state) == (
        ClaimStatus.PENDING, 2, StepState.CURRENT)
    assert [e[0] for e in await events(org, claim_id)] == ["submitted"]


async def test_approving_twice_gives_one_decision(org, clock):
    claim_id = await filed(org, clock, "carol", "120")
    service = approvals(org, clock)
    decision = await service.approve(ERIN, claim_id, version=2, chat_id=ERIN)
    assert decision.next_step.kind is StepKind.FINANCE
    error = await refused(service.approve(ERIN, claim_id, version=2, chat_id=ERIN))
    assert (error.code, error.params["by"]) == ("already_decided", "Erin Zhao")
    assert [e[0] for e in await events(org, claim_id)] == ["submitted", "approved"]


async def test_approval_goes_step_by_step_and_everyone_sees_the_decision(org, clock):
    claim_id = await filed(org, clock, "carol", "120")
    service = approvals(org, clock)
    await service.approve(ERIN, claim_id, version=2, chat_id=ERIN)
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert [(c.member_id, c.payload["state"]) for c in cards] == [
        (await member_id(org, "erin"), "passed"), (await member_id(org, "fiona"), "open")]
    clock.advance(hours=1)
    done = await service.approve(FIONA, claim_id, version=3, chat_id=FIONA)
    assert done.claim.status is ClaimStatus.APPROVED
    assert done.claim.decided_at == clock.now()
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    # Erin's card keeps her step and learns the outcome; Fiona's shows her decision.
    assert [(c.payload["state"], c.payload.get("final"), c.payload.get("final_by"))
            for c in cards] == [("passed", "approved", "Fiona Grant"),
                                ("approved", None, None)]
    assert [c.version for c in cards] == [3, 2]  # revised: the sent messages are edited
    decisions = await notifications(org, NotificationKind.APPROVAL_DECISION)
    assert [(d.payload["action"], d.payload["status"]) for d in decisions] == [
        ("approved", "pending"), ("approved", "approved")]
    assert {d.member_id for d in decisions} == {await member_id(org, "carol")}
    log = await events(org, claim_id)
    assert [(e[0], e[1], e[2]) for e in log] == [
        ("submitted", await member_id(org, "carol"), CAROL),
        ("approved", await member_id(org, "erin"), ERIN),
        ("approved", await member_id(org, "fiona"), FIONA)]


async def test_a_rejection_needs_a_reason_and_ends_the_claim(org, clock):
    claim_id = await filed(org, clock, "carol", "6000")
    service = approvals(org, clock)
    for reason, code in (("   ", "reason_empty"), ("x" * 501, "reason_too_long")):
        error = await refused(service.reject(ERIN, claim_id, version=2, reason=reason,
                                             chat_id=ERIN))
        assert error.code == code
    decision = await service.reject(ERIN, claim_id, version=2, reason="No receipt for the taxi",
                                    chat_id=ERIN)
    assert decision.claim.status is ClaimStatus.REJECTED
    _claim, steps = await claim_of(org, claim_id)
    assert [s.state for s in steps] == [StepState.REJECTED, StepState.CANCELLED,
                                        StepState.CANCELLED]
    assert (await events(org, claim_id))[-1][3]["reason"] == "No receipt for the taxi"
    card = (await notifications(org, NotificationKind.APPROVAL_REQUEST))[0]
    assert (card.payload["state"], card.payload["reason"]) == ("rejected",
                                                               "No receipt for the taxi")
    told = (await notifications(org, NotificationKind.APPROVAL_DECISION))[0]
    assert told.payload["reason"] == "No receipt for the taxi"


async def test_approving_a_withdrawn_claim_changes_nothing(org, clock):
    claim_id = await filed(org, clock, "carol", "120")
    async with org.uow() as uow:
        claim = await uow.approvals.claim(claim_id)
        carol = await uow.members.get(claim.member_id)
        await withdraw(uow, claim, carol, now=clock.now(), chat_id=CAROL,
                       config=CONFIG, settings=DEFAULTS)
        await uow.commit()
    card = (await notifications(org, NotificationKind.APPROVAL_REQUEST))[0]
    assert card.payload["state"] == "withdrawn"
    error = await refused(approvals(org, clock).approve(ERIN, claim_id, version=2,
                                                        chat_id=ERIN))
    assert error.code == "claim_withdrawn"
    error = await refused(approvals(org, clock).approve(ERIN, claim_id, version=3,
                                                        chat_id=ERIN))
    assert error.code == "claim_withdrawn"
    claim, steps = await claim_of(org, claim_id)
    assert claim.status is ClaimStatus.WITHDRAWN
    assert {s.state for s in steps} == {StepState.CANCELLED}


async def test_withdrawing_an_approved_claim_is_refused(org, clock):
    claim_id = await filed(org, clock, "carol", "120",
                           config=ExpensesConfig(finance_step=False))
    await approvals(org, clock).approve(ERIN, claim_id, version=2, chat_id=ERIN)
    async with org.uow() as uow:
        claim = await uow.approvals.claim(claim_id)
        carol = await uow.members.get(claim.member_id)
        error = await refused(withdraw(uow, claim, carol, now=clock.now(), chat_id=CAROL,
                                       config=CONFIG, settings=DEFAULTS))
        assert error.code == "claim_decided"
        li = await uow.members.by_key("li")
        assert (await refused(withdraw(
            uow, claim, li, now=clock.now(), chat_id=LI, config=CONFIG,
            settings=DEFAULTS))).code == "not_your_claim"
    assert (await claim_of(org, claim_id))[0].status is ClaimStatus.APPROVED


async def test_a_blocking_budget_says_by_how_much(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.BLOCK)
    await filed(org, clock, "li", "900")
    claim_id = await draft(org, clock, "carol", "250.50")
    error = await refused(submit(org, clock, claim_id))
    assert error.code == "budget_blocked"
    assert (error.params["over"], error.params["limit"]) == (Decimal("150.50"),
                                                             Decimal("1000.00"))
    assert error.params["budget"] == "Travel · East region · 2026-11"
    assert (await claim_of(org, claim_id))[0].status is ClaimStatus.DRAFT


async def test_an_escalating_budget_adds_a_level(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "100", OverrunPolicy.ESCALATE)
    claim_id = await draft(org, clock, "carol", "120")
    result = await submit(org, clock, claim_id)
    assert result.warnings == ["over_budget", "escalated"]
    assert await route_of(org, claim_id) == [("manager", "erin"), ("manager", "dana"),
                                              ("finance", None)]
    assert [s.escalated for s in result.steps] == [False, True, False]


async def test_a_warning_budget_shows_the_overrun_to_claimant_and_approver(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "100", OverrunPolicy.WARN)
    result = await submit(org, clock, await draft(org, clock, "carol", "120"))
    assert result.warnings == ["over_budget"]
    assert [(i.over, i.percent) for i in result.impacts if i.budget.category] == [
        (Decimal("20.00"), 120)]
    card = (await notifications(org, NotificationKind.APPROVAL_REQUEST))[0]
    assert card.payload["budgets"][0]["over"] == "20.00"
    assert card.payload["warnings"] == ["over_budget"]


async def test_budget_alerts_go_to_the_units_manager_once_per_threshold(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.WARN)
    await filed(org, clock, "carol", "500")
    assert await notifications(org, NotificationKind.BUDGET_ALERT) == []
    await filed(org, clock, "carol", "300")  # 80%
    await filed(org, clock, "li", "50")  # 85%: no new alert
    await filed(org, clock, "li", "200")  # 105%
    await filed(org, clock, "li", "10")
    alerts = await notifications(org, NotificationKind.BUDGET_ALERT)
    assert [(a.member_id, a.payload["threshold"]) for a in alerts] == [
        (await member_id(org, "erin"), 80), (await member_id(org, "erin"), 100)]


async def budget_alerts(database) -> list[tuple[int, str, int, bool]]:
    """(threshold, state, percent shown, withdrawn) of each budget alert, oldest first."""
    return [(a.payload["threshold"], str(a.state), a.payload["percent"],
             bool(a.payload.get("withdrawn")))
            for a in await notifications(database, NotificationKind.BUDGET_ALERT)]


async def test_crossing_80_and_100_percent_at_once_is_one_alert(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.WARN)
    await filed(org, clock, "carol", "1200")
    assert await budget_alerts(org) == [(100, "pending", 120, False)]


async def test_an_alert_waiting_to_be_sent_shows_the_usage_of_now(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.WARN)
    await filed(org, clock, "carol", "850")
    await filed(org, clock, "li", "50")
    assert await budget_alerts(org) == [(80, "pending", 90, False)]


async def test_a_rejection_withdraws_an_alert_before_it_is_sent(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.WARN)
    claim_id = await filed(org, clock, "carol", "1200")
    await approvals(org, clock).reject(ERIN, claim_id, version=2, reason="no", chat_id=ERIN)
    assert await budget_alerts(org) == [(100, "skipped", 0, True)]


async def test_a_withdrawal_edits_an_alert_already_sent_and_a_new_crossing_alerts_again(
        org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.WARN)
    claim_id = await filed(org, clock, "carol", "900")
    async with org.uow() as uow:  # the dispatcher sent it
        await uow.session.execute(update(NotificationRow).values(
            state="delivered", delivered_at=clock.now(), sent_version=1, message_id=7))
        await uow.commit()
    async with org.uow() as uow:
        claim = await uow.approvals.claim(claim_id)
        await withdraw(uow, claim, await uow.members.get(claim.member_id), now=clock.now(),
                       chat_id=CAROL, config=CONFIG, settings=DEFAULTS)
        await uow.commit()
    assert await budget_alerts(org) == [(80, "pending", 0, True)]  # edited in place
    await filed(org, clock, "li", "850")
    assert await budget_alerts(org) == [(80, "pending", 85, False)]


async def test_usage_counts_approved_and_pending_not_drafts_or_rejected(org, clock):
    east = await department_id(org, "east")
    await filed(org, clock, "carol", "100")
    rejected = await filed(org, clock, "carol", "40")
    await approvals(org, clock).reject(ERIN, rejected, version=2, reason="no", chat_id=ERIN)
    await draft(org, clock, "carol", "7")
    await filed(org, clock, "carol", "9", spent_on=date(2026, 10, 31))
    await filed(org, clock, "carol", "5", category="meals")
    async with org.uow(read_only=True) as uow:
        start, end = date(2026, 11, 1), date(2026, 12, 1)
        assert await uow.approvals.usage(UnitKind.DEPARTMENT, east, "travel", start,
                                         end) == Decimal("100.00")
        assert await uow.approvals.usage(UnitKind.DEPARTMENT, east, None, start,
                                         end) == Decimal("105.00")


async def test_sla_reminds_then_escalates_once_each(org, clock):
    claim_id = await filed(org, clock, "carol", "120")
    service = approvals(org, clock, sla=ApprovalSlaConfig(remind_after_hours=24,
                                                          escalate_after_hours=48))
    clock.advance(hours=23)
    assert await service.run_sla() == 0
    clock.advance(hours=2)
    assert await service.run_sla() == 1
    assert await service.run_sla() == 0
    clock.advance(hours=24)
    assert await service.run_sla() == 1
    assert await service.run_sla() == 0
    assert [e[0] for e in await events(org, claim_id)] == ["submitted", "reminded", "escalated"]
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert [(c.member_id, c.payload["reminder"], c.payload["state"]) for c in cards] == [
        (await member_id(org, "erin"), False, "escalated"),
        (await member_id(org, "erin"), True, "escalated"),
        (await member_id(org, "dana"), False, "open")]
    assert (await refused(service.approve(ERIN, claim_id, version=2,
                                          chat_id=ERIN))).code == "not_your_approval"
    decision = await service.approve(DANA, claim_id, version=2, chat_id=DANA)
    assert decision.next_step.kind is StepKind.FINANCE


async def retire(database, key: str) -> None:
    async with database.uow() as uow:
        await uow.session.execute(update(MemberRow).where(MemberRow.key == key)
                                  .values(active=False))
        await uow.commit()


async def test_a_retired_manager_is_passed_over_and_gets_no_card(org, clock):
    await retire(org, "erin")
    claim_id = await filed(org, clock, "carol", "120")
    assert await route_of(org, claim_id) == [("manager", "dana"), ("finance", None)]
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert [c.member_id for c in cards] == [await member_id(org, "dana")]
    decision = await approvals(org, clock).approve(DANA, claim_id, version=2, chat_id=DANA)
    assert decision.next_step.kind is StepKind.FINANCE


async def test_a_claim_waiting_on_a_manager_who_leaves_moves_on_at_once(org, clock):
    claim_id = await filed(org, clock, "carol", "120")
    assert await route_of(org, claim_id) == [("manager", "erin"), ("finance", None)]
    await retire(org, "erin")
    service = approvals(org, clock)  # no SLA rule at all
    clock.advance(minutes=1)
    assert await service.pass_over_retired() == 1
    assert await route_of(org, claim_id) == [("manager", "dana"), ("finance", None)]
    assert [e[0] for e in await events(org, claim_id)][-1] == "handed_over"
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert [c.member_id for c in cards][-1] == await member_id(org, "dana")
    erin = await member_id(org, "erin")
    erins = next(c for c in cards if c.member_id == erin)
    assert erins.payload["state"] == "handed_over"
    assert await service.pass_over_retired() == 0  # once
    decision = await service.approve(DANA, claim_id, version=2, chat_id=DANA)
    assert decision.next_step.kind is StepKind.FINANCE


async def test_a_claim_left_with_nobody_above_waits_for_the_org_to_name_someone(org, clock):
    claim_id = await filed(org, clock, "sam", "120")
    await retire(org, "walt")
    await retire(org, "dana")
    assert await approvals(org, clock).pass_over_retired() == 0
    assert await route_of(org, claim_id) == [("manager", "walt"), ("finance", None)]


async def test_budget_alerts_pass_over_a_retired_manager(org, clock):
    await retire(org, "erin")
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "1000", OverrunPolicy.WARN)
    await filed(org, clock, "carol", "900")
    alerts = await notifications(org, NotificationKind.BUDGET_ALERT)
    assert [a.member_id for a in alerts] == [await member_id(org, "dana")]


async def test_sla_never_escalates_to_a_retired_manager(org, clock):
    claim_id = await filed(org, clock, "sam", "120")
    await retire(org, "dana")
    service = approvals(org, clock, sla=ApprovalSlaConfig(remind_after_hours=24,
                                                          escalate_after_hours=48))
    clock.advance(hours=49)
    await service.run_sla()
    assert [e[0] for e in await events(org, claim_id)] == ["submitted", "reminded"]
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert {c.member_id for c in cards} == {await member_id(org, "walt")}


async def test_a_delegate_decides_while_the_manager_is_away(org, clock):
    config = ExpensesConfig(delegations=[DelegationConfig(member="erin", delegate="walt",
                                                          until=date(2026, 11, 30))])
    claim_id = await filed(org, clock, "carol", "120", config=config)
    cards = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert {c.member_id for c in cards} == {await member_id(org, "erin"),
                                            await member_id(org, "walt")}
    decision = await approvals(org, clock, config).approve(WALT, claim_id, version=2,
                                                           chat_id=WALT)
    assert decision.step.decided_by == await member_id(org, "walt")
    assert (await events(org, claim_id))[-1][3]["for"] == await member_id(org, "erin")


async def test_a_delegation_ends_with_its_date(org, clock):
    config = ExpensesConfig(delegations=[DelegationConfig(member="erin", delegate="walt",
                                                          until=date(2026, 11, 25))])
    claim_id = await filed(org, clock, "carol", "120", config=config)
    error = await refused(approvals(org, clock, config).approve(WALT, claim_id, version=2,
                                                                chat_id=WALT))
    assert error.code == "not_your_approval"


@pytest.mark.skipif(not PG_URL, reason="two approvers race for real only on PostgreSQL")
async def test_two_approvers_racing_give_exactly_one_decision(database, clock):
    if database.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: there is no race to lose")
    await import_example(database, clock)
    config = ExpensesConfig(delegations=[DelegationConfig(member="erin", delegate="walt")])
    for _ in range(5):
        claim_id = await filed(database, clock, "carol", "120", config=config)
        service = approvals(database, clock, config)
        results = await asyncio.gather(
            service.approve(ERIN, claim_id, version=2, chat_id=ERIN),
            service.approve(WALT, claim_id, version=2, chat_id=WALT),
            service.reject(ERIN, claim_id, version=2, reason="no", chat_id=ERIN),
            return_exceptions=True)
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1
        assert all(isinstance(e, DomainError) and e.code == "already_decided" for e in lost)
        claim, _steps = await claim_of(database, claim_id)
        assert claim.version == 3
        decided = [e for e in await events(database, claim_id)
                   if e[0] in (ClaimAction.APPROVED, ClaimAction.REJECTED)]
        assert len(decided) == 1


async def test_only_those_who_may_see_the_claim_read_its_details(org, clock):
    claim_id = await filed(org, clock, "carol", "120")
    service = approvals(org, clock)
    view = await service.view(ERIN, claim_id)
    assert view.can_decide and [s.approver for s in view.steps] == ["Erin Zhao", ""]
    assert not (await service.view(CAROL, claim_id)).can_decide
    assert not (await service.view(FIONA, claim_id)).can_decide
    assert (await refused(service.view(SAM, claim_id))).code == "claim_not_found"
    assert (await refused(service.view(LI, claim_id))).code == "claim_not_found"


async def test_the_approval_sla_rule_runs_through_the_reminder_rules(org, clock):
    from core.config import RemindersConfig
    from core.domain.inbox.reminders import WorkCalendar
    from core.inbox.reminders import ReminderService

    await filed(org, clock, "carol", "120")
    service = approvals(org, clock)
    rules = ReminderService(org.uow, clock, DEFAULTS, RemindersConfig(), WorkCalendar(),
                            sla=service.run_sla)
    clock.advance(hours=30)
    assert await rules.run("approval_sla") == 1
    assert {r.name: r for r in await rules.rules()}["approval_sla"].last_run_at == clock.now()


async def test_the_card_and_the_claim_name_the_opportunity(org, clock, tmp_path):
    harbor = await add_deal(org, HARBOR)
    claim_id = await draft(org, clock, "carol", "120.00")
    async with org.uow() as uow:
        await uow.session.execute(update(ClaimRow).where(ClaimRow.id == claim_id)
                                  .values(opportunity_id=harbor))
        await uow.commit()
    await submit(org, clock, claim_id)
    [card] = await notifications(org, NotificationKind.APPROVAL_REQUEST)
    assert card.payload["opportunity"] == "Harbor Logistics · Cold-chain fleet"
    assert "🎯 Opportunity: Harbor Logistics · Cold-chain fleet" in card_text(
        card.payload, Translator("en")).splitlines()
    view = await approvals(org, clock).view(ERIN, claim_id)
    assert view.payload["opportunity"] == "Harbor Logistics · Cold-chain fleet"
    # The claimant's /claim shows it too.
    expenses = ExpenseService(org.uow, clock, DEFAULTS, CONFIG, PhotoStore(tmp_path))
    detail = await expenses.show(CAROL, claim_id)
    text, _ = detail_screen(Translator("en"), CONFIG, detail, "Asia/Shanghai")
    assert "Opportunity: Harbor Logistics · Cold-chain fleet" in text.splitlines()
    # Without an opportunity, no such line.
    plain = await filed(org, clock, "li", "10.00")
    assert (await approvals(org, clock).view(ERIN, plain)).payload["opportunity"] is None
    assert "🎯" not in card_text((await approvals(org, clock).view(ERIN, plain)).payload,
                                 Translator("en"))


async def test_a_blocked_budget_is_named_in_the_readers_language(org, clock):
    east = await department_id(org, "east")
    await add_budget(org, UnitKind.DEPARTMENT, east, "100", OverrunPolicy.BLOCK)
    claim_id = await draft(org, clock, "carol", "250.50")
    chinese, english = Translator("zh_Hans"), Translator("en")
    error = await refused(submit(org, clock, claim_id))
    for reader, label in ((chinese, "差旅 · East region · 2026-11"),
                          (english, "Travel · East region · 2026-11")):
        assert label in refusal(reader, error, CLAIMANT_REFUSALS)
        assert label in refusal(reader, error)
    # A budget of every category, further over: named as such.
    await add_budget(org, UnitKind.DEPARTMENT, east, "50", OverrunPolicy.BLOCK, category=None)
    error = await refused(submit(org, clock, claim_id))
    assert error.params["budget"] == "All · East region · 2026-11"
    assert "全部类别 · East region · 2026-11" in refusal(chinese, error, CLAIMANT_REFUSALS)
    assert "All categories · East region · 2026-11" in refusal(english, error, CLAIMANT_REFUSALS)
