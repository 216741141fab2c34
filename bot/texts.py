"""What domain refusals say to people, by error code."""

from __future__ import annotations

from bot.i18n import N_, Translator
from core.domain.errors import DomainError

REFUSALS: dict[str, str] = {
    "not_allowed": N_("Sorry, you are not allowed to do that."),
    "not_found": N_("I could not find that. It may have been removed."),
    "not_a_member": N_("Sorry, this bot is only for members of our sales team."),
    "invite_not_allowed": N_("Only managers and admins can invite new members."),
    "invite_unknown": N_("This invite link is not valid. Please ask your manager for a new one."),
    "invite_used": N_("This invite link has already been used. "
                      "Please ask your manager for a new one."),
    "invite_expired": N_("This invite link has expired. Please ask your manager for a new one."),
    "already_member": N_("You are already a member, so there is no need for an invite."),
    "unknown_language": N_("That language is not available."),
}


def refusal(t: Translator, error: DomainError) -> str:
    return t(REFUSALS.get(error.code, REFUSALS["not_allowed"]))
