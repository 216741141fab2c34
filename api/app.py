"""The finance API: the FastAPI application, its routes and how refusals become statuses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from orjson import Fragment
from pydantic_core import to_json
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import schemas
from api.auth import POST, READ, Client, Tokens
from api.cursor import CursorCodec, CursorError
from bootstrap import build_services
from bootstrap.config import Config
from bootstrap.metrics import CONTENT_TYPE, MetricsPage
from core.domain.errors import DomainError, NotFound
from core.domain.expenses.finance import (
    LedgerClaim,
    LedgerClaimRecord,
    LedgerRow,
    Posting,
    amount_text,
    utc_moment,
)
from core.expenses.finance import FinanceService, PostingRequest
from core.ports import Clock, PhotoFiles, SystemClock
from storage.database import Database
from storage.health import readiness

PREFIX = "/api/v1"
log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, scheme_name="bearerAuth", bearerFormat="opaque",
                     description="A token from [api] tokens in the config. Scopes: "
                                 "claims:read (list, fetch, receipts), claims:post (postings).")

# Refusals from core, as HTTP statuses and messages a finance system's operator can act on.
_REFUSALS = {
    "claim_not_found": (404, "no approved claim has this number"),
    "receipt_not_found": (404, "this claim has no such receipt"),
    "claim_not_approved": (409, "the claim is not approved, so it cannot be posted"),
    "claim_posted_elsewhere": (409, "the claim is already posted with another ledger_ref"),
}
_BATCH_STATUS = {"claim_not_found": "not_found", "claim_not_approved": "not_approved",
                 "claim_posted_elsewhere": "conflict"}
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


def _responses(*statuses: int) -> dict:
    """The refusals an operation documents, besides the ones every operation may give."""
    return {status: {"model": schemas.Error} for status in (401, 403, 422, *statuses)}


def _error(status: int, code: str, message: str, headers: dict | None = None,
           **extra: object) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers=headers)


_UNAUTHORIZED = "a valid bearer token is required"


async def _authorize(request: Request, scope: str) -> Client:
    """The calling client, which must hold `scope`; else a 401 or 403 HTTPException."""
    credentials = await _bearer(request)
    found = request.app.state.tokens.find(credentials.credentials if credentials else None)
    if found is None:
        raise HTTPException(401, _UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if scope not in found.scopes:
        raise HTTPException(403, f"this token lacks the {scope} scope", headers={
            "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'})
    return found


def requires(scope: str):
    """A dependency: the calling client, which must hold `scope` (see `_AuthFirst`)."""

    async def client(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Client:
        # _AuthFirst has found the client before the request was read; ask again only
        # where a route is served without it.
        found = getattr(request.state, "client", None)
        return found if found is not None else await _authorize(request, scope)

    client.scope = scope  # type: ignore[attr-defined]
    return client


# A full batch (1,000 lines, each reference 100 characters written as \uXXXX surrogate
# pairs) is about 1.3 MB of JSON.
MAX_BODY = 2 * 1024 * 1024
_TOO_LARGE = f"the request body is larger than {MAX_BODY // (1024 * 1024)} MiB; send fewer lines"


class _BodyLimit:
    """Stops reading a body (sent without a length, or longer than it said) at MAX_BODY."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        read = 0

        async def bounded() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > MAX_BODY:
                raise HTTPException(413, _TOO_LARGE)
            return message

        await self.app(scope, bounded, send)


class _AuthFirst(APIRoute):
    """A route that checks the caller's token before FastAPI reads the query or the body.

    Who may not call learns nothing about the request's shape: not which fields are
    wrong, not whether the body could be read at all.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        scopes = [d.call.scope for d in self.dependant.dependencies if hasattr(d.call, "scope")]
        has_body = self.body_field is not None

        async def authorized_first(request: Request) -> Response:
            for scope in scopes:
                request.state.client = await _authorize(request, scope)
            if has_body:
                await _readable_body(request)
            return await handle(request)

        return authorized_first


async def _readable_body(request: Request) -> None:
    """The body, read within MAX_BODY (else 413) and UTF-8 as JSON must be (else 422)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, _TOO_LARGE)
    try:
        (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",),
                                       "msg": "not UTF-8", "input": {}}]) from None


