"""/calendar: my month as an inline keyboard, a day in full, and the day's visit photos."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.albums import send_albums
from bot.callbacks import (
    AskRating,
    CalendarDay,
    CalendarLabel,
    CalendarMonth,
    CalendarPhotos,
    TeamList,
)
from bot.context import CrmContext
from bot.dashboard import View, with_dashboard
from bot.fitting import fit_caption, fit_lines
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator, all_translations
from bot.keyboards import CALENDAR, ButtonHandler
from bot.notices import MONTHS, WEEKDAYS, day_label
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.schedule.calendar import DayMarks, Month
from core.domain.schedule.checkins import TrustFlag
from core.domain.schedule.execution import percent
from core.schedule.calendar import DayView, MonthView

# Every press is untrusted: the services re-check who may see whom on every press.
NOTHING = CalendarLabel().encode()
BLANK = "·"  # Telegram refuses buttons with no visible text

OUTCOME_ICONS = {"done": "✅", "not_done": "❌", "moved": "➡️", "open": "⏳"}
FLAG_NAMES = {
    TrustFlag.STALE: N_("stale"),
    TrustFlag.FORWARDED: N_("forwarded"),
    TrustFlag.MAP_PICKED: N_("picked on the map"),
    TrustFlag.LOW_ACCURACY: N_("low accuracy"),
    TrustFlag.OUTSIDE_GEOFENCE: N_("outside the site"),
    TrustFlag.REUSED_PHOTO: N_("reused photo"),
    TrustFlag.EXIF_MISMATCH: N_("photo details do not match"),
    TrustFlag.NO_PHOTO: N_("no photo"),
}


def month_data(member_id: int, month: Month) -> str:
    return CalendarMonth(member_id, month).encode()


def month_title(t: Translator, month: Month) -> str:
    return t("{month_name} {year}", month_name=t(MONTHS[month.month - 1]), year=month.year)


def day_mark(marks: DayMarks) -> str:
    """One sign per day, the most telling first: a flagged visit, a log, a visit, a plan."""
    if marks.flagged:
        return "⚠"
    if marks.logged:
        return "✓"
    if marks.check_ins:
        return "📍"
    if marks.planned:
        return "•"
    return ""


def month_screen(view: MonthView, t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    """The month (HTML) and its keyboard: ◀ title ▶, weekdays, then a week per row."""
    member_id, month = view.member.id, view.month
    who = t("My schedule") if view.own else escape(view.member.name)
    marks = view.days.values()
    lines = [f"📅 <b>{who} — {escape(month_title(t, month))}</b>",
             t("• plan   ✓ log   📍 check-in   ⚠ flagged check-in"),
             t("Days with a plan: {planned} · with a log: {logged} · check-ins: {check_ins}",
               planned=sum(m.planned for m in marks), logged=sum(m.logged for m in marks),
               check_ins=sum(m.check_ins for m in marks)),
             t("Tap a day to see it.")]
    turn = [InlineKeyboardButton("◀", callback_data=month_data(member_id, month.shift(-1)))
            if view.has_previous else InlineKeyboardButton(BLANK, callback_data=NOTHING),
            InlineKeyboardButton(month_title(t, month), callback_data=NOTHING),
            InlineKeyboardButton("▶", callback_data=month_data(member_id, month.shift(1)))
            if view.has_next else InlineKeyboardButton(BLANK, callback_data=NOTHING)]
    rows = [turn, [InlineKeyboardButton(t(name), callback_data=NOTHING) for name in WEEKDAYS]]
    week = [InlineKeyboardButton(BLANK, callback_data=NOTHING)] * month.first.weekday()
    for day in month.days():
        label = f"{day.day}{day_mark(view.days[day])}"
        if day == view.today:
            label = f"[{label}]"
        week.append(InlineKeyboardButton(label, callback_data=CalendarDay(member_id, day).encode()))
        if len(week) == 7:
            rows.append(week)
            week = []
    if week:
        rows.append(week + [InlineKeyboardButton(BLANK, callback_data=NOTHING)] * (7 - len(week)))
    if not view.own:
        rows.append([InlineKeyboardButton(t("« Team"), callback_data=TeamList().encode())])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


def day_text(view: DayView, t: Translator, footer: tuple[str, ...] = ()) -> str:
    """The day as its owner sees it: plan with outcomes, log, check-ins with map links; the
    footer's lines below, all within a message's length."""
    zone = ZoneInfo(view.timezone)
    who = t("My day") if view.own else escape(view.member.name)
    lines = [f"📅 <b>{who} — {escape(day_label(t, view.day))}</b>", ""]
    if view.items:
        execution = view.execution
        lines.append(t("<b>Plan</b> — done {done} of {planned} ({rate}), verified {verified}",
                       done=execution.done, planned=execution.planned,
                       rate=percent(execution.rate), verified=percent(execution.verified_rate)))
        for item in view.items:
            parts = [OUTCOME_ICONS.get(item.outcome, "•")]
            if item.at_time:
                parts.append(item.at_time)
            parts.append(escape(item.text))
            if item.customer:
                parts.append("— " + escape(item.customer))
            if item.outcome == "moved" and item.moved_to:
                parts.append(t("(moved to {day})", day=day_label(t, item.moved_to)))
            if item.verified:
                parts.append(t("(visit verified)"))
            lines.append(" ".join(parts))
            if item.note:
                lines.append(f"   <i>{escape(item.note)}</i>")
    else:
        lines.append(t("No plan for this day."))
    lines.append("")
    if view.log:
        head = t("<b>Log</b>")
        if view.log.amended_late:
            head += " " + t("(amended late)")
        lines.append(head)
        lines += [f"• {escape(e.text)}" + (f" — {escape(e.customer)}" if e.customer else "")
                  for e in view.entries]
        if view.log.note:
            lines.append(t("Note: {note}", note=escape(view.log.note)))
        if not view.entries and not view.log.note:
            lines.append(t("Written; no unplanned work or notes."))
        if view.log.rating:
            rating = t("Rating: {stars} by {manager}", stars=_stars(view.log.rating),
                       manager=escape(view.rated_by or "—"))
            if view.log.rating_comment:
                rating += f" — “{escape(view.log.rating_comment)}”"
            lines.append(rating)
    else:
        lines.append(t("No work log for this day."))
    lines.append("")
    if view.check_ins:
        lines.append(t("<b>Check-ins</b>"))
        for visit in view.check_ins:
            place = escape(visit.customer) if visit.customer else t("no customer's site")
            line = f"📍 {visit.at.astimezone(zone):%H:%M} {place}"
            if visit.flags:
                line += " ⚠ " + t(", ").join(t(FLAG_NAMES[f]) for f in sorted(visit.flags))
            line += f' · <a href="{escape(visit.map_link)}">{t("map")}</a>'
            if visit.photos:
                line += f" · 📷 {visit.photos}"
            lines.append(line)
    else:
        lines.append(t("No check-ins on this day."))
    return fit_lines(lines, footer=footer)


def day_keyboard(view: DayView, t: Translator) -> InlineKeyboardMarkup:
    member_id, day = view.member.id, view.day
    rows = []
    if view.photos:
        rows.append([InlineKeyboardButton(t("📷 Photos ({count})", count=view.photos),
                                          callback_data=CalendarPhotos(member_id, day).encode())])
    if view.can_rate:
        rows.append([InlineKeyboardButton(t("⭐ Rate this log"),
                                          callback_data=AskRating(member_id, day).encode())])
    rows.append([InlineKeyboardButton(t("« Month"),
                                      callback_data=month_data(member_id, Month.of(day)))])
    return InlineKeyboardMarkup(rows)


def _mine(update: Update, context: CrmContext, view: MonthView | DayView,
          keyboard: InlineKeyboardMarkup) -> InlineKeyboardMarkup | None:
    """My own calendar carries the dashboard's button, which opens on my day; someone
    else's (a manager's look from /team) does not."""
    return with_dashboard(update, context, View.MINE, keyboard) if view.own else keyboard


async def show_calendar(update: Update, context: CrmContext) -> None:
    """This month of my schedule."""
    try:
        view = await context.services.calendar.month(update.effective_user.id)
    except DomainError as error:
        await update.effective_message.reply_text(refusal(context.t, error))
        return
    text, keyboard = month_screen(view, context.t)
    await update.effective_message.reply_html(
        text, reply_markup=_mine(update, context, view, keyboard))


@private_press("calendar")
async def label_pressed(update: Update, context: CrmContext) -> None:
    """A title, a weekday or a blank: nothing to do but stop the spinner."""
    await update.callback_query.answer()


@private_press("calendar")
async def turn_month(update: Update, context: CrmContext) -> None:
    """Another month of someone's calendar (no further than the calendar goes)."""
    press, query, t = CalendarMonth.of(update), update.callback_query, context.t
    view = await context.services.calendar.month(update.effective_user.id, press.month,
                                                 member_id=press.member_id)
    await query.answer(t("That is as far as the calendar goes.") if view.clamped else None)
    text, keyboard = month_screen(view, t)
    await edit_or_send(update, context, text, _mine(update, context, view, keyboard))


