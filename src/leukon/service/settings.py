"""How the service is configured: limits, auth, CORS, read once from arguments or LEUKON_* variables.

The defaults are the safe ones: loopback only, CORS off, small bodies, a few seconds per request. Settings
travel to uvicorn's worker processes through the environment, so `leukon serve --workers 2` and a test
client build the same app from the same values.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields

from leukon.errors import InputError

ENV_PREFIX = "LEUKON_"


@dataclass(frozen=True)
class Settings:
    """One service's limits and access rules. Byte limits are per request body; seconds per request."""

    host: str = "127.0.0.1"
    token: str | None = None
    max_body_bytes: int = 64 * 1024  # a CBC is a few hundred bytes; a series a few kilobytes
    max_upload_bytes: int = 5 * 1024 * 1024  # /screen and /follow uploads
    timeout_seconds: float = 10.0
    cors_origins: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            object.__setattr__(self, "token", None)
        for flag, v in (("--max-body", self.max_body_bytes), ("--max-upload", self.max_upload_bytes),
                        ("--timeout", self.timeout_seconds)):  # fmt: skip
            if not v > 0:
                raise InputError(flag, f"{v!r} must be a positive number")
        if self.token is None and not is_loopback(self.host):
            raise InputError(
                "--token",
                f"binding to {self.host!r} exposes the service beyond this machine; give --token "
                "(or set LEUKON_TOKEN) so that callers must send 'Authorization: Bearer <token>'",
            )

    def to_env(self) -> dict[str, str]:
        """The LEUKON_* variables `from_env` reads back (for uvicorn's worker processes)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            out[ENV_PREFIX + f.name.upper()] = ",".join(v) if isinstance(v, tuple) else str(v)
        return out

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from LEUKON_HOST, LEUKON_TOKEN, LEUKON_MAX_BODY_BYTES, ... ; unset ones keep the default."""
        env = os.environ if env is None else env
        kw: dict = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.name == "cors_origins":
                kw[f.name] = tuple(o.strip() for o in raw.split(",") if o.strip())
            elif f.name in ("max_body_bytes", "max_upload_bytes"):
                kw[f.name] = _number(f.name, raw, int)
            elif f.name == "timeout_seconds":
                kw[f.name] = _number(f.name, raw, float)
            else:
                kw[f.name] = raw
        return cls(**kw)


def _number(name: str, raw: str, kind: type):
    try:
        return kind(raw)
    except ValueError:
        raise InputError(ENV_PREFIX + name.upper(), f"{raw!r} is not a number") from None


def is_loopback(host: str) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1; a bearer token is required for anything else."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
