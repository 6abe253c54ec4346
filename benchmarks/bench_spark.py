"""The Spark engine against the Polars engine on the same file, in the same invocation, printed as ratios.

    .venv/bin/python benchmarks/bench_spark.py [--results 10000000] [--cores 2] [--partitions N] [--keep]

Generates N results with `leukon.synth` (long Parquet, as benchmarks/bench_screen.py does), then runs each
engine in its own process on that file, each writing all its outputs (panels, grades, rejects, patients,
episodes, summary) to a fresh folder:

- polars: `leukon.screen(file, out=...)`, the single-machine engine (slices chosen from memory);
- spark: `leukon.spark.screen(spark.read.parquet(file), out=...)` in local mode on `--cores` cores, timed
  from a started session (the session start, mostly the JVM, is printed apart), then its outputs are
  checked against the Polars engine's: the same row counts and the same summary counts.

Peak memory is the largest resident set of the engine's whole process tree (for Spark: the driver, the
JVM and its Python workers), sampled every 0.2 s from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ENGINES = ("polars", "spark")
COUNTS = ("rows_read", "rows_used", "rows_rejected", "specimens", "patients")


class TreePeak:
    """The peak summed RSS of this process and all its descendants, sampled in a thread (Linux /proc)."""

    def __init__(self, every: float = 0.2) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, every: float) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        root = os.getpid()
        while not self._stop.is_set():
            parent, rss = {}, {}
            for d in os.listdir("/proc"):
                if not d.isdigit():
                    continue
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                    fields = stat[stat.rindex(")") + 2 :].split()
                    parent[int(d)] = int(fields[1])
                    rss[int(d)] = int(fields[21]) * page
                except (OSError, ValueError, IndexError):
                    continue
            total = 0
            for pid in rss:
                p = pid
                while p and p != root and p in parent:
                    p = parent[p]
                if p == root:
                    total += rss[pid]
            self.peak = max(self.peak, total)
            self._stop.wait(every)


def run_polars(path: str, out: Path) -> dict:
    import leukon

    return leukon.screen(path, format="long", out=out).summary


def run_spark(path: str, out: Path, cores: int, partitions: int | None) -> tuple[dict, float]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from leukon import spark as lspark

    t = time.perf_counter()
    memory = f"{max(2, cores * 2)}g"
    session = lspark.session(
        f"local[{cores}]",
        app="leukon-bench",
        **{
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": memory,
            "spark.sql.shuffle.partitions": str(partitions or cores * 2),
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - t
    result = lspark.screen(session.read.parquet(str(Path(path).resolve())), out=out, partitions=partitions)
    return result.summary, started


def child(engine: str, path: str, out: str, cores: int, partitions: int | None) -> None:
    with TreePeak() as peak:
        started = 0.0
        t0 = time.perf_counter()
        if engine == "polars":
            summary = run_polars(path, Path(out))
        else:
            summary, started = run_spark(path, Path(out), cores, partitions)
        seconds = time.perf_counter() - t0 - started
    print(json.dumps({"engine": engine, "seconds": seconds, "start": started, "peak_mb": peak.peak / 2**20,
                      "summary": {k: summary[k] for k in (*COUNTS, "findings", "partitions") if k in summary}}))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=int, default=10_000_000)
    p.add_argument("--cores", type=int, default=2, help="Spark local mode cores (local[N])")
    p.add_argument("--partitions", type=int, default=None, help="Spark partitions (default: leukon.spark's)")
    p.add_argument("--engines", default=",".join(ENGINES), help="order of the runs (spark,polars runs Spark first)")
    p.add_argument("--file", help="use this long-format Parquet file instead of generating one")
    p.add_argument("--keep", action="store_true", help="keep the generated file and the outputs")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.generate:  # the same synthetic file as benchmarks/bench_screen.py
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_screen import generate

        generate(Path(args.file), args.results)
        return
    if args.child:
        child(args.child, args.file, args.out, args.cores, args.partitions)
        return
    tmp = Path(tempfile.mkdtemp(prefix="leukon-bench-spark-"))
    path = Path(args.file) if args.file else tmp / "results.parquet"
    if not args.file:  # in a child, so that this process stays small
        t = time.perf_counter()
        gen = [sys.executable, __file__, "--generate", "--file", str(path), "--results", str(args.results)]
        subprocess.run(gen, check=True)
        print(f"generated {args.results:,} results in {time.perf_counter() - t:.1f} s -> {path}", flush=True)
    import polars as pl

    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    res = {}
    for engine in args.engines.split(","):
        cmd = [sys.executable, __file__, "--child", engine, "--file", str(path), "--out", str(tmp / engine),
               "--cores", str(args.cores), *(["--partitions", str(args.partitions)] if args.partitions else [])]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            print(f"{engine}: failed\n{out.stderr[-3000:]}", flush=True)
            continue
        res[engine] = r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {engine:<7} {r['seconds']:8.2f} s  {rows / r['seconds'] / 1e6:6.2f} M results/s  peak {r['peak_mb']:7.0f} MB"
              + (f"  (session start {r['start']:.1f} s, {r['summary'].get('partitions')} partitions)" if r["start"] else ""),
              flush=True)  # fmt: skip
    if len(res) == 2:
        pol, spk = res["polars"], res["spark"]
        print(f"\n{rows:,} results, Spark local[{args.cores}] against Polars, same run:")
        print(f"  time  x{spk['seconds'] / pol['seconds']:.2f}   (x{(spk['seconds'] + spk['start']) / pol['seconds']:.2f} with the session start)")  # fmt: skip
        print(f"  peak memory  x{spk['peak_mb'] / pol['peak_mb']:.2f}")
        same = {k: (pol["summary"][k], spk["summary"][k]) for k in (*COUNTS, "findings")}
        bad = {k: v for k, v in same.items() if v[0] != v[1]}
        print("  summary counts identical: " + ("yes" if not bad else f"NO {bad}"))
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
