"""Which language a person is answered in."""

from __future__ import annotations

from core.domain.org.model import LANGUAGES


def from_app_language(language_code: str | None) -> str | None:
    """Map the messenger app's IETF tag (en-US, zh-hans, zh-CN...) to a supported language."""
    if not language_code:
        return None
    tag = language_code.lower().replace("_", "-")
    if tag.startswith("zh"):
        # Traditional-script tags are answered in Simplified until zh_Hant exists.
        return "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return None


def pick_language(member_language: str | None, app_language: str | None, org_default: str) -> str:
    """The member's own setting wins, then their messenger app's, then the org default."""
    if member_language in LANGUAGES:
        return member_language
    return from_app_language(app_language) or org_default
