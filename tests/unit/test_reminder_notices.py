"""How plan and log reminders and the team digest read, in English and Chinese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.i18n import Translator
from bot.notices import day_label, render, summary
from core.domain.inbox.notifications import Notification, NotificationKind
from tests.example_org import shanghai

EN, ZH = Translator("en"), Translator("zh_Hans")


@dataclass
class Reader:
    timezone: str = "Asia/Shanghai"
    recipient_name: str = "Carol Lin"


def notice(kind: NotificationKind, payload: dict, *, due: datetime,
           group: bool = False) -> Notification:
    return Notification(id=1, key="k", kind=kind, member_id=None if group else 7,
                        group_id=3 if group else None, payload=payload, created_at=due,
                        due_at=due)


def text(notification: Notification, t: Translator = EN) -> str:
    html, keyboard = render(notification, t, Reader())
    if notification.group_id is not None or notification.kind not in (
            NotificationKind.PLAN_REMINDER, NotificationKind.LOG_REMINDER):
        assert keyboard is None
    return html


def button(notification: Notification, t: Translator = EN) -> tuple[str, str]:
    _, keyboard = render(notification, t, Reader())
    [[only]] = keyboard.inline_keyboard
    return only.text, only.callback_data


def test_a_personal_reminder_offers_a_button_that_starts_the_plan_or_the_log():
    plan = notice(NotificationKind.PLAN_REMINDER,
                  {"date": "2026-11-27", "today": "2026-11-26"}, due=shanghai(26, 17))
    log = notice(NotificationKind.LOG_REMINDER, {"date": "2026-11-26"}, due=shanghai(26, 18))
    assert button(plan) == ("🗓 Write the plan", "plan:new:2026-11-27")
    assert button(log, ZH) == ("📝 写日志", "log:open:2026-11-26")


def test_dates_read_naturally_in_both_languages():
    day = datetime(2026, 11, 30).date()
    assert day_label(EN, day) == "Mon 30 Nov"
    assert day_label(ZH, day) == "11月30日 周一"


def test_friday_evening_reminder_names_monday_as_the_next_working_day():
    reminder = notice(NotificationKind.PLAN_REMINDER,
                      {"date": "2026-11-30", "today": "2026-11-27"}, due=shanghai(27, 18))
    assert text(reminder).startswith(
        "📝 <b>Your next working day, Mon 30 Nov, has no plan yet.</b>\n")
    assert text(reminder, ZH).startswith("📝 <b>下一个工作日（11月30日 周一）还没有计划。</b>")
    assert summary(reminder, EN) == "No plan yet for Mon 30 Nov"


def test_a_reminder_held_by_quiet_hours_says_today_when_it_arrives():
    reminder = notice(NotificationKind.PLAN_REMINDER,
                      {"date": "2026-11-27", "today": "2026-11-26"}, due=shanghai(27, 8))
    assert text(reminder).startswith("📝 <b>Today (Fri 27 Nov) has no plan yet.</b>")


def test_log_reminder_for_today_and_for_a_day_gone_by():
    payload = {"date": "2026-11-26"}
    tonight = notice(NotificationKind.LOG_REMINDER, payload, due=shanghai(26, 19))
    assert text(tonight) == ("🗒 <b>Today (Thu 26 Nov) has no work log yet.</b>\n"
                             "Please note what you did: the visits and calls, and what came "
                             "of them.")
    assert text(tonight, ZH) == ("🗒 <b>今天（11月26日 周四）还没有写工作日志。</b>\n"
                                 "请记下做了哪些事：拜访了谁、打了哪些电话、结果如何。")
    next_morning = notice(NotificationKind.LOG_REMINDER, payload, due=shanghai(27, 8))
    assert text(next_morning).startswith("🗒 <b>Thu 26 Nov has no work log yet.</b>")
    assert summary(tonight, ZH) == "11月26日 周四还没有写工作日志"


def test_group_copy_mentions_people_it_can_and_names_the_others():
    payload = {"date": "2026-11-26", "department": "East region", "people": [
        {"name": "Carol <Lin>", "account_id": 2001}, {"name": "王梅", "account_id": None}]}
    copy = notice(NotificationKind.LOG_REMINDER, payload, due=shanghai(26, 19), group=True)
    assert text(copy) == ('🗒 No work log yet for today (Thu 26 Nov): '
                          '<a href="tg://user?id=2001">Carol &lt;Lin&gt;</a>, 王梅.')
    assert text(copy, ZH) == ('🗒 今天（11月26日 周四）还没有写工作日志：'
                              '<a href="tg://user?id=2001">Carol &lt;Lin&gt;</a>、王梅。')


def digest(columns: list[str], rows: list[dict]) -> Notification:
    return notice(NotificationKind.DIGEST, {
        "date": "2026-11-30", "day": "2026-11-27", "department": "East & West",
        "columns": columns, "rows": rows, "as_of": shanghai(30, 9, 5).isoformat()},
        due=shanghai(30, 9), group=True)


def test_digest_is_one_line_per_rep_with_the_day_and_the_department():
    rows = [{"member_id": 1, "name": "Carol Lin", "plan": True, "log": False},
            {"member_id": 2, "name": "李伟", "plan": True, "log": True}]
    assert text(digest(["plan", "log"], rows), ZH) == (
        "📊 <b>团队日报：East &amp; West</b>\n"
        "11月27日 周五 — 计划 / 日志\n"
        "✅ ❌  Carol Lin\n"
        "✅ ✅  李伟\n\n"
        "已写计划 2/2 · 已写日志 1/2 · 截至 09:05")


def test_check_ins_get_a_column_only_once_they_are_tracked():
    rows = [{"member_id": 1, "name": "Carol Lin", "plan": True, "log": True, "check_ins": 3}]
    assert text(digest(["plan", "log", "check_ins"], rows)).splitlines()[1:3] == [
        "Fri 27 Nov — plan / log / check-ins", "✅ ✅ 3  Carol Lin"]


def test_digest_of_a_department_without_reps_says_so():
    assert text(digest(["plan", "log"], [])).splitlines()[2:] == [
        "No reps in this department yet.", "", "as of 09:05"]
    assert summary(digest(["plan", "log"], []), EN) == "Team digest: East & West, Fri 27 Nov"


BUDGET = {"budget_id": 4, "category": "travel", "category_name": "Travel",
          "category_name_zh": "差旅", "unit": "East region", "period": "2026-11",
          "used": "6000.00", "after": "6000.00", "limit": "10000.00", "percent": 60,
          "over": "0", "policy": "warn", "threshold": 80, "currency": "CNY"}


def test_a_withdrawn_budget_alert_says_so_with_the_usage_of_now():
    import bot.handlers.approvals  # noqa: F401  (registers the budget alert's renderer)

    alert = notice(NotificationKind.BUDGET_ALERT, {**BUDGET, "withdrawn": True},
                   due=shanghai(26, 10))
    assert text(alert) == (
        "↩️ <b>Budget alert withdrawn</b>: Travel · East region · 2026-11\n"
        "No longer at 80%: now CNY 6,000.00 of CNY 10,000.00 (60%) is approved or waiting "
        "for approval.\nSee /budget.")
    assert summary(alert, EN) == "Budget East region back under 80%"
    assert text(alert, ZH).startswith("↩️ <b>预算提醒已撤回</b>：差旅 · East region · 2026-11")
