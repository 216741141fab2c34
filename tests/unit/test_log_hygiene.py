"""The bot's log lines: no token anywhere, network failures in one line."""

from __future__ import annotations

import io
import logging

from telegram.error import NetworkError

from bootstrap.logs import Redact

TOKEN = "123456:SECRET-token-value"


def logged(emit) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redact([(TOKEN, "<token>")]))
    logger = logging.getLogger("test.hygiene")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_token_never_reaches_the_log_not_even_in_a_traceback():
    def emit(logger):
        logger.warning("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"failed calling /bot{TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("handler failed")

    text = logged(emit)
    assert TOKEN not in text
    assert "bot<token>/getMe" in text and "RuntimeError" in text


def test_network_failure_is_one_line_without_traceback():
    def emit(logger):
        try:
            raise NetworkError("httpx.ConnectError: All connection attempts failed")
        except NetworkError:
            logger.exception("Network Retry Loop failed")

    assert logged(emit).strip() == (
        "Network Retry Loop failed (httpx.ConnectError: All connection attempts failed)")
