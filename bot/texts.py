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
    "member_not_visible": N_("That person is not in your team, so I cannot show their "
                             "schedule."),
    "team_managers_only": N_("The team view is for managers: it shows the people of the "
                             "departments you lead."),
    "rating_not_allowed": N_("Only a manager above this person can rate their log, and "
                             "nobody rates their own."),
    "no_log_to_rate": N_("There is no work log to rate on this day."),
    "no_rating_to_comment": N_("Rate the log first; the comment goes with the rating."),
    "rating_out_of_range": N_("A rating is a whole number from 1 to 5."),
    "comment_too_long": N_("That comment is too long: at most 1,000 characters, please."),
    "quiet_hours_too_long": N_("Quiet hours can last at most 16 hours, "
                               "for example 22:00-07:30."),
    # Plans and work logs.
    "plan_in_past": N_("That day is over: plans are for today or later."),
    "plan_too_far": N_("Plans can be written at most 90 days ahead."),
    "item_empty": N_("Please write what you will do, in a few words."),
    "item_too_long": N_("That is too long: an item can have at most 1,000 characters. "
                        "Please shorten it."),
    "time_format": N_("I could not read that time. Please send it like 9:30 or 14:00."),
    "day_format": N_("I could not read that date. Please send it like 2026-12-03 or 12-03."),
    "too_many_items": N_("A day's plan can have at most 30 items."),
    "not_your_plan": N_("That is not your plan, so you cannot change it."),
    "plan_day_over": N_("That day is over: its plan is kept as it was."),
    "item_logged": N_("That item is already in your work log, so it stays as planned."),
    "log_in_future": N_("That day has not come yet: a log is for today or earlier."),
    "move_not_later": N_("Please move the item to a later day."),
    "item_moved": N_("That item was moved to another day: log it there."),
    "item_not_found": N_("I could not find that plan item. It may have been deleted."),
    "customer_not_found": N_("I could not find that customer."),
}


def refusal(t: Translator, error: DomainError) -> str:
    return t(REFUSALS.get(error.code, REFUSALS["not_allowed"]))
