"""`leukon serve` end to end: a real uvicorn process with two workers and a token, over real HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

CBC = {"wbc": 2.71828, "anc": 0.4, "age_years": 56}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEUKON_")} | {"LEUKON_TOKEN": "tok-123"}
    code = "import sys; from leukon.cli import main; sys.exit(main(sys.argv[1:]))"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--port", str(port), "--workers", "2"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to 30 s for two workers to import leukon on a loaded machine
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("leukon serve did not answer /health:\n" + log.read_text())
        yield base, log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_token_from_the_environment_is_required(served):
    base, _ = served
    r = httpx.post(base + "/assess", json=CBC)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    r = httpx.post(base + "/assess", json=CBC, headers={"Authorization": "Bearer tok-123"})
    assert r.status_code == 200 and r.json()["findings"][0]["code"] == "leukopenia"
    assert "server" not in r.headers  # no software banner


def test_many_requests_are_all_answered_and_logged_without_values(served):
    base, log = served
    with httpx.Client(headers={"Authorization": "Bearer tok-123"}) as client:
        codes = [client.post(base + "/assess?mrn=MRN-99812", json=CBC).status_code for _ in range(40)]
    assert codes == [200] * 40
    for _ in range(50):  # the workers' log lines reach the file shortly after the answers
        text = log.read_text()
        if text.count("POST /assess 200") >= 40:
            break
        time.sleep(0.1)
    assert text.count("POST /assess 200") >= 40
    assert "2.71828" not in text and "MRN-99812" not in text
