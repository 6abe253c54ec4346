"""Limits, auth, CORS and logs: the service refuses what it should, and never writes PHI to its log."""

import asyncio
import logging

import pytest

from leukon.cli.app import main
from leukon.errors import InputError
from leukon.service.limits import Limits
from leukon.service.settings import Settings, is_loopback

CBC = {"wbc": 2.1, "anc": 0.4, "age_years": 56}


def test_token_is_required_beyond_loopback():
    with pytest.raises(InputError) as e:
        Settings(host="0.0.0.0")
    assert e.value.field == "--token"
    assert Settings(host="0.0.0.0", token="s3cret").token == "s3cret"
    assert Settings(host="::1").token is None and Settings(host="localhost").token is None
    assert is_loopback("127.0.0.2") and not is_loopback("10.0.0.1") and not is_loopback("example.org")


def test_serve_refuses_a_public_address_without_a_token(capsys, monkeypatch):
    monkeypatch.delenv("LEUKON_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("leukon serve: error: --token:") and "\n" not in err


def test_bearer_token_guards_the_api_but_not_the_page(make_client):
    client = make_client(token="s3cret")
    r = client.post("/assess", json=CBC)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"
    assert client.post("/assess", json=CBC, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/assess", json=CBC, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/").status_code == 200 and client.get("/openapi.json").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_settings_round_trip_through_the_environment():
    s = Settings(token="t", max_body_bytes=1000, timeout_seconds=2.5, cors_origins=("https://a.example",))
    assert Settings.from_env(s.to_env()) == s
    with pytest.raises(InputError) as e:
        Settings.from_env({"LEUKON_MAX_BODY_BYTES": "lots"})
    assert e.value.field == "LEUKON_MAX_BODY_BYTES"


def test_cors_is_off_unless_origins_are_given(make_client):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    r = make_client().options("/assess", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    r = make_client().post("/assess", json=CBC, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    ok = make_client(cors_origins=("https://clinic.example",))
    r = ok.options("/assess", headers=pre | {"Origin": "https://clinic.example"})
    assert r.headers["access-control-allow-origin"] == "https://clinic.example"
    r = ok.options("/assess", headers=pre)
    assert "access-control-allow-origin" not in r.headers


def test_body_over_the_limit_is_413_whether_declared_or_streamed(make_client):
    client = make_client(max_body_bytes=200)
    big = {"wbc": 2.1, "explanation": {"medicines": ["x" * 300]}}
    r = client.post("/assess", json=big)
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunks():
        yield b'{"wbc": 2.1, "explanation": {"medicines": ["'
        for _ in range(10):
            yield b"x" * 50
        yield b'"]}}'

    r = client.post("/assess", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert client.post("/assess", json=CBC).status_code == 200


def test_uploads_have_their_own_larger_limit(make_client):
    client = make_client(max_body_bytes=200, max_upload_bytes=100_000)
    csv = "patient_id,taken_at,anc,wbc\n" + "".join(f"P1,2024-01-{d:02d},1.2,3.4\n" for d in range(1, 29))
    assert len(csv) > 200
    assert client.post("/follow", json={"csv": csv, "chart": False}).status_code == 200


def test_a_request_over_the_time_limit_gets_503():
    async def slow_app(scope, receive, send):
        await asyncio.sleep(30)

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    app = Limits(slow_app, Settings(timeout_seconds=0.05))
    asyncio.run(app({"type": "http", "path": "/assess", "headers": []}, receive, send))
    assert sent[0]["status"] == 503
    assert b"time limit" in sent[1]["body"]


SECRETS = ("P-SECRET-4711", "2.71828", "Clozaril", "Kostmann")


def test_logs_hold_no_values_or_identifiers(make_client, caplog, monkeypatch):
    client = make_client()
    caplog.set_level(logging.DEBUG)
    body = {"wbc": 2.71828, "anc": 0.4, "explanation": {"medicines": ["Clozaril"], "conditions": ["Kostmann"]}}
    assert client.post("/assess?patient=P-SECRET-4711", json=body).status_code == 200
    csv = "patient_id,taken_at,anc,wbc\nP-SECRET-4711,2024-01-01,2.71828,4.0\nP-SECRET-4711,2024-01-05,0.3,2.0\n"
    assert client.post("/follow", json={"csv": csv, "chart": False}).status_code == 200
    assert client.post("/assess", json={"wbc": "2.71828 furlongs"}).status_code == 422

    def boom(*a, **k):
        raise RuntimeError("failed on P-SECRET-4711 with wbc 2.71828")

    monkeypatch.setattr("leukon.service.api.assess_mapping", boom)
    raising = type(client)(client.app)  # raise_server_exceptions: anything re-raised to the server fails here
    r = raising.post("/assess", json=body)
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert not any(s in r.text for s in SECRETS)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # httpx: the client
    assert "POST /assess 200" in text and "POST /follow 200" in text and "RuntimeError" in text
    assert not any(s in text for s in SECRETS), text


def test_every_response_carries_the_security_headers(client):
    for r in (client.get("/"), client.post("/assess", json=CBC), client.post("/assess", json={"wbc": -1})):
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
