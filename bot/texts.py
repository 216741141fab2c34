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
    "notification_not_found": N_("I could not find that notification in your inbox."),
    "bot_not_in_group": N_("I am not a member of that group, so I cannot post there. "
                           "Add me to the group, then send /bindgroup there again."),
    "bind_not_manager": N_("Only the manager of a department can bind or unbind "
                           "its team group."),
    "group_not_bound": N_("This group is not bound to any department."),
    "group_bound_elsewhere": N_("This group is already the team chat of another department. "
                                "One of its managers has to send /unbindgroup first."),
    "quiet_hours_format": N_("I could not read those times. Send quiet hours as start-end "
                             "on a 24-hour clock, for example 22:00-07:30."),
    "quiet_hours_same": N_("The start and the end must differ, for example 22:00-07:30."),
    "quiet_hours_too_long": N_("Quiet hours can last at most 16 hours, "
                               "for example 22:00-07:30."),
}


def refusal(t: Translator, error: DomainError) -> str:
    return t(REFUSALS.get(error.code, REFUSALS["not_allowed"]))
