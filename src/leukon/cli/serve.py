"""`leukon serve`: the web service and the web page on uvicorn (127.0.0.1:8000 unless told otherwise).

Bound beyond loopback, the service refuses to start without a bearer token (--token or LEUKON_TOKEN).
uvicorn's access log is off: it prints full URLs; leukon's own log line names only the route.
"""

from __future__ import annotations

import argparse
import os

from leukon.cli.app import command
from leukon.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve [--host H] [--port P] [--token T] [--workers N] ...`` to the leukon command."""
    p = subparsers.add_parser(
        "serve",
        help="run the web service and the web page",
        description="Serve the JSON API (/assess, /grade, /follow, /screen; docs at /docs) and the web page (/).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--token", default=None, help="bearer token callers must send (default: $LEUKON_TOKEN)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; default: CORS off)")  # fmt: skip
    p.add_argument("--max-body", type=int, default=None, metavar="BYTES", help="largest JSON body (default 64 KiB)")
    p.add_argument("--max-upload", type=int, default=None, metavar="BYTES",
                   help="largest upload to /screen, /follow, /fhir, /cds-services (default 5 MiB)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="time limit a request (default 10)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(run=command("serve", run))


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from leukon.service.settings import Settings

    if not 0 < args.port < 65536:
        raise InputError("--port", f"{args.port} is not a port number (1-65535)")
    if args.workers < 1:
        raise InputError("--workers", "give at least 1 worker")
    kw: dict = {"host": args.host, "token": args.token or os.environ.get("LEUKON_TOKEN")}
    if args.cors_origin:
        kw["cors_origins"] = tuple(args.cors_origin)
    if args.max_body is not None:
        kw["max_body_bytes"] = args.max_body
    if args.max_upload is not None:
        kw["max_upload_bytes"] = args.max_upload
    if args.timeout is not None:
        kw["timeout_seconds"] = args.timeout
    settings = Settings(**kw)  # refuses a non-loopback host without a token, before anything listens
    os.environ.update(settings.to_env())  # the factory in each worker reads them back
    uvicorn.run(
        "leukon.service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_config=log_config(args.log_level),
        log_level=args.log_level,
        server_header=False,
    )
    return 0


def log_config(level: str) -> dict:
    """uvicorn's logging set-up plus leukon's own PHI-free access and error lines, on the same stderr handler."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["leukon.service"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config
