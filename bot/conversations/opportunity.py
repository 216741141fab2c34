"""/opp: a new opportunity: customer (or a new one where the rep stands), title, amount,
expected close date and stage, one answer at a time.

Each answer is checked as it comes (the same rules the service applies when it stores);
the draft lives in chat_data and is stored in one unit of work at the last step, so
/cancel, a timeout or a restart leaves nothing behind. A title already open at the
customer is caught right after the title, with a button to the existing opportunity.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CommandHandler,
    ConversationHandler,
    TypeHandler,
    filters,
)
from telegram.ext import MessageHandler as OnMessage

from bot.callbacks import (
    OpenOpportunity,
    OppCancel,
    OppCloseDate,
    OppCustomer,
    OppStage,
    OppUseLocation,
)
from bot.context import CrmContext
from bot.conversations.flow import (
    ScheduleConversation,
    draft_closed,
    drop_draft,
    enter,
    refuse,
    typed,
)
from bot.handlers.gate import pressed_outside_private_chat
from bot.handlers.inbox import edit_or_send
from bot.handlers.opportunities import card_keyboard, card_text
from bot.i18n import Translator
from bot.keyboards import ButtonHandler
from bot.notices import day_label
from bot.texts import refusal
from core.domain.errors import DomainError
from core.domain.money import format_amount
from core.opportunities.pipeline import NewCustomer, NewOpportunity

# States
CUSTOMER, NEW_NAME, SITE, TITLE, AMOUNT, CLOSE, STAGE = range(7)

DRAFT = "opp_draft"
# The draft's buttons (untrusted; the service checks everything again at the end).
DRAFT_BUTTONS = (OppCustomer, OppUseLocation, OppCloseDate, OppStage, OppCancel)


def _draft(context: CrmContext) -> dict | None:
    return context.chat_data.get(DRAFT)


async def _reply(update: Update, context: CrmContext, text: str,
                 keyboard: InlineKeyboardMarkup | None = None) -> None:
    await edit_or_send(update, context, text, keyboard)


def _cancel_row(t: Translator) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(t("✖ Cancel"), callback_data=OppCancel().encode())]


def customer_keyboard(t: Translator, customers) -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(c.name, callback_data=OppCustomer(c.id).encode())
               for c in customers]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(t("➕ New customer"),
                                      callback_data=OppCustomer(None).encode())])
    rows.append(_cancel_row(t))
    return InlineKeyboardMarkup(rows)


async def start(update: Update, context: CrmContext) -> int:
    """/opp: which customer is it for?"""
    t = context.t
    try:
        customers = await context.services.opportunities.customers(update.effective_user.id)
    except DomainError as error:
        await refuse(update, context, error)
        return ConversationHandler.END
    enter(context, "opp")
    context.chat_data[DRAFT] = {}
    await update.effective_message.reply_html(
        t("💼 <b>New opportunity</b>\nWhich customer is it for? Tap one, type a few letters "
          "of the name, or add a new customer."),
        reply_markup=customer_keyboard(t, customers))
    return CUSTOMER


async def search_customer(update: Update, context: CrmContext) -> int:
    """Letters typed while picking a customer: those whose names match."""
    t, letters = context.t, update.effective_message.text.strip()[:50]
    found = await context.services.opportunities.customers(update.effective_user.id, letters)
    text = (t("Customers matching “{letters}”:", letters=escape(letters)) if found else
            t("No customer matches “{letters}”. Try other letters, or add a new customer.",
              letters=escape(letters)))
    await update.effective_message.reply_html(text, reply_markup=customer_keyboard(t, found))
    return CUSTOMER


async def chose_customer(update: Update, context: CrmContext) -> int:
    """An existing customer (ask for the title) or a new one (ask for its name)."""
    query, t, draft = update.callback_query, context.t, _draft(context)
    if draft is None:
        return await stale(update, context)
    customer_id = OppCustomer.of(update).customer_id
    await query.answer()
    if customer_id is None:
        await edit_or_send(update, context, t("What is the new customer's name?"),
                           InlineKeyboardMarkup([_cancel_row(t)]))
        return NEW_NAME
    customer = await context.services.opportunities.customer(customer_id)
    if customer is None:
        await context.bot.send_message(update.effective_chat.id,
                                       t("I could not find that customer."))
        return CUSTOMER
    draft |= {"customer_id": customer.id, "customer": customer.name}
    await edit_or_send(update, context, _ask_title(t, customer.name),
                       InlineKeyboardMarkup([_cancel_row(t)]))
    return TITLE


def _ask_title(t: Translator, customer: str) -> str:
    return t("🏢 {customer}\nWhat is the opportunity? Send a short title, for example "
             "“Cold-chain fleet 2027”.", customer=escape(customer))


async def new_name(update: Update, context: CrmContext) -> int:
    """The new customer's name: ask where their site is."""
    t, draft = context.t, _draft(context)
    try:
        name = context.services.opportunities.read_customer_name(update.effective_message.text)
    except DomainError as error:
        await refuse(update, context, error)
        return NEW_NAME
    draft["new_name"] = name
    await update.effective_message.reply_html(
        t("Where is {name}? Share your location at their site with 📍 Check in, then tap "
          "“Use my location”.", name=escape(name)),
        reply_markup=InlineKeyboardMarkup([
            [InlineKeyboardButton(t("📍 Use my location"),
                                  callback_data=OppUseLocation().encode())],
            _cancel_row(t)]))
    return SITE


