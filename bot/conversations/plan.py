"""/plan: write a day's plan: items typed one per message, a customer and a time by buttons.

The draft lives in chat_data and is saved in one unit of work by "Save": /cancel, a timeout
or a restart drops the draft and leaves the stored plan as it was. Items already stored are
edited or deleted at once, each press checked again by the service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, time
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.callbacks import (
    CancelPlan,
    DeletePlanItem,
    DropNewItem,
    EditPlanItem,
    PlanCustomer,
    PlanForDay,
    PlanOpportunity,
    PlanReminder,
    PlanTime,
    PlanVisit,
    SavePlan,
)
from bot.context import CrmContext
from bot.conversations.flow import (
    ScheduleConversation,
    day_argument,
    draft_closed,
    drop_draft,
    enter,
    menu_button,
    refuse,
    typed,
)
from bot.fitting import fit_lines
from bot.handlers.gate import pressed_outside_private_chat
from bot.handlers.inbox import edit_or_send
from bot.i18n import Translator
from bot.keyboards import PLAN, ButtonHandler, answer_stale
from bot.notices import day_label
from core.domain.days import Toward
from core.domain.errors import DomainError
from core.domain.schedule.execution import ItemOutcome
from core.domain.schedule.plans import NewItem, PlanItem, check_item_count
from core.schedule.plans import PlanDay, check_text, check_time

# States
ITEM, CUSTOMER, TIME, EDIT = range(4)

DRAFT = "plan_draft"
TIMES = tuple(tuple(time(hour) for hour in hours) for hours in ((9, 10, 11), (14, 15, 16)))
DAYS_OFFERED = 3  # today and the next working days, as buttons


def _draft(context: CrmContext) -> dict | None:
    return context.chat_data.get(DRAFT)


def _line(t: Translator, number: int | str, text: str, customer: str | None,
          at: str | None, deal: bool = False) -> str:
    parts = [f"{number}."]
    if at:
        parts.append(f"<b>{at}</b>")
    parts.append(escape(text))
    if customer:
        parts.append(t("· 🏢 {customer}", customer=escape(customer)))
    if deal:
        parts.append("💼")
    return " ".join(parts)


def item_line(t: Translator, number: int, item: PlanItem) -> str:
    return _line(t, number, item.text, item.customer_name, item.at_time,
                 item.opportunity_id is not None)


def review_screen(t: Translator, plan: PlanDay, draft: dict,
                  offered_days: list[date]) -> tuple[str, InlineKeyboardMarkup]:
    """The plan as stored, the new items not saved yet, and what to do next."""
    lines = [t("🗓 <b>Plan for {day}</b>", day=day_label(t, plan.day)), ""]
    for number, item in enumerate(plan.items, start=1):
        lines.append(item_line(t, number, item))
    new = draft["items"]
    if new:
        if plan.items:
            lines.append("")
        lines.append(t("<i>New, not saved yet:</i>"))
        for number, item in enumerate(new, start=len(plan.items) + 1):
            lines.append(_line(t, number, item["text"], item.get("customer"), item.get("at"),
                               item.get("opportunity_id") is not None))
    if not plan.items and not new:
        lines.append(t("Nothing planned yet."))
    footer = [""]
    if new:
        footer.append(t("Send the next item as a message, or save the plan."))
    else:
        footer.append(t("Send what you will do, one item per message, for example "
                       "“Visit Harbor Logistics: show the new price list”."))
    rows: list[list[InlineKeyboardButton]] = []
    if not new and len(offered_days) > 1:
        rows.append([InlineKeyboardButton(
            ("✓ " if day == plan.day else "") + day_label(t, day),
            callback_data=PlanForDay(day).encode()) for day in offered_days])
    for number, item in enumerate(plan.items, start=1):
        if plan.editable and item.outcome is ItemOutcome.OPEN:
            rows.append([
                InlineKeyboardButton(f"✏️ {number}", callback_data=EditPlanItem(item.id).encode()),
                InlineKeyboardButton(f"🗑 {number}",
                                     callback_data=DeletePlanItem(item.id).encode())])
    drop = [InlineKeyboardButton(t("🗑 {n} (new)", n=len(plan.items) + index + 1),
                                 callback_data=DropNewItem(index).encode())
            for index in range(len(new))]
    rows += [drop[i:i + 3] for i in range(0, len(drop), 3)]
    last = [InlineKeyboardButton(t("✖ Cancel"), callback_data=CancelPlan().encode())]
    if new:
        last.insert(0, InlineKeyboardButton(t("✅ Save plan"), callback_data=SavePlan().encode()))
    rows.append(last)
    return fit_lines(lines, footer=footer), InlineKeyboardMarkup(rows)


def offered_days(context: CrmContext, today: date) -> list[date]:
    """Today and the next working days: the days a plan is usually written for."""
    calendar = context.services.plans.calendar
    days = [today]
    while len(days) < DAYS_OFFERED:
        days.append(calendar.next_working_day(days[-1]))
    return days


async def _show(update: Update, context: CrmContext, plan: PlanDay) -> int:
    draft = _draft(context)
    text, keyboard = review_screen(context.t, plan, draft, offered_days(context, plan.today))
    await edit_or_send(update, context, text, keyboard)
    return ITEM


async def _open(update: Update, context: CrmContext, day: date | None) -> int:
    try:
        plan = await context.services.plans.open_day(update.effective_user.id, day)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    if update.callback_query:
        await update.callback_query.answer()
    enter(context, "plan")
    context.chat_data[DRAFT] = {"day": plan.day.isoformat(), "items": []}
    return await _show(update, context, plan)


async def start(update: Update, context: CrmContext) -> int:
    """/plan [date] or the 🗓 Plan button: the plan for that day, default the next working day."""
    try:
        day = await day_argument(context, Toward.FUTURE)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    return await _open(update, context, day)


async def _start_on(update: Update, context: CrmContext, day: date) -> int:
    if await pressed_outside_private_chat(update, context, "plan"):
        return ConversationHandler.END
    if (draft := _draft(context)) and draft["items"]:
        # Changing the day would silently drop typed items: the day buttons are gone by now.
        await update.callback_query.answer(context.t("Save or cancel this plan first."),
                                           show_alert=True)
        return ITEM
    return await _open(update, context, day)


async def start_on_day(update: Update, context: CrmContext) -> int:
    """A day picker's button: the plan for that day."""
    return await _start_on(update, context, PlanForDay.of(update).day)


