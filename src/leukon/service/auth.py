"""Optional bearer-token auth for the API routes (required when the service listens beyond loopback).

The page, its assets and the OpenAPI description stay public: they hold no patient data, and the page
asks for the token itself. The comparison takes the same time whatever the token sent.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

_bearer = HTTPBearer(auto_error=False, description="Required when the service was started with --token")


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """A FastAPI dependency: pass when no token is configured, or when the request carries the right one."""
    expected: str | None = request.app.state.settings.token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(
            401,
            "authorization: send 'Authorization: Bearer <token>' with the token the service was started with",
            headers={"WWW-Authenticate": "Bearer"},
        )