async def use_location(update: Update, context: CrmContext) -> int:
    """The location the rep shared last (within the hour) becomes the new customer's site."""
    query, t, draft = update.callback_query, context.t, _draft(context)
    if draft is None or "new_name" not in draft:
        return await stale(update, context)
    site = await context.services.opportunities.recent_location(update.effective_user.id)
    if site is None:
        await refuse(update, context, DomainError("opp_no_location"))
        return SITE
    await query.answer()
    draft |= {"lat": site.lat, "lon": site.lon}
    await edit_or_send(update, context, _ask_title(t, draft["new_name"]),
                       InlineKeyboardMarkup([_cancel_row(t)]))
    return TITLE


async def got_title(update: Update, context: CrmContext) -> int:
    """The title: refused if too long, or already open at this customer; ask the amount."""
    t, draft = context.t, _draft(context)
    service = context.services.opportunities
    try:
        title = service.read_title(update.effective_message.text)
        if "customer_id" in draft:
            await service.check_duplicate(draft["customer_id"], title)
    except DomainError as error:
        if error.code == "opportunity_duplicate":
            return await _duplicate(update, context, error)
        await refuse(update, context, error)
        return TITLE
    draft["title"] = title
    await update.effective_message.reply_text(
        t("How much is it worth, in {currency}? For example 120000.",
          currency=await _currency(context)))
    return AMOUNT


async def _currency(context: CrmContext) -> str:
    visitor = context.visitor
    return visitor.settings.currency if visitor is not None else "CNY"


async def _duplicate(update: Update, context: CrmContext, error: DomainError) -> int:
    """Warn, offer the opportunity that is open already, and end the draft."""
    t = context.t
    context.chat_data.pop(DRAFT, None)
    existing = int(error.params["existing_id"])
    await _reply(update, context, refusal(t, error) + "\n" + t("Nothing new was created."),
                 InlineKeyboardMarkup([[InlineKeyboardButton(
                     t("Open the existing opportunity"),
                     callback_data=OpenOpportunity(existing).encode())]]))
    return ConversationHandler.END


def _month_end(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


async def got_amount(update: Update, context: CrmContext) -> int:
    """The amount: ask when it is expected to close (buttons for month ends)."""
    t, draft = context.t, _draft(context)
    try:
        amount = await context.services.opportunities.read_amount(update.effective_message.text)
    except DomainError as error:
        await refuse(update, context, error)
        return AMOUNT
    draft["amount"] = str(amount)
    today = await context.services.work_logs.today()
    ends = [_month_end(today, n) for n in range(3)]
    await update.effective_message.reply_text(
        t("When do you expect it to close? Tap a month end or type a date like 2026-12-20."),
        reply_markup=InlineKeyboardMarkup([
            [InlineKeyboardButton(day_label(t, end), callback_data=OppCloseDate(end).encode())
             for end in ends], _cancel_row(t)]))
    return CLOSE


async def _close_chosen(update: Update, context: CrmContext, text: str) -> int:
    t, draft = context.t, _draft(context)
    try:
        day = await context.services.opportunities.read_close_date(text)
    except DomainError as error:
        await refuse(update, context, error)
        return CLOSE
    draft["close"] = day.isoformat()
    pipeline = context.services.opportunities.pipeline
    buttons = [InlineKeyboardButton(f"{s.label(t.language)} · {s.probability}%",
                                    callback_data=OppStage(s.key).encode())
               for s in pipeline.open_stages]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)] + [_cancel_row(t)]
    await _reply(update, context, t("At which stage is it? The probability follows the stage."),
                 InlineKeyboardMarkup(rows))
    return STAGE


