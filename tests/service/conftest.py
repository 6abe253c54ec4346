"""Fixtures for the service tests: an app per test (settings are per app) and a test client for it."""

import warnings

import pytest

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")  # starlette suggests httpx2; httpx is the one locked
    from fastapi.testclient import TestClient

from leukon.service import Settings, create_app


@pytest.fixture
def make_client():
    def make(**settings) -> TestClient:
        return TestClient(create_app(Settings(**settings)), raise_server_exceptions=False)

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
