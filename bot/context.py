"""The per-update context: who is speaking, in which language, and the services."""

from __future__ import annotations

from telegram.ext import Application, CallbackContext, ExtBot

from bootstrap import Services
from bot.i18n import Translator
from core.domain.org.language import pick_language
from core.domain.org.model import Member
from core.org.membership import Visitor


class CrmContext(CallbackContext[ExtBot, dict, dict, dict]):
    """PTB builds one per update; the gate fills in the visitor before any handler runs."""

    def __init__(self, application: Application, chat_id: int | None = None,
                 user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.visitor: Visitor | None = None
        self._translator: Translator | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def member(self) -> Member:
        """The registered, active member speaking (the gate let only them through)."""
        assert self.visitor is not None and self.visitor.member is not None
        return self.visitor.member

    def speak(self, language: str) -> None:
        self._translator = Translator(language)

    def choose_language(self, visitor: Visitor, app_language: str | None) -> None:
        member_language = visitor.member.language if visitor.member else None
        self.speak(pick_language(member_language, app_language,
                                 visitor.settings.default_language))

    @property
    def t(self) -> Translator:
        if self._translator is None:
            self._translator = Translator("en")
        return self._translator
