"""Errors as RFC 9457 problem details (``application/problem+json``), naming the field at fault.

The ``detail`` of a bad-input problem is the same line the CLI prints after ``leukon: error:``, because
both come from the same `InputError`; ``field`` repeats the field on its own so a form can point at it.
Internal errors (`InternalErrors`) say only that something failed and give a request id: no values, no
traceback, in the answer or in the log.
"""

from __future__ import annotations

import json
import logging
import os
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from leukon.errors import LeukonError, UnknownSchemeError, UnknownTermError

from .access_log import route_of

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("leukon.service")

#: The OpenAPI description of a problem response, shared by every route.
PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}
PROBLEM_RESPONSES = {
    code: {"description": title, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
    for code, title in (
        (400, "malformed request"),
        (401, "missing or wrong bearer token"),
        (413, "request body too large"),
        (415, "unsupported media type"),
        (422, "a value, unit, age or option cannot be used; `field` names it"),
        (503, "the request took longer than the time limit"),
    )
}

TITLES = {
    400: "Malformed request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Time limit exceeded",
}


def problem_body(status: int, detail: str, *, field: str | None = None) -> bytes:
    """The JSON of one problem; `type` is about:blank, so `title` is the HTTP status phrase (RFC 9457 4.2.1)."""
    body: dict = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def problem(status: int, detail: str, *, field: str | None = None, headers: dict | None = None) -> Response:
    """One problem+json response."""
    return Response(
        problem_body(status, detail, field=field), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def from_error(e: LeukonError, status: int = 422) -> Response:
    """A LeukonError as a problem (422 unless told); its message is exactly the CLI's."""
    field = getattr(e, "field", None)
    if field is None and isinstance(e, UnknownSchemeError):
        field = "scheme"
    elif field is None and isinstance(e, UnknownTermError):
        field = "term"
    return problem(status, str(e), field=field)


def _location(loc: tuple) -> str:
    """Pydantic's ('body', 'wbc', 'value') as the field name a person typed: wbc.value."""
    parts = [str(p) for p in loc if p not in ("body", "query", "header")]
    return ".".join(parts) or "body"


def from_validation(e: RequestValidationError) -> Response:
    """The first structural problem FastAPI found, in the CLI's 'field: message' form."""
    errors = e.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        return problem(400, f"json: malformed JSON: {ctx.get('error', 'cannot parse the body')}", field="json")
    field = _location(tuple(first.get("loc", ())))
    if first.get("type") == "missing" and field == "body":
        return problem(400, "body: a JSON object is required", field="body")
    return problem(422, f"{field}: {first.get('msg', 'invalid')}", field=field)


def install(app: FastAPI) -> None:
    """Route every error through `problem`, so no response is ever a traceback or an HTML page."""

    @app.exception_handler(LeukonError)
    async def _leukon(request: Request, e: LeukonError) -> Response:
        return from_error(e)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, e: RequestValidationError) -> Response:
        return from_validation(e)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException) -> Response:
        field = "body" if e.status_code == 413 else None
        return problem(e.status_code, str(e.detail), field=field, headers=getattr(e, "headers", None))


class InternalErrors:
    """ASGI middleware: an unexpected exception becomes a 500 problem and one log line naming its type.

    It is not re-raised (Starlette's outermost handler would hand it to the server, which prints the
    message, and a message may quote a value or an identifier from the request). With LEUKON_DEBUG=1 the
    traceback is logged too, for a developer on test data.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as e:
            rid = uuid.uuid4().hex[:12]
            log.error("internal error %s on %s %s: %s", rid, scope["method"], route_of(scope), type(e).__name__)
            if os.environ.get("LEUKON_DEBUG", "0") not in ("", "0"):
                log.exception("traceback of %s (LEUKON_DEBUG)", rid)
            if not started:
                body = problem_body(
                    500, f"leukon failed on this request (id {rid}); the error was logged without its data"
                )
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})


__all__ = [
    "MEDIA_TYPE",
    "PROBLEM_RESPONSES",
    "InternalErrors",
    "from_error",
    "from_validation",
    "install",
    "problem",
    "problem_body",
]
