"""An access log without PHI, and the security headers every response carries.

Each request is logged as method, route, status, body size and milliseconds, never the query string, the
body, a path parameter or the client address: CBC values, patient ids and names can be in any of those.
The route is the template the request matched (``/assess``), so an identifier put in a URL is not logged
either. uvicorn's own access log is turned off by `leukon serve`, since it prints the full URL.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("leukon.service.access")

#: A page that runs only its own scripts and styles, cannot be framed, and leaks no referrer.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def route_of(scope) -> str:
    """The matched route's template, or '(unmatched)': never the raw path, which may carry an identifier."""
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"


class AccessLog:
    """ASGI middleware: security headers on every response, one PHI-free log line per request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        size = 0

        async def counting_receive():
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            return message

        async def send_with_headers(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_headers)
        finally:
            if log.isEnabledFor(logging.INFO):
                ms = (time.perf_counter() - start) * 1000
                log.info("%s %s %d %dB %.1fms", scope["method"], route_of(scope), status, size, ms)
