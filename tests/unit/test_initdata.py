"""Telegram's init data: the signature, its age and its shape, checked without any I/O."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.initdata import InitDataError, launch_fields, sign, verify

TOKEN = "123456789:AAH-test-token"
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def signed(**overrides) -> str:
    fields = launch_fields(2001, "Carol", NOW - timedelta(minutes=5))
    fields.update(overrides)
    return sign(fields, TOKEN)


def test_telegrams_documented_scheme_by_hand():
    """The check string and both HMACs written out as Telegram's documentation gives them."""
    fields = {"auth_date": str(int(NOW.timestamp())), "query_id": "AAE",
              "user": '{"id":2001,"first_name":"Carol","language_code":"zh-hans"}'}
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check, hashlib.sha256).hexdigest()
    user = verify(urlencode({**fields, "hash": digest}), TOKEN, NOW, HOUR)
    assert (user.account_id, user.language_code, user.signed_at) == (2001, "zh-hans", NOW)


def test_the_signature_covers_every_field():
    data = dict(parse_qsl(signed()))
    for key in ("user", "auth_date", "chat_instance"):
        tampered = {**data, key: data[key] + "0"}
        with pytest.raises(InitDataError) as refused:
            verify(urlencode(tampered), TOKEN, NOW, HOUR)
        assert refused.value.code == "init_data_forged"


def test_another_bots_token_does_not_sign_for_this_one():
    other = sign(launch_fields(2001, "Carol", NOW), "987654321:other")
    with pytest.raises(InitDataError, match="init_data_forged"):
        verify(other, TOKEN, NOW, HOUR)


@pytest.mark.parametrize("age, accepted", [
    (timedelta(0), True), (HOUR, True), (HOUR + timedelta(seconds=1), False),
    (-timedelta(seconds=59), True), (-timedelta(minutes=2), False)])
def test_age(age, accepted):
    data = sign(launch_fields(2001, "Carol", NOW - age), TOKEN)
    if accepted:
        assert verify(data, TOKEN, NOW, HOUR).account_id == 2001
    else:
        with pytest.raises(InitDataError, match="init_data_expired"):
            verify(data, TOKEN, NOW, HOUR)


@pytest.mark.parametrize("data", [
    "", None, "hash", "a=1&a=2&hash=00", "user=%7B%7D&auth_date=1",
    "x" * 9000])
def test_malformed_or_missing(data):
    with pytest.raises(InitDataError) as refused:
        verify(data, TOKEN, NOW, HOUR)
    assert refused.value.code in ("init_data_missing", "init_data_malformed")


@pytest.mark.parametrize("user", ['{"id":"2001"}', '{"id":true}', '{"id":-5}', "[]", "{",
                                  '{"first_name":"Carol"}'])
def test_a_signed_but_strange_user_is_malformed(user):
    with pytest.raises(InitDataError, match="init_data_malformed"):
        verify(signed(user=user), TOKEN, NOW, HOUR)


def test_a_signed_date_that_is_not_a_number_is_malformed():
    with pytest.raises(InitDataError, match="init_data_malformed"):
        verify(signed(auth_date="yesterday"), TOKEN, NOW, HOUR)


@given(st.text(max_size=300))
def test_no_text_is_ever_accepted_unsigned(text):
    with pytest.raises(InitDataError):
        verify(text, TOKEN, NOW, HOUR)
