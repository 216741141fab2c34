"""What the running bot counts for Prometheus, read from /metrics as a scraper reads it."""

from __future__ import annotations

import pytest

from bootstrap.config import HealthConfig
from bot.health import start_health
from bot.stage import free_port
from standin import Limits
from tests.chat.conftest import answers, last
from tests.chat.test_outbox import add_members, publish_now, text_note, until
from tests.conftest import RunningClock
from tests.scrape import Samples, scrape, value

HARBOR = (31.2400, 121.4900)

pytestmark = [pytest.mark.usefixtures("same_time"),
              # PTB warns about retry_after's future type whenever a RetryAfter is made.
              pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]


@pytest.fixture
def clock():
    """Retries fall due as seconds pass, like in production, on a known day and hour."""
    return RunningClock()


@pytest.fixture
async def metrics_page(org_database, clock):
    """Reads the bot's /metrics page, served as `crmbot run` serves it."""
    port = free_port()
    server = await start_health(HealthConfig(port=port), org_database, lambda: "active",
                                clock=clock)

    async def read() -> Samples:
        return await scrape(f"http://127.0.0.1:{port}/metrics")

    yield read
    await server.stop()


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)


async def test_check_ins_claims_and_decisions_through_the_bot_are_counted(stage, cast,
                                                                           metrics_page):
    before = await metrics_page()
    await stage.act(cast.carol.share_location(*HARBOR, horizontal_accuracy=10.0))
    for text in ("/expense 45 lunch", "/expense 30 taxi"):
        await stage.act(cast.carol.send(text))
        await stage.act(cast.carol.press(last(stage, cast.carol), "✅ Submit"))
    first = await stage.standin.next_bot_message(cast.erin.id)
    second = await stage.standin.next_bot_message(cast.erin.id)
    entries = await stage.act(cast.erin.press(first, "✅ Approve"))
    assert answers(entries) == ["✅ You approved it. Finance checks it next."]
    await stage.act(cast.erin.press(second, "❌ Reject"))
    question = last(stage, cast.erin)
    await stage.act(cast.erin.send("No receipt for the taxi", reply_to=question))
    after = await metrics_page()

    assert moved(before, after, "crmbot_check_ins_total", flagged="no") == 1
    assert moved(before, after, "crmbot_check_ins_total", flagged="yes") == 0
    assert moved(before, after, "crmbot_claims_submitted_total") == 2
    # The first claim still waits for finance: approved by its manager, not yet in full.
    assert moved(before, after, "crmbot_claims_decided_total", decision="approved") == 0
    assert moved(before, after, "crmbot_claims_decided_total", decision="rejected") == 1
    # A location, two /expense and a reason; two Submit, an Approve and a Reject.
    assert moved(before, after, "crmbot_updates_handled_total", kind="message") == 4
    assert moved(before, after, "crmbot_updates_handled_total", kind="callback_query") == 4
    assert moved(before, after, "crmbot_handler_seconds_count", kind="message") == 4


async def test_each_429_the_outbox_meets_is_counted(stage, org_database, config,
                                                    metrics_page):
    members = await add_members(stage, org_database, 16)
    # Tighter than the dispatcher's own limits: some first attempts are refused.
    stage.standin.limits = Limits(overall_per_second=8, private_per_second=0.5)
    before = await metrics_page()
    await publish_now(stage, org_database, config,
                      *(text_note(f"storm:{m}", m, "The price list changed.") for m in members))
    await until(lambda: stage.dispatcher.counters.sent == 16, timeout=20, what="16 sent")
    after = await metrics_page()
    refused = stage.standin.stats.too_many_requests
    assert refused > 0
    assert moved(before, after, "crmbot_too_many_requests_total", sender="outbox") == refused
    assert moved(before, after, "crmbot_too_many_requests_total", sender="reply") == 0