async def typed_close(update: Update, context: CrmContext) -> int:
    return await _close_chosen(update, context, update.effective_message.text)


async def chose_close(update: Update, context: CrmContext) -> int:
    day = OppCloseDate.of(update).day
    if _draft(context) is None:
        return await stale(update, context)
    await update.callback_query.answer()
    return await _close_chosen(update, context, day.isoformat())


async def chose_stage(update: Update, context: CrmContext) -> int:
    """The stage: store the opportunity (and a new customer) and show its card."""
    query, t, draft = update.callback_query, context.t, _draft(context)
    stage = OppStage.of(update).stage
    if draft is None or "close" not in draft:
        return await stale(update, context)
    new_customer = None
    if "new_name" in draft:
        new_customer = NewCustomer(draft["new_name"], draft["lat"], draft["lon"])
    try:
        created = await context.services.opportunities.create(
            update.effective_user.id, NewOpportunity(
                title=draft["title"], amount=Decimal(draft["amount"]),
                expected_close=date.fromisoformat(draft["close"]),
                customer_id=draft.get("customer_id"), new_customer=new_customer,
                stage=stage))
    except DomainError as error:
        if error.code == "opportunity_duplicate":
            await query.answer()
            return await _duplicate(update, context, error)
        await refuse(update, context, error)
        return STAGE
    await query.answer(t("Saved."))
    context.chat_data.pop(DRAFT, None)
    card = await context.services.opportunities.card(update.effective_user.id, created.id)
    await edit_or_send(update, context, t("✅ Opportunity saved: {amount}",
                                          amount=format_amount(created.amount,
                                                               created.currency))
                       + "\n\n" + card_text(card, t), card_keyboard(card, t))
    return ConversationHandler.END


async def cancel(update: Update, context: CrmContext) -> int:
    """/cancel or ✖: drop the draft; nothing was stored."""
    return await drop_draft(update, context, DRAFT,
                            context.t("New opportunity cancelled: nothing was saved."))


async def timed_out(update: Update, context: CrmContext) -> None:
    context.chat_data.pop(DRAFT, None)


async def stale(update: Update, context: CrmContext) -> int:
    return await draft_closed(
        update, context.t("This draft is closed. Send /opp to start again."))


def conversation(application: Application) -> ConversationHandler:
    return ScheduleConversation(
        "opp",
        entry_points=[CommandHandler("opp", start, filters=filters.ChatType.PRIVATE)],
        states={
            CUSTOMER: [ButtonHandler(OppCustomer, chose_customer),
                       OnMessage(typed(), search_customer)],
            NEW_NAME: [OnMessage(typed(), new_name)],
            SITE: [ButtonHandler(OppUseLocation, use_location)],
            TITLE: [OnMessage(typed(), got_title)],
            AMOUNT: [OnMessage(typed(), got_amount)],
            CLOSE: [ButtonHandler(OppCloseDate, chose_close),
                    OnMessage(typed(), typed_close)],
            STAGE: [ButtonHandler(OppStage, chose_stage)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[CommandHandler("cancel", cancel),
                   ButtonHandler(OppCancel, cancel)],
    ).bind(application)


async def _outside(update: Update, context: CrmContext) -> None:
    if not await pressed_outside_private_chat(update, context, "opp"):
        await stale(update, context)


def handlers(application: Application) -> list:
    """The conversation, then the buttons of drafts that are gone."""
    return [conversation(application), ButtonHandler(DRAFT_BUTTONS, _outside)]