@private_press("calendar")
async def open_day(update: Update, context: CrmContext) -> None:
    """One day of someone's calendar in full."""
    press, t = CalendarDay.of(update), context.t
    view = await context.services.calendar.day(update.effective_user.id, press.day,
                                               member_id=press.member_id)
    await update.callback_query.answer()
    await edit_or_send(update, context, day_text(view, t),
                       _mine(update, context, view, day_keyboard(view, t)))


@private_press("calendar")
async def send_photos(update: Update, context: CrmContext) -> None:
    """The day's photos, watermarked, as albums of up to ten (one alone as a photo)."""
    press, query, t = CalendarPhotos.of(update), update.callback_query, context.t
    photos = await context.services.calendar.photos(update.effective_user.id, press.member_id,
                                                    press.day)
    if not photos:
        await query.answer(t("No photos are kept for this day."), show_alert=True)
        return
    await query.answer()
    await send_albums(context.bot, update.effective_chat.id,
                      [InputMediaPhoto(p.data, caption=fit_caption(p.caption)) for p in photos])


def handlers() -> list:
    return [
        CommandHandler("calendar", show_calendar),
        MessageHandler(filters.ChatType.PRIVATE & filters.Text(all_translations(CALENDAR.label)),
                       show_calendar),
        ButtonHandler(CalendarLabel, label_pressed),
        ButtonHandler(CalendarMonth, turn_month),
        ButtonHandler(CalendarDay, open_day),
        ButtonHandler(CalendarPhotos, send_photos),
    ]
