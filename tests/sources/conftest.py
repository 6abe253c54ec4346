"""Fixtures: the committed real-format files, plus DuckDB and SQLite files built from long.csv per run
(DuckDB's storage format changes between releases, so a stored file could stop opening)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import polars as pl
import pytest

DATA = Path(__file__).parents[1] / "data" / "sources"


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def dbs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("db")
    long = pl.read_csv(DATA / "long.csv", infer_schema=False)
    duck = root / "lab.duckdb"
    con = duckdb.connect(str(duck))
    con.register("src", long.to_arrow())
    con.execute("create table results as select * from src")
    con.execute("create table other as select 1 as x")
    con.close()
    lite = root / "lab.sqlite"
    con2 = sqlite3.connect(lite)
    con2.execute(f"create table results ({', '.join(f'{chr(34)}{c}{chr(34)} TEXT' for c in long.columns)})")
    con2.executemany(f"insert into results values ({', '.join('?' * len(long.columns))})", long.rows())
    con2.commit()
    con2.close()
    return {"duckdb": duck, "sqlite": lite}


def accounted(src) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Collect a Source and assert the accounting identity; return (measurements, rejects)."""
    m, r = pl.collect_all([src.measurements, src.rejects])
    used = set(m["source_row"].to_list())
    assert not used & set(r["source_row"].to_list()), "a row is both used and rejected"
    assert src.rows_read == len(used) + r.height
    assert r["source_row"].n_unique() == r.height
    return m, r
