"""Team group chats: /bindgroup, /unbindgroup, and the bot being added to or removed from one."""

from __future__ import annotations

import logging
from html import escape

from telegram import ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ChatMemberHandler, CommandHandler

from bot.callbacks import BindGroup
from bot.context import CrmContext
from bot.handlers.inbox import edit_or_send
from bot.keyboards import ButtonHandler, answer_stale
from bot.texts import refusal
from core.domain.errors import DomainError

log = logging.getLogger("crmbot.groups")

# Everyone in the group sees the department buttons; only the asker may choose, and the
# service re-checks that they still manage the department.
_GONE = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


def _bound_text(context: CrmContext, department: str) -> str:
    return context.t("✅ This group is now the team chat of <b>{department}</b>: it will "
                     "receive the department's reminders and digests. /unbindgroup undoes it.",
                     department=escape(department))


async def _bot_is_member(context: CrmContext, chat_id: int) -> bool:
    """Ask Telegram whether the bot is (still) in the chat: posting there depends on it."""
    try:
        member = await context.bot.get_chat_member(chat_id, context.bot.id)
    except (Forbidden, BadRequest):
        return False  # Telegram refuses to describe a chat the bot is not in
    return member.status not in _GONE


async def bind_group(update: Update, context: CrmContext) -> None:
    """Bind this group to the speaker's department, asking which if they head several."""
    t, chat, user = context.t, update.effective_chat, update.effective_user
    if chat.type == ChatType.PRIVATE:
        await update.effective_message.reply_text(t(
            "Send /bindgroup in your team's group chat, after adding me to that group."))
        return
    present = await _bot_is_member(context, chat.id)
    try:
        binding = await context.services.groups.bind(user.id, chat.id, chat.title or "",
                                                     bot_is_member=present)
    except DomainError as error:
        await _refuse_in_group(update, context, error)
        return
    if binding.group is None:
        buttons = [[InlineKeyboardButton(name, callback_data=BindGroup(dept_id, user.id).encode())]
                   for dept_id, name in binding.choices]
        await update.effective_message.reply_html(
            t("<b>{name}</b>, which department's team chat is this group?",
              name=escape(context.member.name)),
            reply_markup=InlineKeyboardMarkup(buttons))
        return
    await update.effective_message.reply_html(_bound_text(context, binding.department_name))


async def choose_department(update: Update, context: CrmContext) -> None:
    """The asker picked a department; anyone else pressing changes nothing."""
    query, t, chat = update.callback_query, context.t, update.effective_chat
    press = BindGroup.of(update)
    if chat is None or chat.type == ChatType.PRIVATE:
        await answer_stale(query, t)
        return
    if press.asker_id != update.effective_user.id:
        await query.answer(t("Only the person who sent /bindgroup can choose here."),
                           show_alert=True)
        return
    try:
        binding = await context.services.groups.bind(
            update.effective_user.id, chat.id, chat.title or "",
            bot_is_member=await _bot_is_member(context, chat.id),
            department_id=press.department_id)
    except DomainError as error:
        await query.answer(refusal(t, error), show_alert=True)
        return
    await query.answer()
    await edit_or_send(update, context, _bound_text(context, binding.department_name), None)


async def unbind_group(update: Update, context: CrmContext) -> None:
    """Stop this group receiving its department's reminders and digests."""
    t, chat = context.t, update.effective_chat
    if chat.type == ChatType.PRIVATE:
        await update.effective_message.reply_text(
            t("Send /unbindgroup in the group chat that should stop receiving messages."))
        return
    try:
        await context.services.groups.unbind(update.effective_user.id, chat.id)
    except DomainError as error:
        await _refuse_in_group(update, context, error)
        return
    await update.effective_message.reply_text(t(
        "Done: this group no longer receives reminders or digests. "
        "A manager can send /bindgroup to bind it again."))


async def _refuse_in_group(update: Update, context: CrmContext, error: DomainError) -> None:
    """Say no in the group; if the bot is not in it, say so privately (if it may)."""
    text = refusal(context.t, error)
    if error.code != "bot_not_in_group":
        await update.effective_message.reply_text(text)
        return
    try:
        await context.bot.send_message(update.effective_user.id, text)
    except Forbidden:
        log.info("could not tell %s that the bot is not in chat %s",
                 update.effective_user.id, update.effective_chat.id)


async def membership_changed(update: Update, context: CrmContext) -> None:
    """The bot was added to a group (say hello) or removed from one (unbind it)."""
    change: ChatMemberUpdated = update.my_chat_member
    was_in = change.old_chat_member.status not in _GONE
    is_in = change.new_chat_member.status not in _GONE
    if was_in and not is_in:
        told = await context.services.groups.bot_removed(change.chat.id)
        log.info("removed from chat %s; %s people told", change.chat.id, told)
    elif is_in and not was_in:
        await _hello(change, context)


async def _hello(change: ChatMemberUpdated, context: CrmContext) -> None:
    """Explain /bindgroup, in the language of the member who added the bot."""
    visitor = await context.services.org.identify(change.from_user.id)
    if not visitor.is_member:
        return  # strangers get nothing from the bot, here as anywhere
    context.choose_language(visitor, change.from_user.language_code)
    await context.bot.send_message(change.chat.id, context.t(
        "Hello! I am the sales team's CRM bot. A department's manager can send /bindgroup "
        "here, and this group will receive the team's reminders and digests."))


class _GroupMembership(ChatMemberHandler):
    """The bot's own membership in groups; private chats (blocking) are the outbox's."""

    def check_update(self, update: object) -> bool:
        return bool(super().check_update(update)) and (
            update.effective_chat is not None and update.effective_chat.type != ChatType.PRIVATE)


def handlers() -> list:
    return [
        CommandHandler("bindgroup", bind_group),
        CommandHandler("unbindgroup", unbind_group),
        ButtonHandler(BindGroup, choose_department),
        _GroupMembership(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
