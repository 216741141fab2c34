"""`crmbot demo` plays every scene and prints the chats."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

import httpx

from bot.demo import SCENES, run_demo
from bot.stage import free_port


async def test_demo_plays_every_scene_and_exits_zero():
    lines: list[str] = []
    assert await run_demo(out=lines.append) == 0
    shown = "\n".join(lines)
    for expected in (
        "Scene 1: A rep starts the bot and asks for help",
        "bot #2: Hello, Carol Lin! What would you like to do?",
        "⌨ [❓ Help] [🌐 Language]",
        "Max Mustermann #1: /start",
        "Sorry, this bot is only for members of our sales team.",
        "Welcome to the team, Nora Quinn! You have joined East region.",
        "This invite link has already been used.",
        "Carol Lin pressed [简体中文]",
        "从现在起我会用简体中文和你交流。",
        "Scene 5: Evening and morning: a plan reminder reaches a rep, the digest reaches",
        "bot #1: 📝 Tomorrow (Thu 26 Nov) has no plan yet.",
        "📝 明天（11月26日 周四）还没有计划。",
        "📝 No plan yet for tomorrow (Thu 26 Nov): Carol Lin, Nora Quinn, 李伟.",
        "Wed 25 Nov — plan / log",
        "Planned 0/3 · Logged 0/3 · as of 09:00",
        "bot edited #4: 📊 Team digest: East region",
        "Scene 6: A day in the field: plan, check-in with a photo, a forwarded location",
        "📍 Checked in at Harbor Logistics",
        "A forwarded location is not a check-in",
        "✅ Plan for Fri 27 Nov saved",
        "[23] [24] [25] [[26✓]] [27•] [28] [29]",
        "👥 Your team today — Thu 26 Nov",
        "✅ 1 ✅ · 100%  Carol Lin",
        '🖼 photo 960×720: "Carol Lin · 2026-11-26 10:05 (Asia/Shanghai) · Harbor Logistics"',
        "[1 ★] [2 ★] [3 ★] [4 ★] [5 ★]",
        "⭐ Erin Zhao rated your work log of Thu 26 Nov: ★★★★★",
        "Comment: Great kickoff, and the photo proves it.",
        ": Expenses: a claim with a receipt approved in one tap",
        ": /expense 268 client lunch at Harbor Logistics",
        "✅ Claim EXP-2026-000001 submitted: CNY 268.00 · Meals.",
        "Erin Zhao pressed [✅ Approve]",
        "✅ Your claim EXP-2026-000001 (CNY 268.00) is approved.",
        "⏫ Over budget: one more approval level was added",
        "Final decision: ❌ rejected by Dana Whitfield: Over the entertainment budget",
        "expenses-2026-11-committed.xlsx",
        "approved + pending: 1 claim, total 268.00",
    ):
        assert expected in shown, expected


async def test_the_demo_serves_its_dashboard_where_the_manager_approves_the_waiting_claim():
    """`crmbot demo --serve`: the printed link signs Erin in; approving Carol's taxi claim
    in the dashboard reaches the chats, which the demo goes on printing."""
    lines: list[str] = []
    stop = asyncio.Event()
    port = free_port()
    demo = asyncio.create_task(run_demo(out=lines.append, serve=port, stop=stop,
                                        scenes=[SCENES[-1]]))
    try:
        link = await _printed(lines, lambda line: line.startswith(f"http://127.0.0.1:{port}/"))
        fragment = dict(parse_qsl(urlsplit(link).fragment))
        headers = {"Authorization": f"tma {fragment['tgWebAppData']}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers=headers) as web:
            assert (await web.get("/app/")).status_code == 200
            assert (await web.get("/app/api/me")).json()["member"]["name"] == "Erin Zhao"
            [waiting] = (await web.get("/app/api/approvals")).json()["claims"]
            decided = await web.post(f"/app/api/claims/{waiting['id']}/approve",
                                     json={"version": waiting["version"]})
            assert decided.status_code == 200
        told = await _printed(lines, lambda line: "is approved" in line or
                              "Finance checks it next" in line or "Erin Zhao approved" in line)
        assert "EXP-2026-" in told
    finally:
        stop.set()
        assert await demo == 0


async def _printed(lines: list[str], wanted, timeout: float = 60.0) -> str:
    """The first printed line (of the chunks printed so far) that is wanted."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for chunk in lines:
            for line in chunk.splitlines():
                if wanted(line):
                    return line
        await asyncio.sleep(0.05)
    raise AssertionError("not printed:\n" + "\n".join(lines)[-3000:])
