"""Chunked screening: time and peak memory of `screen` with one chunk and with several, on one long file.

    .venv/bin/python benchmarks/bench_chunks.py --results 10000000 --chunks 1,4
    .venv/bin/python benchmarks/bench_chunks.py --results 100000000 --chunks auto --out

Generates N results with `leukon.synth` (Parquet; up to --piece results at a time, each piece with its own
seed and its own patient and specimen id prefix, joined into one file by a streaming concat, so the
generator never holds more than one piece), then runs `screen` once per chunk count, each in its own process
so that its peak memory (ru_maxrss) is its own. `auto` is the count `screen` picks itself (`auto_chunks`).
With --out, each run writes its Parquet outputs into a temporary folder, as `leukon screen --out` does.
Prints seconds, M results/s, peak MB and where the time went (reading, slices, grades, course, writing),
then the median time of each chunk count as a ratio to the first count's. Each run has the memory settings
the `leukon` command gives its own process (`leukon.cli.memory`). The generated file and the
outputs are deleted afterwards (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The environment this benchmark started with: importing Polars later sets its allocator's delays in it.
STARTED_ENV = dict(os.environ)

HERE = Path(__file__).parent


def generate_piece(path: Path, results: int, seed: int, prefix: str) -> None:
    """`results` results as bench_screen's `generate` makes them, with this seed and ids starting with `prefix`."""
    import polars as pl

    sys.path.insert(0, str(HERE))
    from bench_screen import generate
    from leukon import synth

    if seed == 0 and not prefix:
        generate(path, results)  # the very file bench_screen.py uses
        return
    patients = max(1, round(results / 71.5))  # as in `generate`: about 71.5 results a patient
    df = synth.cohort(patients, seed=seed).with_columns(
        pl.col("taken_at").str.to_datetime(strict=False, time_unit="us"),
        (prefix + pl.col("patient_id")).alias("patient_id"),
        (prefix + pl.col("specimen_id")).alias("specimen_id"),
    )
    df.write_parquet(path)


def generate_file(path: Path, results: int, piece: int) -> None:
    """One Parquet file of `results` results, generated a piece at a time in child processes."""
    import polars as pl

    sizes = [min(piece, results - start) for start in range(0, results, piece)]
    if len(sizes) == 1:
        _in_child("generate_piece", str(path), results, 0, "")
        return
    pieces = [path.with_name(f"{path.stem}-{i}.parquet") for i in range(len(sizes))]
    for i, (p, n) in enumerate(zip(pieces, sizes, strict=True)):
        _in_child("generate_piece", str(p), n, 101 + i, f"g{i}-")
    pl.concat([pl.scan_parquet(p) for p in pieces]).sink_parquet(path)
    for p in pieces:
        p.unlink()


def _in_child(function: str, *args) -> None:
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_chunks as b; b.{function}(*{args!r})"
    subprocess.run([sys.executable, "-c", code], check=True)


def run_watched(cmd: list[str], max_mb: float | None) -> tuple[int, str, str]:
    """Run `cmd` with the memory settings the `leukon` command gives itself; with `max_mb`, kill it once its
    resident memory passes that (a guard for a shared machine)."""
    from leukon.cli.memory import command_env

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=command_env(STARTED_ENV))
        high = 0.0
        while proc.poll() is None:
            high = max(high, _rss_mb(proc.pid))
            if max_mb and high > max_mb:
                proc.kill()
                proc.wait()
                return -9, "", f"stopped: resident memory passed {max_mb:.0f} MB ({high:.0f} MB)"
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read()


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(path: str, chunks: str, out: str | None, course: bool) -> dict:
    """One screen (in this process) and what it cost; `chunks` is a number or 'auto'."""
    from leukon.pipelines.screen import screen

    t0 = time.perf_counter()
    result = screen(path, chunks=None if chunks == "auto" else int(chunks), out=out, course=course)
    seconds = time.perf_counter() - t0
    s = result.summary
    n = s["chunks"]
    # Seconds by stage, summed over the slices (the screen's own clock); "other": opening the input, choosing
    # the slices, the summary.
    stages = dict(s["stage_seconds"])
    stages["other"] = seconds - sum(stages.values())
    return {
        "chunks": n,
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows_read": s["rows_read"],
        "specimens": s["specimens"],
        "accounted": s["accounted"],
        "stages": stages,
    }


def child(path: str, chunks: str, out: str | None, course: bool) -> None:
    print(json.dumps(run(path, chunks, out, course)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=int, default=10_000_000)
    p.add_argument("--chunks", default="1,4", help="chunk counts to run, comma-separated; 'auto' = screen's choice")
    p.add_argument("--piece", type=int, default=10_000_000, help="results generated at a time")
    p.add_argument("--file", help="use this long-format Parquet file instead of generating one")
    p.add_argument("--out", action="store_true", help="write the Parquet outputs (into a temporary folder)")
    p.add_argument("--no-course", action="store_true", help="screen without the course")
    p.add_argument("--keep", action="store_true", help="keep the generated file")
    p.add_argument("--max-mb", type=float, help="stop a run whose memory (RSS) passes this many MB")
    p.add_argument("--dir", help="folder for the generated file and the outputs (default: the system's temp)")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    course = not args.no_course
    if args.child:
        path, chunks, out = args.child
        child(path, chunks, out or None, course)
        return
    tmp = Path(tempfile.mkdtemp(prefix="leukon-bench-chunks-", dir=args.dir))
    try:
        path = Path(args.file) if args.file else tmp / "results.parquet"
        if not args.file:
            t = time.perf_counter()
            generate_file(path, args.results, args.piece)
            print(f"generated {args.results:,} results in {time.perf_counter() - t:.1f} s -> {path}", flush=True)
        import polars as pl

        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        print(f"{rows:,} results, {path.stat().st_size / 2**20:.0f} MB; course {'on' if course else 'off'}", flush=True)
        res = []
        for chunks in args.chunks.split(","):
            out = str(tmp / f"out-{chunks}") if args.out else ""
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(path),
                chunks,
                out,
                *(["--no-course"] if not course else []),
            ]
            code, stdout, stderr = run_watched(cmd, args.max_mb)
            if code:
                print(f"chunks {chunks}: failed ({code})\n{stderr[-3000:]}", flush=True)
                continue
            r = json.loads(stdout.strip().splitlines()[-1])
            res.append(r)
            stages = "  ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            print(
                f"chunks {chunks:>4} ({r['chunks']}): {r['seconds']:8.1f} s {rows / r['seconds'] / 1e6:6.2f} M results/s "
                f"peak {r['peak_mb']:7.0f} MB  accounted {r['accounted']}  [{stages}]",
                flush=True,
            )
            if out:
                shutil.rmtree(out, ignore_errors=True)
        # Other work on the machine moves single runs by 10 % or more: repeat the counts (--chunks 1,4,1,4,1,4)
        # and compare medians.
        runs: dict[int, list[float]] = {}
        for r in res:
            runs.setdefault(r["chunks"], []).append(r["seconds"])
        base = next(iter(runs), None)
        for n, seconds in runs.items():
            ratio = statistics.median(seconds) / statistics.median(runs[base])
            print(
                f"{n} chunks: median {statistics.median(seconds):.1f} s of {len(seconds)}; {ratio:.3f}x {base} chunk(s)"
            )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