async def start_from_reminder(update: Update, context: CrmContext) -> int:
    """🗓 Write the plan, on a reminder: the plan for the day it names."""
    return await _start_on(update, context, PlanReminder.of(update).day)


async def start_visit(update: Update, context: CrmContext) -> int:
    """🗓 Plan a visit, on an opportunity's card: the next working day's plan with "Visit
    <customer>" drafted, linked to the deal and its customer, sent below the card."""
    query, t = update.callback_query, context.t
    if await pressed_outside_private_chat(update, context, "plan"):
        return ConversationHandler.END
    opportunity_id = PlanVisit.of(update).opportunity_id
    if (draft := _draft(context)) and draft["items"]:
        await query.answer(t("Save or cancel this plan first."), show_alert=True)
        return ITEM
    plans, user_id = context.services.plans, update.effective_user.id
    try:
        deal = await plans.opportunity(user_id, opportunity_id)
        plan = await plans.open_day(user_id)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    await query.answer()
    enter(context, "plan")
    context.chat_data[DRAFT] = {"day": plan.day.isoformat(), "items": [{
        "text": t("Visit {customer}", customer=deal.customer_name),
        "customer_id": deal.customer_id, "customer": deal.customer_name,
        "opportunity_id": deal.id}]}
    text, keyboard = review_screen(t, plan, context.chat_data[DRAFT],
                                   offered_days(context, plan.today))
    await context.bot.send_message(update.effective_chat.id, text, parse_mode="HTML",
                                   reply_markup=keyboard)
    return ITEM


async def got_item(update: Update, context: CrmContext) -> int:
    """An item's text: ask which customer it is for."""
    draft, t = _draft(context), context.t
    if draft is None:
        return ConversationHandler.END
    try:
        text = check_text(update.effective_message.text)
        plan = await context.services.plans.open_day(update.effective_user.id,
                                                     date.fromisoformat(draft["day"]))
        check_item_count(len(plan.items) + len(draft["items"]))
    except DomainError as error:
        await refuse(update, context, error)
        return ITEM
    draft["pending"] = {"text": text}
    customers = await context.services.plans.customers(update.effective_user.id)
    deals = await context.services.plans.opportunities(update.effective_user.id)
    await update.effective_message.reply_text(
        t("Which customer is it for? Tap one, or type a few letters of the name."),
        reply_markup=customer_keyboard(t, customers, deals))
    return CUSTOMER


def customer_keyboard(t: Translator, customers, deals=()) -> InlineKeyboardMarkup:
    """Customers two a row; then my open opportunities (the item is linked to the deal and
    its customer); then none."""
    buttons = [InlineKeyboardButton(c.name, callback_data=PlanCustomer(c.id).encode())
               for c in customers]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows += [[InlineKeyboardButton(f"💼 {d.title[:30]} — {d.customer_name[:20]}",
                                   callback_data=PlanOpportunity(d.id).encode())] for d in deals]
    rows.append([InlineKeyboardButton(t("⏭ No customer"),
                                      callback_data=PlanCustomer(None).encode())])
    return InlineKeyboardMarkup(rows)


