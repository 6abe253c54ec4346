"""`leukon serve` under load on loopback: requests/s and p50/p99 latency for POST /assess, then memory over a soak.

Starts the real command (`leukon serve --workers N`, logging at warning so the terminal is not the
bottleneck) on a free 127.0.0.1 port and drives it with wrk (Debian's `wrk`) when installed, else with a
small asyncio HTTP/1.1 keep-alive client in its own process. Everything is bounded in time.

Baselines in the same run, against the same server: GET /health (the framework and middleware alone)
and POST /grade (one value, one scheme); /assess is printed as a ratio to them. The in-process cost of
`assess_mapping` plus the explanation is printed too, to split the time between leukon and HTTP.

    .venv/bin/python benchmarks/bench_service.py                  # 10 s per path, 20 s soak
    .venv/bin/python benchmarks/bench_service.py --soak 300       # the 5-minute soak
    .venv/bin/python benchmarks/bench_service.py --workers 1 --connections 16 --client python

Goal (issue 13): 1,000 req/s with p99 under 50 ms for POST /assess on a 2-core machine; memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CBC = {"wbc": {"value": 2.1, "unit": "K/uL"}, "anc": 0.4, "lymphocytes": 0.9, "age_years": 56, "temperature": 38.6}
GRADE = {"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": 700, "unit": "cells/uL"}
PATHS = [("GET /health (floor)", "GET", "/health", None), ("POST /grade", "POST", "/grade", GRADE),
         ("POST /assess, no explanation", "POST", "/assess", CBC | {"explanation": None}),
         ("POST /assess (+ explanation)", "POST", "/assess", CBC)]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    code = "import sys; from leukon.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEUKON_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("leukon serve did not start within 60 s")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn's workers), in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, AttributeError):
            continue
    return total / 1024


# --- load generators -----------------------------------------------------------------------------------


def _request_bytes(method: str, path: str, body: dict | None, port: int) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + data


async def _connection(port: int, request: bytes, stop: float, latencies: list, statuses: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            code = int(status_line.split()[1])
            statuses[code] = statuses.get(code, 0) + 1
    finally:
        writer.close()


def _python_client(port: int, request: bytes, seconds: float, connections: int, out) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, request, stop, latencies, statuses) for _ in range(connections)))

    t0 = time.perf_counter()
    asyncio.run(run())
    out.put((latencies, statuses, time.perf_counter() - t0))


def load_python(port: int, method: str, path: str, body: dict | None, seconds: float, connections: int) -> dict:
    """The asyncio client, in its own process so it does not share the interpreter with anything else."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_python_client, args=(port, _request_bytes(method, path, body, port), seconds,
                                                    connections, q))  # fmt: skip
    proc.start()
    latencies, statuses, elapsed = q.get(timeout=seconds + 60)
    proc.join()
    qs = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"rps": len(latencies) / elapsed, "p50": qs[49] * 1000, "p99": qs[98] * 1000, "n": len(latencies),
            "errors": sum(n for code, n in statuses.items() if code != 200)}  # fmt: skip


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def load_wrk(port: int, method: str, path: str, body: dict | None, seconds: float, connections: int) -> dict:
    """wrk with a two-line Lua script for the method and body; 2 threads (one per core)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "{method}"\n')
        if body is not None:
            f.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
            f.write('wrk.headers["Content-Type"] = "application/json"\n')
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", f.name,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    dist = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, flags=re.M))
    if set(dist) != {"50", "99"}:
        raise SystemExit(f"cannot read wrk's latency distribution:\n{out}")
    n = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": _ms(dist["50"]),
            "p99": _ms(dist["99"]), "n": n,
            "errors": (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)}  # fmt: skip


# --- in-process: the app called directly (no sockets, no client), one core --------------------------------


async def _asgi_call(app, method: str, path: str, body: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop() if messages else {"type": "http.disconnect"}

    status = []

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def in_process(n: int = 2000) -> dict[str, float]:
    """p50 ms of each path through the whole app (middleware, routing, validation, leukon, encoding) on one
    core, and of the pipeline alone (request model, assess_mapping, explain, JSON) for /assess."""
    from leukon.service import Settings, create_app
    from leukon.service.api import assessment_document, json_response
    from leukon.service.schemas import AssessRequest

    app = create_app(Settings())
    out = {}

    async def run() -> None:
        for name, method, path, body in PATHS:
            data = b"" if body is None else json.dumps(body).encode()
            for _ in range(100):
                assert await _asgi_call(app, method, path, data) == 200
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                await _asgi_call(app, method, path, data)
                times.append(time.perf_counter() - t0)
            out[name] = statistics.median(times) * 1000

    asyncio.run(run())
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        json_response(assessment_document(AssessRequest.model_validate(CBC)))
        times.append(time.perf_counter() - t0)
    out["pipeline only"] = statistics.median(times) * 1000
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="load per path (default 10)")
    p.add_argument("--soak", type=float, default=20.0, help="soak length in seconds (default 20; 300 = 5 min)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2, one per core)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = p.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    load = load_wrk if client == "wrk" else load_python

    port = free_port()
    server = start_server(port, args.workers)
    try:
        local = in_process()
        print(f"leukon serve --workers {args.workers} on 127.0.0.1, {os.cpu_count()} cores; client {client}, "
              f"{args.connections} connections, {args.seconds:g} s a path")  # fmt: skip
        load(port, "POST", "/assess", CBC, 2, args.connections)  # warm-up: imports, caches in every worker
        rows = {name: load(port, method, path, body, args.seconds, args.connections)
                for name, method, path, body in PATHS}  # fmt: skip
        base = rows["GET /health (floor)"]
        print(f"{'path':<32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'x floor req/s':>15}")
        for name, r in rows.items():
            ratio = r["rps"] / base["rps"]
            print(f"{name:<32}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>8}{ratio:>15.2f}")
        a = rows["POST /assess (+ explanation)"]
        print("in-process, one core, no sockets (p50 ms; 1000 / ms = req/s one core could serve):")
        for name, ms in local.items():
            print(f"  {name:<30}{ms:>8.3f} ms  ~{1000 / ms:>6.0f} req/s a core")
        print(f"machine load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (others share them)")
        ok = a["rps"] >= 1000 and a["p99"] < 50 and a["errors"] == 0
        print(f"goal 1,000 req/s with p99 < 50 ms: {'met' if ok else 'NOT met'}")

        # Soak: /assess without pause; resident memory of the server and its workers sampled every second.
        print(f"soak: {args.soak:g} s of POST /assess; RSS of server + workers")
        samples = [tree_rss_mb(server.pid)]
        total = 0
        end = time.monotonic() + args.soak
        while (left := end - time.monotonic()) > 0.5:
            total += load(port, "POST", "/assess", CBC, min(5.0, left), args.connections)["n"]
            samples.append(tree_rss_mb(server.pid))
        k = max(1, len(samples) // 4)
        first, last = statistics.mean(samples[1 : 1 + k]), statistics.mean(samples[-k:])
        print(f"  {total} requests, {len(samples)} samples; RSS MB: start {samples[0]:.1f}, after the first interval "
              f"{samples[1]:.1f}, end {samples[-1]:.1f}, max {max(samples):.1f}; last quarter vs first quarter "
              f"{last - first:+.1f} MB ({(last / first - 1) * 100:+.2f} %)")  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
