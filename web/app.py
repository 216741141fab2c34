"""The Mini App's server: the page, its static files and its JSON endpoints.

Every JSON call carries Telegram's init data (`Authorization: tma <init data>`); it is checked
with the bot's token, mapped to an active member, and the member's calls are counted. The
endpoints call core's use cases with the member's account, exactly as the bot does: core
checks every right again.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bootstrap import Services, build_services
from bootstrap.config import Config
from bot.i18n import Translator
from bot.texts import refusal
from core.domain.errors import DomainError, NotAllowed, NotFound
from core.domain.org.language import pick_language
from core.org.membership import Standing
from core.ports import Clock, SystemClock
from storage.database import Database
from storage.health import readiness
from web.config import PATH
from web.initdata import InitDataError, WebUser, verify
from web.strings import ERRORS, strings

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
API = PATH + "api"


@dataclass(frozen=True)
class Viewer:
    """Who is calling: their Telegram account, the member's standing and their language."""

    account_id: int
    standing: Standing
    t: Translator

    @property
    def timezone(self) -> str:
        return self.standing.settings.timezone


class WebError(Exception):
    """A refusal the page shows as it is: a status, a code and a translated message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class RateLimit:
    """At most `per_minute` calls in any 60 seconds per member, in this process."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._monotonic = monotonic
        self._calls: dict[int, deque[float]] = {}

    def wait(self, key: int) -> float:
        """0 when the call may go ahead (and it is counted), else seconds until it may."""
        now = self._monotonic()
        calls = self._calls.setdefault(key, deque())
        while calls and now - calls[0] >= 60:
            calls.popleft()
        if len(calls) >= self._limit:
            return 60 - (now - calls[0])
        calls.append(now)
        if len(self._calls) > 10_000:  # forget people who stopped calling
            self._calls = {k: v for k, v in self._calls.items() if v and now - v[-1] < 60}
        return 0.0


def _language_hint(init_data: str | None, default: str) -> str:
    """The language of a refusal before the caller is known (the unverified user's app
    language: it chooses words, never rights)."""
    try:
        user = orjson.loads(dict(parse_qsl(init_data or "")).get("user", "{}"))
        app_language = user.get("language_code") if isinstance(user, dict) else None
    except (orjson.JSONDecodeError, TypeError):
        app_language = None
    return pick_language(None, app_language if isinstance(app_language, str) else None,
                         default)


def init_data_of(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "tma" else None


async def viewer(request: Request) -> Viewer:
    """The dependency every JSON endpoint starts with."""
    state = request.app.state
    init_data = init_data_of(request)
    default = state.config.org.default_language
    try:
        user: WebUser = verify(init_data, state.token, state.clock.now(), state.max_age)
    except InitDataError as error:
        t = Translator(_language_hint(init_data, default))
        raise WebError(401, error.code, t(ERRORS[error.code])) from None
    # Counted before the database is asked anything: a flood costs no query.
    wait = state.rate_limit.wait(user.account_id)
    if wait:
        t = Translator(_language_hint(init_data, default))
        raise WebError(429, "too_many_requests", t(ERRORS["too_many_requests"]),
                       {"Retry-After": str(max(1, round(wait)))})
    try:
        standing = await state.services.org.standing(user.account_id)
    except NotAllowed:
        t = Translator(_language_hint(init_data, default))
        raise WebError(403, "not_a_member", t(ERRORS["not_a_member"])) from None
    t = Translator(pick_language(standing.member.language, user.language_code,
                                 standing.settings.default_language))
    request.state.t = t
    return Viewer(user.account_id, standing, t)


# What an endpoint takes to learn who calls: `async def view(who: Who) -> Response`.
Who = Annotated[Viewer, Depends(viewer)]


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type="application/json")


def content_security_policy(config: Config) -> str:
    tiles = config.web.tile_origin
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'",
        f"img-src 'self' blob: data:{' ' + tiles if tiles else ''}", "connect-src 'self'",
        "font-src 'self'", "manifest-src 'self'", "base-uri 'none'", "form-action 'none'",
        # Telegram's web clients show Mini Apps in a frame; the apps open them in a view.
        "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"])


class _SecurityHeaders:
    """The Content-Security-Policy and its companions on every response."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", policy.encode()),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"),
                        (b"cross-origin-opener-policy", b"same-origin")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(API)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.headers)
                if api:  # personal data: never kept by a cache on the way
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _refusals(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, error: WebError) -> Response:
        return JSONResponse({"error": error.code, "message": error.message},
                            status_code=error.status, headers=error.headers)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        t = getattr(request.state, "t", None) or Translator("en")
        status = 404 if isinstance(error, NotFound) else \
            403 if isinstance(error, NotAllowed) else 409
        return JSONResponse({"error": error.code, "message": refusal(t, error)},
                            status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        t = getattr(request.state, "t", None) or Translator("en")
        return JSONResponse({"error": "bad_request", "message": t(ERRORS["bad_request"])},
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        t = getattr(request.state, "t", None) or Translator("en")
        key = "not_found" if error.status_code == 404 else "bad_request"
        return JSONResponse({"error": key, "message": t(ERRORS[key])},
                            status_code=error.status_code)


def _pages(app: FastAPI, database: Database) -> None:
    index = STATIC / "index.html"

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(PATH)

    @app.get(PATH, include_in_schema=False)
    async def page() -> Response:
        # The page holds no data and no inline script: everything comes from /app/api.
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    @app.get(API + "/me", include_in_schema=False)
    async def me(who: Who) -> Response:
        standing, config = who.standing, app.state.config
        return json_response({
            "member": {"id": standing.member.id, "name": standing.member.name},
            "roles": sorted(str(r) for r in standing.roles),
            "oversees": standing.oversees,
            "language": who.t.language,
            "timezone": who.timezone,
            "currency": standing.settings.currency,
            "org": standing.settings.name,
            "tiles": {"url": config.web.tile_url, "attribution": config.web.tile_attribution},
            "strings": strings(who.t),
        })

    @app.get("/healthz", include_in_schema=False)
    async def alive() -> Response:
        return json_response({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def ready() -> Response:
        found = await readiness(database)
        return json_response(found.report("web"), 200 if found.ready else 503)


def settle() -> None:
    """Once the app is built: what start-up made (modules, catalogs, the framework) is moved
    out of the garbage collector's oldest generation, which it would otherwise walk every few
    requests (bench/web.py: the Today view's p95 from about 180 ms to about 60 ms)."""
    gc.collect()
    gc.freeze()


def create_app(config: Config, database: Database, *, clock: Clock | None = None,
               services: Services | None = None,
               monotonic: Callable[[], float] = time.monotonic) -> FastAPI:
    """The Mini App over an open database; the caller disposes of the database."""
    from web.views import ROUTERS

    token = config.require_token()
    app = FastAPI(title="crmbot Mini App", openapi_url=None, docs_url=None, redoc_url=None)
    clock = clock or SystemClock()
    app.state.config = config
    app.state.clock = clock
    app.state.token = token
    app.state.max_age = timedelta(seconds=config.web.max_age_seconds)
    app.state.services = services or build_services(config, database, clock)
    app.state.rate_limit = RateLimit(config.web.requests_per_minute, monotonic)
    app.add_middleware(_SecurityHeaders, policy=content_security_policy(config))
    _refusals(app)
    _pages(app, database)
    for router in ROUTERS:
        app.include_router(router, prefix=API)
    app.mount(PATH + "static", StaticFiles(directory=STATIC), name="static")
    return app
