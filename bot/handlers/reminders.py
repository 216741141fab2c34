"""/reminders: pause or resume my reminders, and set the quiet hours they wait out."""

from __future__ import annotations

import re
from functools import cache

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import CrmContext
from bot.handlers.gate import pressed_outside_private_chat
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator, all_translations
from bot.keyboards import answer_stale
from bot.texts import REFUSALS, refusal
from core.domain.errors import DomainError
from core.domain.org.model import Member
from core.inbox.notifications import quiet_hours_text

# Offered as buttons; any other window is typed. Keep the data short: rem:q:22:00-08:00.
PRESETS = ("22:00-08:00", "21:00-07:00")
ASK_QUIET_HOURS = N_("Send your quiet hours as start-end on a 24-hour clock, "
                     "for example 22:00-07:30.")
# A typed answer replies to the question, or to a refusal that asked again: the bot keeps
# no state between the two messages, so a restart in between loses nothing.
_ASKING = (ASK_QUIET_HOURS, REFUSALS["quiet_hours_format"], REFUSALS["quiet_hours_same"],
           REFUSALS["quiet_hours_too_long"])
_QUIET = re.compile(r"rem:q:(off|\d{2}:\d{2}-\d{2}:\d{2})")


def _window(text: str) -> str:
    """'22:00-08:00' as people read it: 22:00–08:00."""
    return text.replace("-", "–")


def settings_screen(member: Member, t: Translator,
                    timezone: str) -> tuple[str, InlineKeyboardMarkup]:
    """The current settings (HTML) with buttons to change them."""
    current = quiet_hours_text(member.quiet_hours) if member.quiet_hours else None
    lines = [t("⏰ <b>Reminders</b>"), ""]
    if member.reminders_paused:
        lines.append(t("Plan, log and follow-up reminders: <b>paused</b>"))
    else:
        lines.append(t("Plan, log and follow-up reminders: <b>on</b>"))
    if current:
        lines.append(t("Quiet hours: <b>{window}</b> ({timezone})",
                       window=_window(current), timezone=timezone))
    else:
        lines.append(t("Quiet hours: <b>off</b>"))
    lines.append("")
    if member.reminders_paused:
        lines.append(t("While paused you get no plan, log or follow-up reminders. "
                       "Approval requests and decisions still arrive."))
    else:
        lines.append(t("Reminders due in your quiet hours wait until they end. "
                       "Approval requests and decisions always arrive at once."))
    pause = (InlineKeyboardButton(t("▶️ Resume reminders"), callback_data="rem:resume")
             if member.reminders_paused else
             InlineKeyboardButton(t("⏸ Pause reminders"), callback_data="rem:pause"))

    def mark(label: str, chosen: bool) -> str:
        return f"✓ {label}" if chosen else label

    windows = [InlineKeyboardButton(mark(_window(p), p == current), callback_data=f"rem:q:{p}")
               for p in PRESETS]
    windows.append(InlineKeyboardButton(mark(t("No quiet hours"), current is None),
                                        callback_data="rem:q:off"))
    other = InlineKeyboardButton(mark(t("✏️ Other times…"), current not in (None, *PRESETS)),
                                 callback_data="rem:ask")
    return "\n".join(lines), InlineKeyboardMarkup([[pause], windows, [other]])


async def show_settings(update: Update, context: CrmContext) -> None:
    """Show the speaker's reminder settings."""
    member = await context.services.org.reminder_settings(update.effective_user.id)
    text, keyboard = settings_screen(member, context.t, context.visitor.settings.timezone)
    await update.effective_message.reply_html(text, reply_markup=keyboard)


async def on_press(update: Update, context: CrmContext) -> None:
    """Pause, resume, pick quiet hours, or ask for typed ones; the data is untrusted."""
    query, t = update.callback_query, context.t
    if await pressed_outside_private_chat(update, context, "reminders"):
        return
    data, org, user_id = query.data or "", context.services.org, update.effective_user.id
    try:
        if data in ("rem:pause", "rem:resume"):
            member = await org.pause_reminders(user_id, data == "rem:pause")
            done = t("Reminders paused.") if member.reminders_paused else t("Reminders resumed.")
        elif match := _QUIET.fullmatch(data):
            member = await org.set_quiet_hours(user_id, None if match[1] == "off" else match[1])
            done = (t("Quiet hours: {window}", window=_window(match[1]))
                    if member.quiet_hours else t("Quiet hours are off."))
        elif data == "rem:ask":
            await query.answer()
            await context.bot.send_message(update.effective_chat.id, t(ASK_QUIET_HOURS),
                                           reply_markup=_answer_here())
            return
        else:
            await answer_stale(query, t)
            return
    except DomainError as error:
        await query.answer(refusal(t, error), show_alert=True)
        return
    await query.answer(done)
    text, keyboard = settings_screen(member, t, context.visitor.settings.timezone)
    await edit_or_send(update, context, text, keyboard)


async def typed_quiet_hours(update: Update, context: CrmContext) -> None:
    """The answer to "send your quiet hours": store it, or say why not and ask again."""
    t, message = context.t, update.effective_message
    try:
        member = await context.services.org.set_quiet_hours(update.effective_user.id,
                                                            message.text)
    except DomainError as error:
        await message.reply_text(refusal(t, error), reply_markup=_answer_here())
        return
    text, keyboard = settings_screen(member, t, context.visitor.settings.timezone)
    await message.reply_html(text, reply_markup=keyboard)


class _AnswersTheQuestion(filters.MessageFilter):
    """A reply to the bot's "send your quiet hours" (in any language)."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or not replied.from_user.is_bot:
            return False
        return replied.text in _questions()


def _answer_here() -> ForceReply:
    """Opens the reply field under the question, so the answer is tied to it."""
    return ForceReply(input_field_placeholder="22:00-07:30")


@cache
def _questions() -> frozenset[str]:
    return frozenset(text for msgid in _ASKING for text in all_translations(msgid))


def handlers() -> list:
    return [
        CommandHandler("reminders", show_settings),
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
                       & _AnswersTheQuestion(), typed_quiet_hours),
        CallbackQueryHandler(on_press, pattern=r"^rem:"),
    ]
