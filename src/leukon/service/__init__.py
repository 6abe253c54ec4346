"""leukon as a web service and a web page (FastAPI): `create_app(settings)`, started by `leukon serve`.

service/app.py        the factory: routes, errors, middleware
service/api.py        POST /assess, /grade, /follow, /screen: the CLI's pipeline functions over HTTP
service/page.py       the web page (/) and its local assets (static/)
service/docs.py       the API reference (/docs) from the OpenAPI description
service/problems.py   RFC 9457 problem+json errors naming the field
service/limits.py     request size and time limits
service/auth.py       optional bearer token (required beyond loopback)
service/access_log.py PHI-free access log and security headers
service/settings.py   the settings, from arguments or LEUKON_* variables
"""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
