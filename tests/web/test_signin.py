"""Who gets into the Mini App's JSON: init data signed for this bot, fresh, of an active
member; the page's headers; refusals in the caller's language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from storage.tables import MemberRow
from tests.web.conftest import CAROL, ERIN, FIONA, LI, STRANGER, init_data
from web.strings import ERRORS

FOREIGN = "987654321:another-bot"


async def test_a_manager_gets_their_words_and_views(web):
    answer = await web(ERIN).get("/app/api/me")
    assert answer.status_code == 200
    me = answer.json()
    assert me["member"]["name"] == "Erin Zhao"
    assert me["oversees"] is True and me["roles"] == ["manager"]
    assert me["language"] == "en" and me["timezone"] == "Asia/Shanghai"
    assert me["strings"]["Approvals"] == "Approvals"


async def test_a_rep_in_chinese(web):
    me = (await web(LI, language="zh-hans").get("/app/api/me")).json()
    assert me["oversees"] is False and me["language"] == "zh_Hans"
    assert me["strings"]["Approvals"] == "审批"


@pytest.mark.parametrize("case, status, code", [
    ("missing", 401, "init_data_missing"),
    ("garbage", 401, "init_data_malformed"),
    ("forged", 401, "init_data_forged"),
    ("foreign bot", 401, "init_data_forged"),
    ("expired", 401, "init_data_expired"),
    ("from the future", 401, "init_data_expired"),
    ("stranger", 403, "not_a_member"),
])
async def test_whoever_is_not_signed_in_gets_nothing(web, clock, case, status, code):
    raw = {
        "missing": "",
        "garbage": "%%%&&&==",
        "forged": init_data(CAROL, clock).replace("Someone", "Erin"),
        "foreign bot": init_data(ERIN, clock, token=FOREIGN),
        "expired": init_data(ERIN, clock, signed_at=clock.now() - timedelta(hours=1, seconds=1)),
        "from the future": init_data(ERIN, clock, signed_at=clock.now() + timedelta(minutes=5)),
        "stranger": init_data(STRANGER, clock),
    }[case]
    answer = await web(None, raw=raw).get("/app/api/me") if raw else \
        await web(None).get("/app/api/me")
    assert answer.status_code == status
    assert answer.json() == {"error": code, "message": ERRORS[code]}


async def test_an_hour_old_sign_in_still_works_and_the_limit_is_configurable(web, clock):
    fresh_enough = init_data(ERIN, clock, signed_at=clock.now() - timedelta(minutes=59))
    assert (await web(None, raw=fresh_enough).get("/app/api/me")).status_code == 200


async def test_a_refusal_speaks_the_callers_language(web, clock):
    expired = init_data(LI, clock, language="zh-hans",
                        signed_at=clock.now() - timedelta(hours=3))
    answer = await web(None, raw=expired).get("/app/api/me")
    assert answer.json()["message"] == "此页面打开时间过长。请关闭后从机器人重新打开管理面板。"


async def test_a_member_who_left_is_refused_at_once(web, database):
    async with database.uow() as uow:
        await uow.session.execute(update(MemberRow).where(MemberRow.key == "fiona")
                                  .values(active=False))
        await uow.commit()
    answer = await web(FIONA).get("/app/api/me")
    assert answer.status_code == 403 and answer.json()["error"] == "not_a_member"


@pytest.mark.parametrize("web_sections", [{"requests_per_minute": 10}])
async def test_each_member_has_a_rate_limit(web):
    erin, carol = web(ERIN), web(CAROL)
    statuses = [(await erin.get("/app/api/me")).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    refused = await erin.get("/app/api/me")
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["message"] == "That was a lot at once. Please wait a moment and " \
                                        "try again."
    assert (await carol.get("/app/api/me")).status_code == 200


async def test_the_page_is_served_with_a_strict_policy_and_no_data(web):
    page = await web(None).get("/app/")
    assert page.status_code == 200 and "<script>" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    me = await web(ERIN).get("/app/api/me")
    assert me.headers["cache-control"] == "no-store"
    assert me.headers["content-security-policy"] == policy
