"""The finance API's config: distinct tokens, and a cursor secret that no client holds."""

from __future__ import annotations

import pytest

from bootstrap.config import parse_config
from core.config import ConfigError
from tests.api.conftest import AUDIT, CURSOR_SECRET, LEDGER


def api(*tokens: tuple[str, str], **extra) -> dict:
    return {"api": {"tokens": [{"name": name, "token": token} for name, token in tokens],
                    **extra}}


def test_two_tokens_with_one_secret_are_refused():
    with pytest.raises(ConfigError) as refused:
        parse_config(api(("ledger", LEDGER), ("audit", AUDIT), ("backup", LEDGER)), env={})
    assert str(refused.value) == ("api.tokens: tokens backup, ledger share one secret; "
                                  "give each its own")
    assert LEDGER not in str(refused.value)


def test_two_tokens_with_one_name_are_refused():
    with pytest.raises(ConfigError, match=r"^api\.tokens: each token needs its own name$"):
        parse_config(api(("ledger", LEDGER), ("ledger", AUDIT)), env={})


def test_the_cursor_secret_is_required_only_to_serve_the_api():
    config = parse_config(api(("ledger", LEDGER)), env={})
    with pytest.raises(ConfigError, match=(r"^api\.cursor_secret: missing .*"
                                           r"CRMBOT_API_CURSOR_SECRET\)$")):
        config.api.require_servable()
    assert parse_config(api(("ledger", LEDGER), cursor_secret=CURSOR_SECRET),
                        env={}).api.require_cursor_secret() == CURSOR_SECRET.encode()


def test_the_cursor_secret_may_come_from_the_environment():
    config = parse_config(api(("ledger", LEDGER), cursor_secret="x" * 40),
                          env={"CRMBOT_API_CURSOR_SECRET": CURSOR_SECRET})
    assert config.api.require_cursor_secret() == CURSOR_SECRET.encode()
    assert CURSOR_SECRET not in repr(config)


@pytest.mark.parametrize(("secret", "message"), [
    ("too-short-0123456789",
     "api.cursor_secret: must be at least 32 characters (a long random string)"),
    (LEDGER + "-and-some-more", None),
])
def test_a_weak_cursor_secret_is_refused(secret, message):
    tokens = [("ledger", LEDGER + "-and-some-more")] if message is None else [("ledger", LEDGER)]
    with pytest.raises(ConfigError) as refused:
        parse_config(api(*tokens, cursor_secret=secret), env={})
    assert str(refused.value) == (message or
                                  "api.cursor_secret: must differ from every token "
                                  "(a client would hold it)")
    assert secret not in str(refused.value)


def test_a_short_token_is_refused_with_its_length():
    with pytest.raises(ConfigError) as refused:
        parse_config(api(("ledger", "short-secret")), env={})
    assert str(refused.value) == ("api.tokens.0.token: must be at least 24 characters "
                                  "(a long random string)")


def test_no_tokens_is_refused_before_anything_else():
    with pytest.raises(ConfigError, match=r"^api\.tokens: none configured"):
        parse_config(api(cursor_secret=CURSOR_SECRET), env={}).api.require_servable()
