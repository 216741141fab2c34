"""Today: the team's people, their check-ins on a map, and one person's month and days.

What /team and /calendar show in the chat, as JSON: core decides whom the caller sees (the
people below them; everyone their own schedule) and computes every mark and rate; the day's
photos come watermarked as the chat sends them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from bot.handlers.calendar import FLAG_NAMES, OUTCOME_ICONS, day_mark, month_title
from bot.i18n import N_, Translator
from bot.notices import WEEKDAYS, day_label
from core.domain.org.model import Department
from core.domain.schedule.calendar import CheckInFact, Month
from core.domain.schedule.checkins import TrustFlag
from core.domain.schedule.execution import percent
from core.schedule.calendar import DayView, MonthView, TeamToday
from web.app import Viewer, WebError, Who, json_response

router = APIRouter()

LAST_ID = 2**31 - 1
LAST_PHOTO = 9_999  # far more than a day holds
MemberId = Annotated[int, Path(ge=1, le=LAST_ID)]
# The page sends months as 2026-11 and days as 2026-11-26; anything else is refused.
MONTH_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})")
DAY_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

BAD_MONTH = N_("I could not read that month: the page asks for one like 2026-11.")
BAD_DAY = N_("I could not read that day: the page asks for one like 2026-11-26.")

STRINGS: tuple[str, ...] = (
    N_("All departments"),
    N_("Department"),
    N_("Search by name"),
    N_("Shown: {shown} of {total}"),
    N_("Nobody here matches."),
    N_("No check-ins today yet."),
    N_("Map of today's check-ins and customer sites"),
    N_("Open the calendar"),
    N_("Plan"),
    N_("Log"),
    N_("Check-ins"),
    N_("Photos"),
    N_("Photo {n}"),
    N_("map"),
    N_("Previous month"),
    N_("Next month"),
)


class MonthAsked(BaseModel):
    """GET /people/{id}/month: the month (none: this one)."""

    model_config = ConfigDict(extra="forbid")
    month: str = Field("", max_length=16)


def _month(text: str, t: Translator) -> Month | None:
    """The month asked for; core brings one beyond the calendar's reach back to its end."""
    if not text:
        return None
    found = MONTH_TEXT.fullmatch(text)
    if found is None or int(found[1]) < 1 or not 1 <= int(found[2]) <= 12:
        raise WebError(400, "bad_month", t(BAD_MONTH))
    return Month(int(found[1]), int(found[2]))


def _day(text: str, who: Viewer) -> date:
    """The day asked for: a real date in a month the calendar shows."""
    found = DAY_TEXT.fullmatch(text)
    try:
        day = date(int(found[1]), int(found[2]), int(found[3])) if found else None
    except ValueError:
        day = None
    if day is None:
        raise WebError(400, "bad_day", who.t(BAD_DAY))
    return day  # core refuses a day the calendar does not show


def _month_key(month: Month) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def departments_json(departments: list[Department]) -> list[dict]:
    """Each department (parents first) with its depth and the ids of it and those below it,
    so that picking a department shows the people of its whole subtree."""
    depth: dict[int, int] = {}
    within: dict[int, list[int]] = {}
    parents = {d.id: d.parent_id for d in departments}
    for department in departments:
        depth[department.id] = depth[department.parent_id] + 1 \
            if department.parent_id in depth else 0
        within[department.id] = [department.id]
        parent = department.parent_id
        while parent in within:
            within[parent].append(department.id)
            parent = parents[parent]
    return [{"id": d.id, "name": d.name, "depth": depth[d.id], "within": within[d.id]}
            for d in departments]


def _flag_names(flags: frozenset[TrustFlag], t: Translator,
                said: dict[frozenset[TrustFlag], str]) -> str:
    """'stale, low accuracy' as the chat lists them ('' for none), worked out once for each
    set of flags."""
    if flags not in said:
        said[flags] = t(", ").join(t(FLAG_NAMES[f]) for f in sorted(flags))
    return said[flags]


def check_in_json(check_in: CheckInFact, zone: ZoneInfo, t: Translator,
                  said: dict[frozenset[TrustFlag], str]) -> dict:
    """A check-in as a point on the map: whose, when (team's zone), where and its flags."""
    return {"id": check_in.id, "member": check_in.member_id,
            "time": check_in.at.astimezone(zone).strftime("%H:%M"),
            "lat": check_in.lat, "lon": check_in.lon,
            "place": check_in.customer or t("no customer's site"),
            "flags": _flag_names(check_in.flags, t, said)}


def today_json(team: TeamToday, timezone: str, t: Translator) -> dict:
    zone, said = ZoneInfo(timezone), {}  # said: flags' names, once per set of flags
    return {
        "title": t("Your team today — {day}", day=day_label(t, team.today)),
        "legend": t("plan / check-ins / log · this week's execution"),
        "today": team.today.isoformat(),
        "month": _month_key(Month.of(team.today)),
        "empty": None if team.rows else t("Nobody in your team yet."),
        "flag_note": (t("⚠ a check-in today carries a trust flag: open the day to see why.")
                      if any(r.flagged for r in team.rows) else None),
        "hint": t("Tap a person to see their calendar.") if team.rows else None,
        "departments": departments_json(team.departments),
        "rows": [{"id": r.member.id, "name": r.member.name,
                  "department": r.member.department_id, "planned": r.planned,
                  "logged": r.logged, "check_ins": r.check_ins, "flagged": r.flagged,
                  "week": percent(r.week.rate)} for r in team.rows],
        "check_ins": [check_in_json(c, zone, t, said) for c in team.check_ins],
        "sites": [{"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon,
                   "radius": s.radius_m} for s in team.sites],
    }


