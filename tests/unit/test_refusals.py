"""What a refusal says: one renderer for every screen, its numbers and names filled in."""

from __future__ import annotations

from decimal import Decimal

from bot.handlers.checkins import CHECK_IN_REFUSALS
from bot.handlers.claims import CLAIMANT_REFUSALS
from bot.i18n import Translator
from bot.texts import refusal
from core.domain.errors import DomainError, NotAllowed

EN, ZH = Translator("en"), Translator("zh_Hans")
BLOCKED = DomainError("budget_blocked", over=Decimal("8200"), limit=Decimal("10000.5"),
                      budget="Travel · east · 2026-11", budget_unit="East region",
                      budget_period="2026-11", budget_category="Travel",
                      budget_category_zh="差旅")


def test_a_code_says_its_message():
    assert refusal(EN, NotAllowed("own_claim")) == (
        "Nobody approves their own claim. Nothing was changed.")


def test_an_unknown_code_is_a_plain_no():
    assert refusal(EN, DomainError("no_such_code")) == "Sorry, you are not allowed to do that."


def test_amounts_are_grouped_to_the_cent_and_the_budget_named_in_the_readers_language():
    text = refusal(EN, BLOCKED)
    assert "Travel · East region · 2026-11" in text
    assert "10,000.50" in text and "8,200.00" in text
    assert "差旅 · East region · 2026-11" in refusal(ZH, BLOCKED, CLAIMANT_REFUSALS)


def test_a_screen_may_say_it_otherwise():
    assert refusal(EN, BLOCKED, CLAIMANT_REFUSALS).endswith("The draft is kept.")
    assert refusal(EN, DomainError("photo_too_big"), CHECK_IN_REFUSALS) == (
        "This file is larger than 20 MB, so I cannot take it. Please send a smaller photo.")
    # A code the screen's table does not have falls back to the shared one.
    assert refusal(EN, DomainError("claim_not_found"), CHECK_IN_REFUSALS) == (
        "I could not find that claim.")


def test_a_claims_status_is_named_in_the_readers_language():
    error = DomainError("claim_decided", status="approved")
    assert refusal(EN, error, CLAIMANT_REFUSALS) == (
        "This claim is already approved, so it cannot be withdrawn.")


def test_plain_numbers_and_names_are_filled_in():
    assert "at most 200 characters" in refusal(EN, DomainError("opp_title_too_long", limit=200))
    assert "already decided by Erin" in refusal(EN, DomainError("already_decided", by="Erin"))


def test_goal_refusals_are_said_too():
    assert refusal(EN, DomainError("goal_metric")) == (
        "That is not a goal I can measure. Use visits, new, won or ratio.")


def test_a_missing_value_leaves_the_message_readable():
    assert "{limit}" in refusal(EN, DomainError("opp_title_too_long"))
