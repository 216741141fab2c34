"""What domain refusals say to people, by error code, with their numbers and names."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bot.i18n import N_, Translator
from core.domain.errors import DomainError
from core.domain.expenses.claims import ClaimStatus
from core.domain.money import format_amount

# Claim statuses as people read them; a refusal names them too ("already approved").
STATUS_NAMES = {ClaimStatus.DRAFT: N_("draft"), ClaimStatus.PENDING: N_("waiting for approval"),
                ClaimStatus.APPROVED: N_("approved"), ClaimStatus.REJECTED: N_("rejected"),
                ClaimStatus.WITHDRAWN: N_("withdrawn")}

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
    # Said of plan items, log notes and unplanned entries alike.
    "item_too_long": N_("That is too long: at most 1,000 characters fit. Please shorten it."),
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
    # Expense claims (the claimant's side).
    "amount_format": N_("I could not read that amount. Please send it like {example}."),
    "amount_currency": N_("Claims are in {currency}. Please send the amount in {currency}, "
                          "for example 120.50."),
    "amount_not_positive": N_("The amount must be more than zero, for example {example}."),
    "amount_too_large": N_("That is more than {maximum}, the most one claim can be. "
                           "Please check the amount, for example 120.50."),
    "amount_cents": N_("An amount has at most two decimals, for example {example}."),
    "date_in_future": N_("That day has not come yet: claims are for money already spent."),
    "date_too_old": N_("That is more than {days} days ago, too old to claim."),
    "spent_on_format": N_("I could not read that date. Please send it like 11-20 or "
                          "2026-11-20."),
    "description_too_long": N_("That is too long: at most {limit} characters, please."),
    "category_unknown": N_("That category is not offered. Please tap one of the buttons."),
    "unit_not_offered": N_("You cannot charge claims to that. Please tap one of the "
                           "buttons."),
    "opportunity_not_offered": N_("That opportunity is not one of yours. Please tap one of "
                                  "the buttons."),
    "receipt_missing": N_("Claims above {above} need a receipt: please send a photo of it."),
    "receipt_duplicate": N_("This receipt is attached to the claim already."),
    "trip_title_empty": N_("Please give the trip a title, for example /trip Hangzhou fair."),
    "trip_title_too_long": N_("That title is too long: at most {limit} characters, please."),
    "trip_not_found": N_("I could not find that trip."),
    "trip_submitted": N_("That trip was submitted already."),
    "trip_empty": N_("That trip has no drafts to submit."),
    # Approvals and budgets.
    "budget_blocked": N_("This claim would take the budget {budget} over its limit of {limit} "
                         "by {over}, and that budget does not allow it. Nothing was "
                         "submitted."),
    "no_approver": N_("There is nobody who could approve this claim: your department has no "
                      "manager above you. Please ask an admin."),
    "claim_not_draft": N_("This claim was already submitted."),
    "claim_incomplete": N_("This claim is not complete yet: {missing}."),
    "claim_changed": N_("This claim changed in the meantime. Nothing was changed; please "
                        "look at it again."),
    "claim_decided": N_("This claim has already been decided, so it can no longer be "
                        "withdrawn or changed."),
    "claim_withdrawn": N_("This claim was withdrawn by the claimant. Nothing was changed."),
    "claim_not_pending": N_("This claim is not waiting for approval."),
    "claim_not_found": N_("I could not find that claim."),
    "not_your_claim": N_("That is not your claim."),
    "own_claim": N_("Nobody approves their own claim. Nothing was changed."),
    "not_your_approval": N_("This claim is not yours to approve. Nothing was changed."),
    "already_decided": N_("This claim was already decided by {by}. Nothing was changed."),
    "reason_empty": N_("Please write a reason: the claimant needs to know why."),
    "reason_too_long": N_("That reason is too long: at most {limit} characters, please."),
    "budget_period_format": N_("I could not read that period. Use a month like 2026-12, a "
                               "quarter like 2026-Q4 or a year like 2026."),
    "budget_unit_format": N_("Name the unit like {example}, project:harbor-rollout or "
                             "member:carol."),
    "budget_unit_unknown": N_("I do not know the unit {unit}."),
    "budget_category_unknown": N_("There is no category {category}. Known: {known}, or all."),
    "budget_policy_unknown": N_("The policy must be warn, block or escalate."),
    "budget_not_allowed": N_("Only a manager of that unit, or finance, can set its budget."),
    # Statistics and export.
    "stats_for_managers": N_("Statistics and exports are for managers and finance: they show "
                             "the claims of the departments you lead."),
    # Opportunities.
    "opp_not_found": N_("I could not find that opportunity, or it is not one you can see."),
    "opp_read_only": N_("You can look at this opportunity, but only its owner and their "
                        "managers can change it."),
    "opp_changed": N_("This opportunity changed in the meantime. Nothing was changed; please "
                      "look at it again."),
    "opp_stage_unknown": N_("That stage is not in the pipeline. Please tap one of the buttons."),
    "opp_same_stage": N_("The opportunity is at that stage already."),
    "opp_reopen_not_allowed": N_("This opportunity is closed (won or lost). Only a manager "
                                 "above its owner, or an admin, can reopen it."),
    "opp_lost_reason": N_("Please give the reason it was lost."),
    "opp_reason_empty": N_("Please give the reason it was lost."),
    "opp_reason_too_long": N_("That reason is too long: at most {limit} characters, please."),
    "opp_title_empty": N_("Please give the opportunity a title, for example "
                          "“Cold-chain fleet 2027”."),
    "opp_title_too_long": N_("That title is too long: at most {limit} characters, please."),
    "opp_amount_too_large": N_("That is more than {maximum}, the largest amount an "
                               "opportunity can have. Please check the amount."),
    "opp_amount_currency": N_("Opportunities are in {currency}. Please send the amount in "
                              "{currency}, for example 120000."),
    "opp_close_in_past": N_("That date has passed. An open opportunity is expected to close "
                            "today or later."),
    "opp_close_too_far": N_("That date is more than ten years away. Please check it."),
    "opp_note_empty": N_("Please write the note in a few words."),
    "opp_note_too_long": N_("That note is too long: at most {limit} characters, please."),
    "opp_probability_range": N_("A probability is a whole number from 0 to 100."),
    "opp_create_closed": N_("A new opportunity starts at an open stage."),
    "opp_customer_name_empty": N_("Please send the customer's name."),
    "opp_customer_name_too_long": N_("That name is too long: at most {limit} characters, "
                                     "please."),
    "opp_customer_site": N_("That location is not on the map. Please share it again."),
    "opp_no_location": N_("I have no location from you in the last hour. Share your location "
                          "at the customer's site with 📍 Check in, then tap the button "
                          "again."),
    "opportunity_duplicate": N_("There is already an open opportunity with this title at this "
                                "customer."),
    "opp_closed": N_("This opportunity is closed (won or lost): nothing more is planned or "
                     "claimed for it."),
    # Goals.
    "goal_unit": N_("Name whose goal it is as member:KEY or department:KEY, for example "
                    "member:carol."),
    "goal_unit_unknown": N_("I do not know that member or department. Use the key from the "
                            "org file, for example member:carol or department:east."),
    "goal_metric": N_("That is not a goal I can measure. Use visits, new, won or ratio."),
    "goal_period": N_("I could not read that period. Use a month like 2026-12, a quarter like "
                      "2026-Q4 or a year like 2026."),
    "goal_period_over": N_("That period is over: goals are for this period or later ones."),
    "goal_target": N_("That target does not fit the goal: visits and new opportunities are "
                      "whole numbers above zero, won is an amount above zero, and ratio is a "
                      "percentage above 0 and at most 100."),
    "goal_not_allowed": N_("Only a manager of that department (or one above it) or an admin "
                           "can set this goal."),
    "day_out_of_range": N_("That day is outside the calendar."),
    "export_too_large": N_("That is too many claims to send here. Pick a shorter period or a "
                           "status, or ask finance for the full export."),
}


def budget_name(parts: Mapping[str, object], t: Translator) -> str:
    """The budget a refusal names ('Travel · East region · 2026-11'), with the category in
    the reader's language (the refusal carries both names)."""
    category = (parts.get("budget_category_zh") if t.language == "zh_Hans" else None) \
        or parts.get("budget_category") or t("All categories")
    return " · ".join([str(category), str(parts.get("budget_unit") or ""),
                       str(parts.get("budget_period") or "")])


def refusal(t: Translator, error: DomainError, told: Mapping[str, str] | None = None) -> str:
    """What a refusal says, in the reader's language, with its numbers and names filled in.

    `told`: what the reader of one screen is told instead for some codes (the claimant
    hears of a blocked budget otherwise than the approver does).
    """
    message = ((told or {}).get(error.code) or REFUSALS.get(error.code)
               or REFUSALS["not_allowed"])
    values = {k: format_amount(v) if isinstance(v, Decimal) else v
              for k, v in error.params.items()}
    if "budget_unit" in values:
        values["budget"] = budget_name(values, t)
    if values.get("status") in set(ClaimStatus):
        values["status"] = t(STATUS_NAMES[ClaimStatus(values["status"])])
    try:
        return t(message, **values)
    except (KeyError, IndexError, ValueError):
        return t(message)