def _finance(request: Request) -> FinanceService:
    return request.app.state.finance


def _clock(request: Request) -> Clock:
    return request.app.state.clock


Finance = Annotated[FinanceService, Depends(_finance)]
Reader = Annotated[Client, Security(requires(READ))]
Poster = Annotated[Client, Security(requires(POST))]
ClaimNumber = Annotated[str, Path(pattern=schemas.NUMBER_PATTERN, examples=["EXP-2026-000123"])]


def _claim(c: LedgerClaim, people: dict[str, dict], units: dict[tuple, dict]) -> dict:
    """schemas.Claim as plain values (pydantic_core writes Decimal, date and datetime).

    Members and units repeat down a page: each is written from one shared dict.
    """
    member = people.get(c.member_key)
    if member is None:
        member = people[c.member_key] = {"key": c.member_key, "name": c.member_name}
    unit = None
    if c.unit_key is not None:
        unit = units.get((c.unit_kind, c.unit_key))
        if unit is None:
            unit = units[c.unit_kind, c.unit_key] = {"kind": c.unit_kind, "key": c.unit_key,
                                                     "name": c.unit_name}
    return {"number": c.number, "id": c.id, "member": member, "department": c.department,
            "amount": c.amount, "currency": c.currency, "category": c.category,
            "spent_on": c.spent_on, "unit": unit, "opportunity_id": c.opportunity_id,
            "description": c.description, "submitted_at": c.submitted_at,
            "decided_at": c.decided_at, "posted_at": c.posted_at, "ledger_ref": c.ledger_ref,
            "receipt_count": c.receipt_count}


def _claims(claims: list[LedgerClaim]) -> list[dict]:
    people: dict[str, dict] = {}
    units: dict[tuple, dict] = {}
    return [_claim(c, people, units) for c in claims]


# orjson writes a page: naive datetimes as UTC, and UTC with "Z", as pydantic does in `_json`.
PAGE_JSON = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def _rows(rows: list[LedgerRow]) -> list[dict]:
    """`_claims` from LedgerRows, for orjson with `PAGE_JSON`: the same JSON.

    No Decimal or model is built for any of 10,000 claims: amounts become their text with
    integer arithmetic, times UTC datetimes, which orjson writes as pydantic does.
    Each member and unit is encoded once and repeated as a Fragment, so a claim's dict holds
    no other container and the garbage collector never tracks it (see LedgerRow).
    """
    people: dict[str, Fragment] = {}
    units: dict[tuple[str | None, str], Fragment] = {}
    claims = []
    append = claims.append
    for (number, id_, member_key, member_name, department, cents, currency, category,
         spent_on, unit_kind, unit_key, unit_name, opportunity_id, description, submitted_at,
         decided_at, posted_at, ledger_ref, receipt_count) in rows:
        member = people.get(member_key)
        if member is None:
            member = people[member_key] = Fragment(
                orjson.dumps({"key": member_key, "name": member_name}))
        unit = None
        if unit_key is not None:
            unit = units.get((unit_kind, unit_key))
            if unit is None:
                unit = units[unit_kind, unit_key] = Fragment(orjson.dumps(
                    {"kind": unit_kind, "key": unit_key, "name": unit_name}))
        append({"number": number, "id": id_, "member": member, "department": department,
                "amount": amount_text(cents), "currency": currency, "category": category,
                "spent_on": spent_on, "unit": unit, "opportunity_id": opportunity_id,
                "description": description, "submitted_at": utc_moment(submitted_at),
                "decided_at": utc_moment(decided_at), "posted_at": utc_moment(posted_at),
                "ledger_ref": ledger_ref, "receipt_count": receipt_count})
    return claims


def _posting(posting: Posting) -> dict:
    return {"number": posting.number, "ledger_ref": posting.ledger_ref,
            "posted_at": posting.posted_at}


