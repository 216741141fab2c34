"""One-time invite links: the token, its digest, and when an invite can be used."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest

from core.domain.org.invite import Invite, InviteRefused, looks_like_token, new_token, token_digest
from core.domain.org.model import Role

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
DEEP_LINK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def issued(token: str = "a" * 32) -> Invite:
    return Invite.issue(token, department_id=2, created_by=12, now=NOW, ttl=WEEK)


def refusal_code(invite: Invite, now: datetime) -> str:
    with pytest.raises(InviteRefused) as caught:
        invite.check_usable(now)
    return caught.value.code


def test_a_new_token_fits_a_telegram_deep_link():
    for _ in range(50):
        token = new_token()
        assert DEEP_LINK.match(token)
        assert looks_like_token(token)


def test_new_tokens_are_not_repeated():
    assert len({new_token() for _ in range(200)}) == 200


def test_the_digest_is_stable_and_does_not_reveal_the_token():
    token = new_token()
    assert token_digest(token) == token_digest(token)
    assert token not in token_digest(token)
    assert re.fullmatch(r"[0-9a-f]{64}", token_digest(token))


def test_a_forged_token_does_not_match_the_stored_digest():
    token = new_token()
    assert token_digest(token + "x") != token_digest(token)
    assert token_digest(token.swapcase()) != token_digest(token)


@pytest.mark.parametrize("text", ["", "short", "has spaces in the middle!", "a" * 65,
                                  "../../etc/passwd/padding", "slash/separated/token1",
                                  "token+with+plus+signs"])
def test_text_that_is_not_a_token_is_recognised(text):
    assert not looks_like_token(text)


def test_only_the_digest_is_kept_on_an_issued_invite():
    token = new_token()
    invite = Invite.issue(token, department_id=2, created_by=12, now=NOW, ttl=WEEK)
    assert invite.digest == token_digest(token)
    assert token not in repr(invite)
    assert (invite.department_id, invite.created_by) == (2, 12)
    assert invite.expires_at == NOW + WEEK
    assert invite.roles == {Role.REP}
    assert invite.used_at is None and invite.id is None


def test_an_invite_is_usable_one_second_before_it_expires():
    issued().check_usable(NOW + WEEK - timedelta(seconds=1))


def test_an_invite_has_expired_at_exactly_its_expiry():
    invite = issued()
    with pytest.raises(InviteRefused) as caught:
        invite.check_usable(NOW + WEEK)
    assert caught.value.code == "invite_expired"
    assert caught.value.params == {"expired_at": NOW + WEEK}


def test_using_an_invite_records_who_and_when_and_leaves_the_original():
    invite = issued()
    used = invite.use(42, NOW + timedelta(hours=1))
    assert (used.used_by, used.used_at) == (42, NOW + timedelta(hours=1))
    assert invite.used_at is None
    with pytest.raises(FrozenInstanceError):
        invite.used_by = 42  # type: ignore[misc]


def test_a_used_invite_cannot_be_used_again():
    used = issued().use(42, NOW)
    assert refusal_code(used, NOW + timedelta(minutes=1)) == "invite_used"
    with pytest.raises(InviteRefused):
        used.use(43, NOW + timedelta(minutes=1))


def test_a_used_invite_says_used_even_after_it_expired():
    used = issued().use(42, NOW)
    assert refusal_code(used, NOW + 2 * WEEK) == "invite_used"


def test_an_expired_invite_cannot_be_used():
    with pytest.raises(InviteRefused) as caught:
        issued().use(42, NOW + WEEK + timedelta(seconds=1))
    assert caught.value.code == "invite_expired"
