"""/reminders: pause or resume my reminders, and set the quiet hours they wait out."""

from __future__ import annotations

from functools import cache

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.callbacks import AskQuietHours, PauseReminders, QuietHours, ResumeReminders
from bot.context import CrmContext
from bot.handlers.gate import private_press
from bot.handlers.inbox import edit_or_send
from bot.i18n import N_, Translator, all_translations
from bot.keyboards import ButtonHandler
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
    pause = (InlineKeyboardButton(t("▶️ Resume reminders"),
                                  callback_data=ResumeReminders().encode())
             if member.reminders_paused else
             InlineKeyboardButton(t("⏸ Pause reminders"), callback_data=PauseReminders().encode()))

    def mark(label: str, chosen: bool) -> str:
        return f"✓ {label}" if chosen else label

    windows = [InlineKeyboardButton(mark(_window(p), p == current),
                                    callback_data=QuietHours(p).encode()) for p in PRESETS]
    windows.append(InlineKeyboardButton(mark(t("No quiet hours"), current is None),
                                        callback_data=QuietHours(None).encode()))
    other = InlineKeyboardButton(mark(t("✏️ Other times…"), current not in (None, *PRESETS)),
                                 callback_data=AskQuietHours().encode())
    return "\n".join(lines), InlineKeyboardMarkup([[pause], windows, [other]])


async def show_settings(update: Update, context: CrmContext) -> None:
    """Show the speaker's reminder settings."""
    member = await context.services.org.reminder_settings(update.effective_user.id)
    text, keyboard = settings_screen(member, context.t, context.visitor.settings.timezone)
    await update.effective_message.reply_html(text, reply_markup=keyboard)


async def _changed(update: Update, context: CrmContext, member: Member, done: str) -> None:
    await update.callback_query.answer(done)
    text, keyboard = settings_screen(member, context.t, context.visitor.settings.timezone)
    await edit_or_send(update, context, text, keyboard)


@private_press("reminders")
async def pause(update: Update, context: CrmContext) -> None:
    """⏸ Pause reminders."""
    member = await context.services.org.pause_reminders(update.effective_user.id, True)
    await _changed(update, context, member, context.t("Reminders paused."))


@private_press("reminders")
async def resume(update: Update, context: CrmContext) -> None:
    """▶️ Resume reminders."""
    member = await context.services.org.pause_reminders(update.effective_user.id, False)
    await _changed(update, context, member, context.t("Reminders resumed."))


@private_press("reminders")
async def choose_quiet_hours(update: Update, context: CrmContext) -> None:
    """A preset window, or none; the service checks the times (the data is untrusted)."""
    t, window = context.t, QuietHours.of(update).window
    member = await context.services.org.set_quiet_hours(update.effective_user.id, window)
    await _changed(update, context, member,
                   t("Quiet hours: {window}", window=_window(window)) if member.quiet_hours
                   else t("Quiet hours are off."))


@private_press("reminders")
async def ask_quiet_hours(update: Update, context: CrmContext) -> None:
    """✏️ Other times…: ask for them to be typed."""
    await update.callback_query.answer()
    await context.bot.send_message(update.effective_chat.id, context.t(ASK_QUIET_HOURS),
                                   reply_markup=_answer_here())


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
        ButtonHandler(PauseReminders, pause),
        ButtonHandler(ResumeReminders, resume),
        ButtonHandler(QuietHours, choose_quiet_hours),
        ButtonHandler(AskQuietHours, ask_quiet_hours),
    ]