@router.get("/today")
async def today(who: Who, request: Request) -> Response:
    """Everyone below the manager today, flagged first, with today's check-ins and the sites
    of the customers they were at, as /team counts them."""
    team = await request.app.state.services.team.today(who.account_id, with_sites=True)
    return json_response(today_json(team, who.timezone, who.t))


MY_SCHEDULE, MY_DAY = N_("My schedule"), N_("My day")


def _whose(view: MonthView | DayView, own: str, t: Translator) -> str:
    """The person's name, or how the chat calls one's own schedule."""
    return t(own) if view.own else view.member.name


def month_json(view: MonthView, t: Translator) -> dict:
    month, marks = view.month, view.days.values()
    return {
        "member": {"id": view.member.id, "name": view.member.name},
        "own": view.own,
        "title": f"{_whose(view, MY_SCHEDULE, t)} — {month_title(t, month)}",
        "month": _month_key(month),
        "previous": _month_key(month.shift(-1)) if view.has_previous else None,
        "next": _month_key(month.shift(1)) if view.has_next else None,
        "note": t("That is as far as the calendar goes.") if view.clamped else None,
        "legend": t("• plan   ✓ log   📍 check-in   ⚠ flagged check-in"),
        "summary": t("Days with a plan: {planned} · with a log: {logged} · check-ins: "
                     "{check_ins}", planned=sum(m.planned for m in marks),
                     logged=sum(m.logged for m in marks),
                     check_ins=sum(m.check_ins for m in marks)),
        "hint": t("Tap a day to see it."),
        "weekdays": [t(name) for name in WEEKDAYS],
        "lead": month.first.weekday(),
        "today": view.today.isoformat(),
        "days": [{"day": day.isoformat(), "n": day.day, "mark": day_mark(m),
                  "planned": m.planned, "logged": m.logged, "check_ins": m.check_ins,
                  "flagged": m.flagged, "rating": m.rating}
                 for day, m in sorted(view.days.items())],
    }


@router.get("/people/{member_id}/month")
async def month(who: Who, request: Request, member_id: MemberId,
                asked: Annotated[MonthAsked, Query()]) -> Response:
    """A month of someone's calendar (one's own too), a mark for each day, as /calendar."""
    view = await request.app.state.services.calendar.month(
        who.account_id, _month(asked.month, who.t), member_id=member_id)
    return json_response(month_json(view, who.t))


def _stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def _plan_json(view: DayView, t: Translator) -> dict:
    execution = view.execution
    items = []
    for item in view.items:
        items.append({
            "icon": OUTCOME_ICONS.get(item.outcome, "•"), "time": item.at_time,
            "text": item.text, "customer": item.customer,
            "moved": (t("(moved to {day})", day=day_label(t, item.moved_to))
                      if item.outcome == "moved" and item.moved_to else None),
            "verified": t("(visit verified)") if item.verified else None,
            "note": item.note})
    return {
        "summary": t("Done {done} of {planned} ({rate}), verified {verified}",
                     done=execution.done, planned=execution.planned,
                     rate=percent(execution.rate),
                     verified=percent(execution.verified_rate)) if view.items else None,
        "items": items,
        "empty": None if view.items else t("No plan for this day."),
    }


def _log_json(view: DayView, t: Translator) -> dict:
    log = view.log
    if log is None:
        return {"written": False, "entries": [], "empty": t("No work log for this day.")}
    rating = None
    if log.rating:
        rating = t("Rating: {stars} by {manager}", stars=_stars(log.rating),
                   manager=view.rated_by or "—")
        if log.rating_comment:
            rating += f" — “{log.rating_comment}”"
    return {
        "written": True,
        "amended": t("(amended late)") if log.amended_late else None,
        "entries": [{"text": e.text, "customer": e.customer} for e in view.entries],
        "note": t("Note: {note}", note=log.note) if log.note else None,
        "empty": (t("Written; no unplanned work or notes.")
                  if not view.entries and not log.note else None),
        "rating": rating,
    }


def day_json(view: DayView, t: Translator) -> dict:
    zone, member_id, day = ZoneInfo(view.timezone), view.member.id, view.day.isoformat()
    said: dict[frozenset[TrustFlag], str] = {}
    return {
        "member": {"id": member_id, "name": view.member.name},
        "own": view.own,
        "day": day,
        "month": _month_key(Month.of(view.day)),
        "title": f"{_whose(view, MY_DAY, t)} — {day_label(t, view.day)}",
        "plan": _plan_json(view, t),
        "log": _log_json(view, t),
        "check_ins": [{**check_in_json(c, zone, t, said), "photos": c.photos,
                       "map": c.map_link} for c in view.check_ins],
        "no_check_ins": None if view.check_ins else t("No check-ins on this day."),
        "photos": [f"people/{member_id}/days/{day}/photos/{n}" for n in range(view.photos)],
    }


@router.get("/people/{member_id}/days/{day}")
async def day(who: Who, request: Request, member_id: MemberId,
              day: Annotated[str, Path(max_length=16)]) -> Response:
    """A day of someone's calendar in full: plan with outcomes, log, check-ins, photos."""
    view = await request.app.state.services.calendar.day(
        who.account_id, _day(day, who), member_id=member_id)
    return json_response(day_json(view, who.t))


@router.get("/people/{member_id}/days/{day}/photos/{number}")
async def photo(who: Who, request: Request, member_id: MemberId,
                day: Annotated[str, Path(max_length=16)],
                number: Annotated[int, Path(ge=0, le=LAST_PHOTO)]) -> Response:
    """One of the day's visit photos as a JPEG, watermarked with who, when and where."""
    shown = await request.app.state.services.calendar.photo(
        who.account_id, member_id, _day(day, who), number)
    return Response(shown.data, media_type="image/jpeg")
