"""Request size and time limits, as plain ASGI middleware (no per-request task or thread of its own).

A body larger than the limit is refused with 413 before it is read in full: at once when Content-Length
says so, else as soon as the streamed bytes pass the limit. A request that runs past the time limit gets
503; work already running in a thread is left to finish, but its answer is dropped.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException

from .problems import MEDIA_TYPE, problem_body
from .settings import Settings

#: Paths that take documents (a lab table, a series, a FHIR Bundle, a CDS prefetch): the upload limit applies.
UPLOAD_PATHS = ("/screen", "/follow", "/fhir", "/cds-services")


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so that FastAPI's body reader passes it on as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body: over the limit of {limit} bytes")


async def _send_problem(send, status: int, detail: str) -> None:
    body = problem_body(status, detail, field="body" if status == 413 else None)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Limits:
    """Wraps an ASGI app with the size and time limits of `settings`."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, path: str) -> int:
        s = self.settings
        return s.max_upload_bytes if path.startswith(UPLOAD_PATHS) else s.max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _send_problem(send, 413, f"body: {declared} bytes is over the limit of {limit} bytes")
                    return
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, counting_receive, tracking_send), self.settings.timeout_seconds)
        except BodyTooLarge:
            if not started:
                await _send_problem(send, 413, f"body: over the limit of {limit} bytes")
        except TimeoutError:
            if not started:
                secs = f"{self.settings.timeout_seconds:g}"
                await _send_problem(send, 503, f"request: not answered within the {secs} s time limit; send less data")
