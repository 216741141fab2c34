"""/inbox: the member's notifications, unread first, five to a page; one opens in place."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CommandHandler, MessageHandler, filters

from bot import notices, subjects
from bot.callbacks import InboxPage, OpenNotification
from bot.context import CrmContext
from bot.fitting import fit_text, shorten
from bot.handlers.gate import private_press
from bot.i18n import Translator
from bot.keyboards import INBOX, ButtonHandler, counted_label_pattern, pager
from bot.timefmt import local_datetime
from core.domain.inbox.notifications import Notification, Page

_TITLE_LENGTH = 40  # clients cut long button labels anyway; the time must stay visible


@dataclass(frozen=True)
class Reader:
    """Who reads an opened notification, as bot.notices.render expects of a delivery."""

    timezone: str
    recipient_name: str


def back_button(t: Translator, page: int = 0) -> InlineKeyboardButton:
    """« Back to inbox: for the inbox itself and for modules that edit an opened notice."""
    return InlineKeyboardButton(t("« Back to inbox"), callback_data=InboxPage(page).encode())


def title(notification: Notification, t: Translator, timezone: str) -> str:
    """A list button: ● for unread, the one-line summary, and when (in the team's zone)."""
    text = shorten(notices.summary(notification, t), _TITLE_LENGTH)
    when = notification.created_at.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M")
    return f"{'● ' if notification.read_at is None else ''}{text} · {when}"


def list_screen(page: Page, t: Translator,
                timezone: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """The inbox page as HTML and its buttons: one per notification, then ◀ / ▶."""
    if page.total == 0:
        return t("📥 <b>Inbox</b>\n\nNothing here yet. Approval requests, reminders and "
                 "alerts will appear here."), None
    lines = [t("📥 <b>Inbox</b> — unread: {unread} of {total}",
               unread=page.unread, total=page.total)]
    lines.append(t("Tap a notification to open it."))
    rows = [[InlineKeyboardButton(title(n, t, timezone),
                                  callback_data=OpenNotification(n.id, page.number).encode())]
            for n in page.items]
    if turn := pager(page.number, page.pages, InboxPage):
        rows.append(turn)
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def show_inbox(update: Update, context: CrmContext) -> None:
    """Send the first page of the speaker's inbox."""
    page = await context.services.inbox.page(update.effective_user.id)
    text, keyboard = list_screen(page, context.t, context.visitor.settings.timezone)
    await update.effective_message.reply_html(text, reply_markup=keyboard)


@private_press("inbox")
async def turn_to(update: Update, context: CrmContext) -> None:
    """Show a page; the service clamps a number out of range to the nearest page."""
    page = await context.services.inbox.page(update.effective_user.id,
                                             InboxPage.of(update).page)
    await update.callback_query.answer()
    text, keyboard = list_screen(page, context.t, context.visitor.settings.timezone)
    await edit_or_send(update, context, text, keyboard)


@private_press("inbox")
async def open_one(update: Update, context: CrmContext) -> None:
    """Show one notification in full and mark it read; only its recipient may (the list's
    page is kept for the way back)."""
    press, query, t = OpenNotification.of(update), update.callback_query, context.t
    notification = await context.services.inbox.open(update.effective_user.id,
                                                      press.notification_id)
    timezone = context.visitor.settings.timezone
    body, _sent_buttons = notices.render(notification, t, Reader(timezone, context.member.name))
    # The buttons that went out with the push may be stale by now (a claim decided since);
    # the subject's viewer says what may be done at this moment.
    subject = await subjects.view(context, notification)
    kind = t(notices.KIND_TITLES[notification.kind])
    parts = [f"<i>{escape(kind)} · {local_datetime(notification.created_at, timezone)}</i>",
             body]
    if subject.status:
        parts.append(subject.status)
    await query.answer()
    await edit_or_send(update, context, fit_text("\n\n".join(parts)),
                       InlineKeyboardMarkup([*subject.buttons, [back_button(t, press.page)]]))


async def edit_or_send(update: Update, context: CrmContext, text: str,
                       keyboard: InlineKeyboardMarkup | None) -> None:
    """On a press, edit the pressed message (HTML) in place, or send a new one where that is
    not possible; to a typed message or command, reply with the screen."""
    query = update.callback_query
    if query is None:
        await update.effective_message.reply_html(text, reply_markup=keyboard)
        return
    if query.message is not None and query.message.is_accessible:
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
            return
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return  # pressed twice: the screen already shows it
            # Gone, too old, or a photo message: fall through and send the screen anew.
    await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                   reply_markup=keyboard)


def handlers() -> list:
    return [
        CommandHandler("inbox", show_inbox),
        MessageHandler(filters.ChatType.PRIVATE & filters.Regex(counted_label_pattern(INBOX)),
                       show_inbox),
        ButtonHandler(InboxPage, turn_to),
        ButtonHandler(OpenNotification, open_one),
    ]
