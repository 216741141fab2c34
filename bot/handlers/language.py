"""/language: switch between English and 简体中文."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.callbacks import ChooseLanguage
from bot.context import CrmContext
from bot.handlers.start import show_menu
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, all_translations
from bot.keyboards import LANGUAGE, ButtonHandler, language_picker
from bot.texts import refusal
from core.domain.errors import DomainError


async def ask_language(update: Update, context: CrmContext) -> None:
    """Offer the languages as buttons."""
    await update.effective_message.reply_text(
        context.t("Which language should I use?"),
        reply_markup=language_picker(context.t.language))


async def choose_language(update: Update, context: CrmContext) -> None:
    """Store the pressed language; the data is untrusted, so check it again."""
    query = update.callback_query
    code = ChooseLanguage.of(update).code
    if code not in LANGUAGES:
        await query.answer(context.t("That language is not available."), show_alert=True)
        return
    try:
        await context.services.org.set_language(update.effective_user.id, code)
    except DomainError as error:
        await query.answer(refusal(context.t, error), show_alert=True)
        return
    context.speak(code)
    await query.answer()
    await query.edit_message_text(context.t("Language: {language}",
                                            language=LANGUAGE_NAMES[code]))
    await show_menu(update, context, context.t("From now on I will speak English."))


def handlers() -> list:
    return [
        CommandHandler("language", ask_language),
        MessageHandler(filters.ChatType.PRIVATE & filters.Text(all_translations(LANGUAGE.label)),
                       ask_language),
        ButtonHandler(ChooseLanguage, choose_language),
    ]