def _json(content: object) -> Response:
    return Response(to_json(content), media_type="application/json")


def _record(record: LedgerClaimRecord) -> dict:
    claim = _claims([record.claim])[0]
    base = f"{PREFIX}/claims/{record.claim.number}/receipts"
    claim["receipts"] = [{"sha256": r.sha256, "size": r.size, "width": r.width,
                          "height": r.height, "url": f"{base}/{r.sha256}"}
                         for r in record.receipts]
    claim["history"] = [{"action": line.action,
                         "actor": None if line.actor is None else {"key": line.actor.key,
                                                                   "name": line.actor.name},
                         "at": line.at}
                        for line in record.history]
    return claim


def _image_type(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _routes(app: FastAPI) -> None:
    @app.get(f"{PREFIX}/claims/approved", response_model=schemas.ClaimPage,
             responses=_responses(400, 410),
             summary="Approved claims, in the order they were approved")
    async def approved_claims(
            request: Request, finance: Finance, client: Reader,
            cursor: Annotated[str | None, Query(
                # Only this server makes valid cursors: a format names them, no pattern could.
                max_length=512, json_schema_extra={"format": "cursor"},
                description=("next_cursor of the previous page, unchanged; none (or empty) to "
                             "start from the first claim"))] = None,
            limit: Annotated[int | None, Query(ge=1, le=10_000, description=(
                "Claims per page, at most [api] page_size (default: page_size)"))] = None,
    ) -> Response:
        """Pages never skip or repeat a claim, also while approvals go on.

        A claim is listed about a minute after its approval, once no earlier decision can
        still be committing. Posted claims stay in the list with posted_at and ledger_ref.
        """
        now = _clock(request).now()
        codec = CursorCodec(client.cursor_key)
        position = codec.decode(cursor, now) if cursor else None
        page_size = request.app.state.page_size
        page = await finance.approved_rows(position, min(limit or page_size, page_size))
        # Plain values straight to JSON, serialized once by orjson: validating 10,000 models
        # would cost more than the query, and pydantic-core writes them four times slower
        # (tests check the page against schemas.ClaimPage, and byte for byte against
        # what pydantic-core writes).
        return Response(orjson.dumps({"claims": _rows(page.rows),
                                      "next_cursor": codec.encode(page.position, now),
                                      "has_more": page.has_more}, option=PAGE_JSON),
                        media_type="application/json")

    @app.get(f"{PREFIX}/claims/{{number}}", response_model=schemas.ClaimRecord,
             responses=_responses(404),
             summary="One approved claim with its receipts and history")
    async def claim(number: ClaimNumber, finance: Finance,
                    client: Reader) -> Response:
        return _json(_record(await finance.claim(number)))

    @app.get(f"{PREFIX}/claims/{{number}}/receipts/{{sha256}}", response_class=Response,
             responses={**_responses(404), 200: {"content": {"image/jpeg": {}, "image/png": {},
                                                     "image/webp": {}},
                                         "description": "The receipt image"}},
             summary="A receipt image of an approved claim")
    async def receipt(number: ClaimNumber,
                      sha256: Annotated[str, Path(pattern=schemas.SHA256_PATTERN)],
                      finance: Finance, client: Reader) -> Response:
        data = await finance.receipt(number, sha256)
        return Response(data, media_type=_image_type(data),
                        headers={"Cache-Control": "private, max-age=86400",
                                 "X-Content-Type-Options": "nosniff"})

    @app.post(f"{PREFIX}/claims/{{number}}/posting", response_model=schemas.Posting,
              responses=_responses(404, 409, 413),
              summary="Mark an approved claim posted (idempotent)")
    async def post_claim(number: ClaimNumber, posting: schemas.PostingIn, finance: Finance,
                         client: Poster) -> Response:
        """The same ledger_ref again answers 200 with the same posting and changes nothing;
        another ledger_ref on a posted claim answers 409."""
        done, _ = await finance.post(number, posting.ledger_ref, by=client.name)
        return _json(_posting(done))

    @app.post(f"{PREFIX}/postings", response_model=schemas.BatchOut, responses=_responses(413),
              summary="Mark many claims posted at once")
    async def post_claims(batch: schemas.BatchIn, finance: Finance,
                          client: Poster) -> Response:
        """One transaction; each line is answered on its own, as the single form would."""
        outcomes = await finance.post_many(
            [PostingRequest(line.number, line.ledger_ref) for line in batch.postings],
            by=client.name)
        return _json({"results": [
            {"number": o.number,
             "status": _BATCH_STATUS[o.error] if o.error else (
                 "posted" if o.changed else "unchanged"),
             "posting": None if o.posting is None else _posting(o.posting)}
            for o in outcomes]})


def _probes(app: FastAPI, database: Database, clock: Clock) -> None:
    """/healthz, /readyz and /metrics for the operator's monitoring: no token, and not in
    the OpenAPI document, which is the finance system's."""
    page = MetricsPage(database, clock)

    @app.get("/healthz", include_in_schema=False)
    async def alive() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def ready() -> Response:
        found = await readiness(database)
        return Response(to_json(found.report("api")), status_code=200 if found.ready else 503,
                        media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(await page.render(), headers={"Content-Type": CONTENT_TYPE})


def _field(error: dict) -> str:
    """`limit`, `ledger_ref`, `postings.0.number`; `body` when it is not JSON at all."""
    location = error["loc"]
    if error["type"] == "json_invalid" or len(location) == 1:
        return str(location[0])
    return ".".join(str(part) for part in location[1:])


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(CursorError)
    async def cursor_refused(request: Request, error: CursorError) -> JSONResponse:
        if error.expired:
            return _error(410, "cursor_expired", (
                "the cursor is more than 24 hours old; list again without a cursor and skip "
                "the claims you have already posted (they carry posted_at and ledger_ref)"))
        return _error(400, "invalid_cursor", (
            "this server did not issue the cursor to this token; pass next_cursor unchanged, "
            "or list again without a cursor"))

    @app.exception_handler(DomainError)
    async def refused(request: Request, error: DomainError) -> JSONResponse:
        if error.code == "bad_ledger_ref":
            return _error(422, "invalid_request", "some fields are invalid",
                          fields=["ledger_ref"])
        status, message = _REFUSALS.get(error.code, (404 if isinstance(error, NotFound)
                                                     else 409, "refused"))
        extra = ({"ledger_ref": error.params["ledger_ref"]}
                 if error.code == "claim_posted_elsewhere" else {})
        return _error(status, error.code, message, **extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # Raised only once the caller is authorized (_AuthFirst).
        fields = sorted({_field(e) for e in error.errors()})
        return _error(422, "invalid_request", "some fields are invalid", fields=fields)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, _HTTP_CODES.get(error.status_code, "error"),
                      str(error.detail), headers=error.headers)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        log.exception("finance API: %s %s failed", request.method, request.url.path)
        return _error(500, "internal_error", "the server could not answer; try again later")


def create_app(config: Config, database: Database, *, clock: Clock | None = None,
               photos: PhotoFiles | None = None) -> FastAPI:
    """The API over an open database; the caller disposes of the database."""
    cursor_secret = config.api.require_cursor_secret()
    app = FastAPI(title="crmbot finance API", version="1",
                  description="Approved expense claims for the finance system, and postings.",
                  openapi_url=f"{PREFIX}/openapi.json", docs_url=f"{PREFIX}/docs",
                  redoc_url=None)
    clock = clock or SystemClock()
    app.state.clock = clock
    app.state.tokens = Tokens(config.api.tokens, cursor_secret)
    app.state.page_size = config.api.page_size
    app.state.finance = (FinanceService(database.uow, clock, photos) if photos else
                         build_services(config, database, clock).finance)
    app.router.route_class = _AuthFirst
    app.add_middleware(_BodyLimit)
    _routes(app)
    _probes(app, database, clock)
    _handlers(app)
    return app
