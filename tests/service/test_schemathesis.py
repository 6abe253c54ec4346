"""Property-based calls from the OpenAPI description (schemathesis): whatever the body, never a 500.

Bounded examples per operation keep the run short; every answer must be either a result or a problem.
"""

import warnings

from hypothesis import HealthCheck, settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    import schemathesis
from schemathesis.checks import not_a_server_error

from leukon.service import Settings, create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_500(case):
    response = case.call_and_validate(checks=[not_a_server_error])
    assert response.status_code < 500
    if response.status_code >= 400:  # every refusal is a problem document naming what was wrong
        problem = response.json()
        assert problem["status"] == response.status_code and problem["detail"]