async def search_customer(update: Update, context: CrmContext) -> int:
    """Letters typed while picking a customer: the customers whose names match."""
    t, letters = context.t, update.effective_message.text.strip()
    found = await context.services.plans.customers(update.effective_user.id, letters[:50])
    if found:
        text = t("Customers matching “{letters}”:", letters=letters[:50])
    else:
        text = t("No customer matches “{letters}”. Try other letters, or go on without one.",
                 letters=letters[:50])
    await update.effective_message.reply_text(text, reply_markup=customer_keyboard(t, found))
    return CUSTOMER


async def chose_customer(update: Update, context: CrmContext) -> int:
    """A customer (or none): ask for the time."""
    query, t, draft = update.callback_query, context.t, _draft(context)
    if draft is None or "pending" not in draft:
        return await stale(update, context)
    customer_id = PlanCustomer.of(update).customer_id
    if customer_id is not None:
        customer = await context.services.plans.customer(customer_id)
        if customer is None:
            await query.answer(t("I could not find that customer."), show_alert=True)
            return CUSTOMER
        draft["pending"] |= {"customer_id": customer.id, "customer": customer.name}
    await query.answer()
    return await _ask_time(update, context)


async def chose_opportunity(update: Update, context: CrmContext) -> int:
    """One of my open opportunities: the item is for its customer, linked to the deal."""
    query, draft = update.callback_query, _draft(context)
    if draft is None or "pending" not in draft:
        return await stale(update, context)
    try:
        deal = await context.services.plans.opportunity(update.effective_user.id,
                                                        PlanOpportunity.of(update).opportunity_id)
    except DomainError as error:
        await refuse(update, context, error)
        return CUSTOMER
    draft["pending"] |= {"customer_id": deal.customer_id, "customer": deal.customer_name,
                         "opportunity_id": deal.id}
    await query.answer()
    return await _ask_time(update, context)


async def _ask_time(update: Update, context: CrmContext) -> int:
    t = context.t
    rows = [[InlineKeyboardButton(f"{at:%H:%M}", callback_data=PlanTime(at).encode())
             for at in row] for row in TIMES]
    rows.append([InlineKeyboardButton(t("⏭ No set time"), callback_data=PlanTime(None).encode())])
    await edit_or_send(update, context, t("At what time? Tap one, or type it like 9:30."),
                       InlineKeyboardMarkup(rows))
    return TIME


async def _add_pending(update: Update, context: CrmContext, at: str | None) -> int:
    draft = _draft(context)
    item = draft.pop("pending")
    if at:
        item["at"] = at
    draft["items"].append(item)
    plan = await context.services.plans.open_day(update.effective_user.id,
                                                 date.fromisoformat(draft["day"]))
    return await _show(update, context, plan)


async def chose_time(update: Update, context: CrmContext) -> int:
    """A time button (or none): the item joins the draft; show the review."""
    draft = _draft(context)
    if draft is None or "pending" not in draft:
        return await stale(update, context)
    chosen = PlanTime.of(update).at
    try:
        at = None if chosen is None else check_time(f"{chosen:%H:%M}")
    except DomainError as error:
        await refuse(update, context, error)
        return TIME
    await update.callback_query.answer()
    return await _add_pending(update, context, at)


async def typed_time(update: Update, context: CrmContext) -> int:
    """A time typed like 9:30."""
    try:
        at = check_time(update.effective_message.text)
    except DomainError as error:
        await refuse(update, context, error)
        return TIME
    return await _add_pending(update, context, at)


async def _review_press(update: Update, context: CrmContext,
                        act: Callable[[dict], Awaitable[int | None]]) -> int | None:
    """A button under the plan's review: refused in a group, closed without a draft; a
    refusal keeps the draft at the question it was at."""
    if await pressed_outside_private_chat(update, context, "plan"):
        return ConversationHandler.END
    draft = _draft(context)
    if draft is None:
        return await stale(update, context)
    try:
        return await act(draft)
    except DomainError as error:
        await refuse(update, context, error)
        return None


async def save(update: Update, context: CrmContext) -> int | None:
    """✅ Save plan: the new items are stored in one go."""
    query, t = update.callback_query, context.t

    async def act(draft: dict) -> int:
        plan = await context.services.plans.save(
            update.effective_user.id, date.fromisoformat(draft["day"]), [
                NewItem(i["text"], i.get("customer_id"), i.get("at"), i.get("opportunity_id"))
                for i in draft["items"]])
        await query.answer(t("Saved."))
        context.chat_data.pop(DRAFT, None)
        await edit_or_send(update, context, saved_screen(t, plan), None)
        return ConversationHandler.END

    return await _review_press(update, context, act)


