"""The app factory: `create_app(settings)` wires the API, the page, the docs, errors and the middleware.

Middleware, outermost first: AccessLog (PHI-free log line, security headers) -> InternalErrors (a bug is
a 500 problem, never re-raised to the server's log) -> Limits (size, time) -> CORS (only when origins are
configured) -> FastAPI. `create_app()` with no argument reads LEUKON_*
variables, which is how uvicorn's worker processes get the settings `leukon serve` was given.
"""

from __future__ import annotations

from fastapi import FastAPI

from leukon import __version__

from . import api, clinical, docs, page, problems
from .access_log import AccessLog
from .limits import Limits
from .settings import Settings

DESCRIPTION = (
    "White-cell cytopenias from complete blood counts: findings, grades (CTCAE v4/v5/v6, DAIDS, clinical, "
    "clozapine, IDSA febrile neutropenia), course over time and plain-language explanations. Not a diagnosis."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; nothing is shared between two apps but the (read-only) criteria and knowledge base."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="leukon",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    problems.install(app)
    app.include_router(api.router)
    clinical.mount(app)
    page.mount(app)
    docs.mount(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Limits, settings=settings)
    app.add_middleware(problems.InternalErrors)
    app.add_middleware(AccessLog)
    return app
