"""A company's shapes: a department of six hundred reps, six hundred departments with a
budget and a goal each, a rep with two hundred open deals, a manager with three hundred
notifications.
Every list pages (◀ 3/12 ▶) or counts what it leaves out, every message stays within
Telegram's 4,096 characters and 100 buttons, the pages together show everyone once, and a
forged page is answered with the last one.

The organisation is built once for the module (a few seconds), and each test starts from a
copy of that database.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bootstrap import build_services
from bootstrap.config import parse_config
from bot.fitting import MAX_BUTTONS, TEXT_LIMIT
from bot.org_file import parse_org_file
from core.domain.inbox.notifications import DeliveryState, Notification, NotificationKind
from core.domain.opportunities.pipeline import Opportunity
from storage.database import Database
from tests.chat.conftest import bind_east, last, texts
from tests.conftest import FixedClock, run_aside
from tests.example_org import SHANGHAI, example

REPS = 600
DEPARTMENTS = 600
DEALS = 200
NOTICES = 300
TEAM = REPS + 2  # Carol and Li are in the east team too


def rep_name(number: int) -> str:
    return f"Representative {number:03d} of the East Region field sales team"


def department_name(number: int) -> str:
    return f"Regional office {number:03d} for key accounts, distributors and field service"


def deal_title(number: int) -> str:
    return f"Deal {number:03d}: " + "annual supply of cold-chain logistics services " * 3


def crowded_org() -> dict:
    org = example()
    # Not joined yet (no Telegram account known): named in the group, never sent to alone.
    org["members"] += [{"key": f"rep{n:03d}", "name": rep_name(n), "username": f"rep{n:03d}",
                        "department": "east", "roles": ["rep"]} for n in range(1, REPS + 1)]
    org["departments"] += [{"key": f"office{n:03d}", "name": department_name(n)}
                           for n in range(1, DEPARTMENTS + 1)]
    org["budgets"] += [{"unit": f"department:office{n:03d}", "period": "2026-11",
                        "amount": "999999999.99", "policy": "escalate"}
                       for n in range(1, DEPARTMENTS + 1)]
    org["goals"] += [{"unit": f"department:office{n:03d}", "metric": "new",
                      "period": "2026-11", "target": 50} for n in range(1, DEPARTMENTS + 1)]
    return org


def _config(url: str, photos: str) -> object:
    return parse_config({"database": {"url": url}, "org": crowded_org()["org"],
                         "storage": {"photos_dir": photos},
                         "reminders": {"check_seconds": 600}}, env={})


async def _build(url: str, photos: str) -> None:
    database, clock = Database.connect(url), FixedClock()
    try:
        services = build_services(_config(url, photos), database, clock)
        await services.org.import_org(parse_org_file(crowded_org()))
        now = clock.now()
        async with database.uow() as uow:
            harbor = (await uow.customers.by_key("harbor-logistics")).id
            erin = (await uow.members.by_key("erin")).id
            carol = await uow.members.by_key("carol")
            for n in range(1, DEALS + 1):  # many closing on the same day
                await uow.opportunities.add(Opportunity(
                    None, carol.id, carol.department_id, harbor, deal_title(n),
                    Decimal("1000000"), "CNY", "lead", 10, date(2027, 3, 1 + n % 28),
                    created_at=now), carol.id)
            await uow.notifications.add_many([Notification(
                None, f"crowded:{n}", NotificationKind.SYSTEM, erin, None,
                {"text": f"Notice {n:03d}"}, now - timedelta(minutes=n), now,
                state=DeliveryState.DELIVERED) for n in range(1, NOTICES + 1)])
            await uow.commit()
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def crowded_template(sqlite_template, tmp_path_factory):
    """The example org grown to a company's size, imported once for the module."""
    folder = tmp_path_factory.mktemp("crowded")
    path = folder / "crm.db"
    shutil.copy(sqlite_template, path)
    run_aside(_build(f"sqlite+aiosqlite:///{path}", str(folder / "photos")))
    return path


@pytest.fixture
def org_file() -> dict:
    return crowded_org()


@pytest.fixture
async def sqlite_database(crowded_template, tmp_path):
    path = tmp_path / "crm.db"
    shutil.copy(crowded_template, path)
    database = Database.connect(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


@pytest.fixture
async def org_database(sqlite_database):
    return sqlite_database  # imported with the template


def within_limits(message) -> None:
    assert len(message.text) <= TEXT_LIMIT
    assert sum(len(row) for row in message.buttons) <= MAX_BUTTONS


def page_of(message, row: int = -1) -> tuple[int, int] | None:
    """(3, 12) for a message whose pager row says ◀ 3/12 ▶; None without a pager."""
    for label in message.buttons[row] if message.buttons else []:
        if "/" in label and label.replace("/", "").isdigit():
            number, count = label.split("/")
            return int(number), int(count)
    return None


async def every_page(stage, user, first, pager_row: int = -1) -> list:
    """The list's pages from the first, pressing ▶ until there is none; each within limits."""
    pages = [first]
    while "▶" in pages[-1].buttons[pager_row]:
        await stage.act(user.press(pages[-1], "▶"))
        pages.append(last(stage, user))
    for number, page in enumerate(pages, start=1):
        within_limits(page)
        assert page_of(page, pager_row) == (number, len(pages))
    return pages


async def test_team_of_six_hundred_pages_show_everyone_once(stage, cast):
    entries = await stage.act(cast.erin.send("/team"))
    assert texts(entries)[0].startswith("👥 Your team today")
    pages = await every_page(stage, cast.erin, last(stage, cast.erin))
    assert len(pages) == 16
    assert pages[0].buttons[-1] == ["1/16", "▶"]
    assert pages[1].buttons[-1] == ["◀", "2/16", "▶"]
    people = [row[0] for page in pages for row in page.buttons[:-1]]
    assert len(people) == len(set(people)) == TEAM
    lines = [line for page in pages for line in page.text.splitlines()
             if "Representative" in line]
    assert len(lines) == len(set(lines)) == REPS


async def test_a_forged_team_page_far_out_shows_the_last_page(stage, cast):
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), callback_data="team:l:9999",
                                    forge=True))
    shown = last(stage, cast.erin)
    within_limits(shown)
    assert shown.buttons[-1] == ["◀", "16/16"]