async def drop_new_item(update: Update, context: CrmContext) -> int | None:
    """🗑 on a new item: it leaves the draft."""
    index = DropNewItem.of(update).index

    async def act(draft: dict) -> int | None:
        if index >= len(draft["items"]):
            await answer_stale(update.callback_query, context.t)
            return None
        draft["items"].pop(index)
        await update.callback_query.answer()
        plan = await context.services.plans.open_day(update.effective_user.id,
                                                     date.fromisoformat(draft["day"]))
        return await _show(update, context, plan)

    return await _review_press(update, context, act)


async def delete_item(update: Update, context: CrmContext) -> int | None:
    """🗑 on a stored item: deleted at once."""
    item_id = DeletePlanItem.of(update).item_id

    async def act(draft: dict) -> int:
        plan = await context.services.plans.delete_item(update.effective_user.id, item_id)
        await update.callback_query.answer(context.t("Deleted."))
        return await _show(update, context, plan)

    return await _review_press(update, context, act)


async def edit_item(update: Update, context: CrmContext) -> int | None:
    """✏️ on a stored item: its new text is typed next."""
    item_id = EditPlanItem.of(update).item_id

    async def act(draft: dict) -> int:
        draft["edit"] = item_id
        await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id,
                                       context.t("Send the new text for this item."))
        return EDIT

    return await _review_press(update, context, act)


async def edited(update: Update, context: CrmContext) -> int:
    """The new text of a stored item."""
    draft = _draft(context)
    try:
        plan = await context.services.plans.edit_item(
            update.effective_user.id, draft.pop("edit"), update.effective_message.text)
    except DomainError as error:
        await refuse(update, context, error)
        return ITEM
    return await _show(update, context, plan)


def saved_screen(t: Translator, plan: PlanDay) -> str:
    lines = [t("✅ <b>Plan for {day} saved</b>", day=day_label(t, plan.day))]
    lines += [item_line(t, n, item) for n, item in enumerate(plan.items, start=1)]
    return fit_lines(lines, footer=[
        "", t("Have a good day! Send /log in the evening to note what came of it.")])


async def cancel(update: Update, context: CrmContext) -> int:
    """/cancel or ✖: drop the draft; what was saved before stays."""
    return await drop_draft(update, context, DRAFT,
                            context.t("Plan cancelled: nothing new was saved."))


async def timed_out(update: Update, context: CrmContext) -> None:
    """Idle too long: the draft is dropped, as after /cancel."""
    context.chat_data.pop(DRAFT, None)


async def stale(update: Update, context: CrmContext) -> int:
    return await draft_closed(
        update, context.t("This plan draft is closed. Send /plan to start again."))


def conversation(application: Application) -> ConversationHandler:
    review = [ButtonHandler(SavePlan, save), ButtonHandler(DropNewItem, drop_new_item),
              ButtonHandler(DeletePlanItem, delete_item), ButtonHandler(EditPlanItem, edit_item)]
    return ScheduleConversation(
        "plan",
        entry_points=[
            CommandHandler("plan", start, filters=filters.ChatType.PRIVATE),
            MessageHandler(menu_button(PLAN), start),
            ButtonHandler(PlanForDay, start_on_day),
            ButtonHandler(PlanReminder, start_from_reminder),
            ButtonHandler(PlanVisit, start_visit),
        ],
        states={
            ITEM: [MessageHandler(typed(), got_item), *review],
            CUSTOMER: [ButtonHandler(PlanCustomer, chose_customer),
                       ButtonHandler(PlanOpportunity, chose_opportunity),
                       MessageHandler(typed(), search_customer), *review],
            TIME: [ButtonHandler(PlanTime, chose_time),
                   MessageHandler(typed(), typed_time)],
            EDIT: [MessageHandler(typed(), edited)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel),
                   ButtonHandler(CancelPlan, cancel)],
    ).bind(application)


async def nothing_to_cancel(update: Update, context: CrmContext) -> None:
    """/cancel with no plan or log open."""
    await update.effective_message.reply_text(context.t("There is nothing to cancel."))


# The buttons that act on the draft in chat_data (the day and visit buttons start one).
DRAFT_BUTTONS = (SavePlan, DropNewItem, DeletePlanItem, EditPlanItem, PlanCustomer,
                 PlanOpportunity, PlanTime, CancelPlan)


def after_conversations() -> list:
    """Buttons of plan drafts that are gone, and /cancel when nothing is open."""
    return [ButtonHandler(DRAFT_BUTTONS, stale),
            CommandHandler("cancel", nothing_to_cancel, filters=filters.ChatType.PRIVATE)]
