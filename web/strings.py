"""What the page says, from the bot's catalogs: the page asks for its words in the member's
language once (GET /app/api/me) and looks them up by their English text."""

from __future__ import annotations

from bot.i18n import N_, Translator

ERRORS = {
    "init_data_missing": N_("Open this page from the bot in Telegram: it signs you in."),
    "init_data_malformed": N_("Open this page from the bot in Telegram: it signs you in."),
    "init_data_forged": N_("This sign-in is not valid for this bot. Open the dashboard from "
                           "the bot in Telegram again."),
    "init_data_expired": N_("This page has been open too long. Close it and open the "
                            "dashboard from the bot again."),
    "not_a_member": N_("This dashboard is for members of the team. Ask your manager for an "
                       "invite."),
    "too_many_requests": N_("That was a lot at once. Please wait a moment and try again."),
    "bad_request": N_("The page sent something the server cannot read. Reload the page."),
    "not_found": N_("That is not here any more. Reload the page."),
}

# The page's frame: its title, tabs, and what every view may say.
SHELL = (
    N_("Dashboard"),
    N_("Today"),
    N_("Approvals"),
    N_("Budgets"),
    N_("Pipeline"),
    N_("My day"),
    N_("My claims"),
    N_("Loading…"),
    N_("Try again"),
    N_("Back"),
    N_("Nothing here yet."),
    N_("Could not reach the server. Check your connection and try again."),
    N_("Sorry, something went wrong on our side. Please try again in a moment."),
)


def strings(t: Translator) -> dict[str, str]:
    """Every text the page shows, in t's language, keyed by its English text."""
    from web.views import STRINGS

    return {message: t(message) for message in (*SHELL, *STRINGS)}