async def test_the_groups_reminder_naming_everyone_fits_one_message(stage, cast, clock):
    group = await bind_east(stage, cast)
    clock.moment = datetime(2026, 11, 26, 18, tzinfo=SHANGHAI).astimezone(UTC)
    await stage.fire("plan_reminder")
    message = await stage.standin.next_bot_message(group.id)
    assert message.text.startswith("📝 No plan yet for tomorrow (Fri 27 Nov): Carol Lin, "
                                   f"{rep_name(1)}, {rep_name(2)}, ")
    assert len(message.text) <= TEXT_LIMIT
    assert message.text.endswith(f"{rep_name(62)} and 539 more.")


async def test_the_digest_of_six_hundred_reps_counts_whom_it_leaves_out(stage, cast, clock):
    group = await bind_east(stage, cast)
    clock.moment = datetime(2026, 11, 26, 9, tzinfo=SHANGHAI).astimezone(UTC)
    await stage.fire("morning_digest")
    digest = await stage.standin.next_bot_message(group.id)
    assert digest.text.startswith("📊 Team digest: East region\n")
    assert len(digest.text) <= TEXT_LIMIT
    assert digest.text.endswith(f"Planned 0/{TEAM} · Logged 0/{TEAM} · as of 09:00")
    lines = digest.text.splitlines()
    named = [line for line in lines if line.startswith("❌")]
    assert len(named) == len(set(named)) > 50
    assert all(line.endswith(" field sales team") or line.endswith(("Carol Lin", "李伟"))
               for line in named)  # whole names, none cut
    more = f"… and {TEAM - len(named)} more: a manager sees everyone with /team."
    assert lines[-3] == more


async def test_finance_pages_through_six_hundred_budgets(stage, cast):
    entries = await stage.act(cast.fiona.send("/budget"))
    assert texts(entries)[0].startswith("💰 Budgets running now")
    pages = await every_page(stage, cast.fiona, last(stage, cast.fiona))
    offices = [line for page in pages for line in page.text.splitlines()
               if "Regional office" in line]
    assert len(offices) == len(set(offices)) == DEPARTMENTS
    assert sorted(offices) == offices  # departments in a stable order, by name


async def test_a_forged_budget_page_far_out_shows_the_last_page(stage, cast):
    await stage.act(cast.fiona.send("/budget"))
    first = last(stage, cast.fiona)
    _, count = page_of(first)
    await stage.act(cast.fiona.press(first, callback_data="bud:p:-:9999", forge=True))
    shown = last(stage, cast.fiona)
    within_limits(shown)
    assert shown.buttons[-1] == ["◀", f"{count}/{count}"]


async def test_a_budget_page_is_shown_only_to_whom_may_see_it(stage, cast):
    """Carol's pages hold her units' budgets only, whatever page she asks for."""
    await stage.act(cast.carol.send("/budget"))
    await stage.act(cast.carol.press(last(stage, cast.carol), callback_data="bud:p:-:30",
                                     forge=True))
    shown = last(stage, cast.carol)
    assert "Regional office" not in shown.text
    assert page_of(shown) is None


async def test_an_admin_pages_through_six_hundred_departments_goals(stage, cast):
    """Measuring a goal is a query or two: one page and the last, not all fifty."""
    await stage.act(cast.dana.send("/goals"))
    first = last(stage, cast.dana)
    within_limits(first)
    number, count = page_of(first)
    assert number == 1 and count * 12 >= DEPARTMENTS + 3 > (count - 1) * 12
    await stage.act(cast.dana.press(first, callback_data="goal:p:-:9999", forge=True))
    shown = last(stage, cast.dana)
    within_limits(shown)
    assert shown.buttons[-1] == ["◀", f"{count}/{count}"]
    assert shown.text.startswith("👥 Team goals")


async def test_a_rep_pages_through_two_hundred_open_deals(stage, cast):
    await stage.act(cast.carol.send("/opps"))
    first = last(stage, cast.carol)
    pager = next(i for i, row in enumerate(first.buttons) if "▶" in row)
    pages = await every_page(stage, cast.carol, first, pager)
    deals = [row[0] for page in pages for row in page.buttons[:pager]]
    assert len(deals) == len(set(deals)) == DEALS
    await stage.act(cast.carol.press(first, callback_data="opp:l:-:9999", forge=True))
    shown = last(stage, cast.carol)
    within_limits(shown)
    assert ["◀", f"{len(pages)}/{len(pages)}"] in shown.buttons


async def test_a_manager_pages_through_three_hundred_notifications(stage, cast):
    await stage.act(cast.erin.send("/inbox"))
    first = last(stage, cast.erin)
    within_limits(first)
    assert first.buttons[-1] == ["1/60", "▶"]
    await stage.act(cast.erin.press(first, "▶"))
    second = last(stage, cast.erin)
    assert second.buttons[-1] == ["◀", "2/60", "▶"]
    assert not {r[0] for r in first.buttons[:-1]} & {r[0] for r in second.buttons[:-1]}
    await stage.act(cast.erin.press(second, callback_data="inbox:p:999999", forge=True))
    shown = last(stage, cast.erin)
    within_limits(shown)
    assert shown.buttons[-1] == ["◀", "60/60"]
