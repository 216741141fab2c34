"""A department of three hundred reps: /team, the group's reminder and the digest still reach
the manager and the group, within Telegram's 4,096 characters and 100 buttons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.fitting import MAX_BUTTONS, TEXT_LIMIT
from tests.chat.conftest import bind_east, last, texts
from tests.example_org import SHANGHAI, example

REPS = 300


def rep_name(number: int) -> str:
    return f"Representative {number:03d} of the East Region field sales team"


def crowded_org() -> dict:
    org = example()
    # Not joined yet (no Telegram account known): named in the group, never sent to alone.
    org["members"] += [{"key": f"rep{n:03d}", "name": rep_name(n), "username": f"rep{n:03d}",
                        "department": "east", "roles": ["rep"]} for n in range(1, REPS + 1)]
    return org


@pytest.fixture
def org_file() -> dict:
    return crowded_org()


def within_limits(message) -> None:
    assert len(message.text) <= TEXT_LIMIT
    assert sum(len(row) for row in message.buttons) <= MAX_BUTTONS


async def test_team_of_three_hundred_is_shown_a_page_at_a_time(stage, cast):
    entries = await stage.act(cast.erin.send("/team"))
    assert texts(entries)[0].startswith("👥 Your team today")
    first = last(stage, cast.erin)
    within_limits(first)
    assert "Page 1 of 8" in first.text
    assert first.buttons[-1] == ["▶"]
    await stage.act(cast.erin.press(first, "▶"))
    second = last(stage, cast.erin)
    within_limits(second)
    assert "Page 2 of 8" in second.text
    assert second.buttons[-1] == ["◀", "▶"]
    shown_first = {row[0] for row in first.buttons[:-1]}
    shown_second = {row[0] for row in second.buttons[:-1]}
    assert len(shown_first) == len(shown_second) == 40 and not shown_first & shown_second


async def test_a_forged_page_far_out_shows_the_last_page(stage, cast):
    await stage.act(cast.erin.send("/team"))
    await stage.act(cast.erin.press(last(stage, cast.erin), callback_data="team:l:9999",
                                    forge=True))
    shown = last(stage, cast.erin)
    within_limits(shown)
    assert "Page 8 of 8" in shown.text
    assert shown.buttons[-1] == ["◀"]


async def test_the_groups_reminder_naming_everyone_fits_one_message(stage, cast, clock):
    group = await bind_east(stage, cast)
    clock.moment = datetime(2026, 11, 26, 18, tzinfo=SHANGHAI).astimezone(UTC)
    await stage.fire("plan_reminder")
    message = await stage.standin.next_bot_message(group.id)
    assert message.text.startswith("📝 No plan yet for tomorrow (Fri 27 Nov): Carol Lin, "
                                   f"{rep_name(1)}, {rep_name(2)}, ")
    assert len(message.text) <= TEXT_LIMIT
    assert message.text.endswith(f"{rep_name(62)} and 239 more.")


async def test_the_digest_of_three_hundred_reps_keeps_its_totals(stage, cast, clock):
    group = await bind_east(stage, cast)
    clock.moment = datetime(2026, 11, 26, 9, tzinfo=SHANGHAI).astimezone(UTC)
    await stage.fire("morning_digest")
    digest = await stage.standin.next_bot_message(group.id)
    assert digest.text.startswith("📊 Team digest: East region\n")
    assert len(digest.text) <= TEXT_LIMIT
    assert digest.text.endswith("Planned 0/302 · Logged 0/302 · as of 09:00")
