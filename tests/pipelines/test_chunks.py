"""Chunked screens: the input is read once (spilled by patient, or read by ranges of rows when it keeps each
patient's rows together), the outputs match a one-chunk run, and the temporary spill folder never outlives the
run."""

import json
from pathlib import Path

import polars as pl
import pytest

from leukon import synth
from leukon.pipelines import screen as screen_module
from leukon.pipelines.run_folder import TABLES, VOLATILE, canonical
from leukon.pipelines.screen import screen, screen_source
from leukon.pipelines.spill import SPILL_PREFIX
from leukon.pipelines.table_parts import PARTS_PREFIX
from leukon.sources import read
from leukon.sources.io import frame_table

DATA = Path(__file__).parent.parent / "data" / "sources"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """A synthetic long table of 80 patients with dirt (rejects, duplicates), as Parquet."""
    return synth.write(synth.cohort(80, seed=5), tmp_path_factory.mktemp("cohort") / "cohort.parquet")


@pytest.fixture(scope="module")
def shuffled(tmp_path_factory) -> Path:
    """The same results in random order: a patient's rows are not together, so a chunked run spills them."""
    df = synth.cohort(80, seed=5).sample(fraction=1.0, shuffle=True, seed=11)
    return synth.write(df, tmp_path_factory.mktemp("shuffled") / "shuffled.parquet")


def _same_outputs(one, many) -> None:
    """Every table equal row for row in the order `write` gives it, and the same summary but for chunks/time."""
    for name in TABLES:
        a, b = getattr(one, name), getattr(many, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert canonical(a, name).equals(canonical(b, name)), name
    volatile = ("chunks", *VOLATILE)
    assert {k: v for k, v in one.summary.items() if k not in volatile} == {
        k: v for k, v in many.summary.items() if k not in volatile
    }


@pytest.mark.parametrize("chunks", [2, 5])
@pytest.mark.parametrize("order", ["cohort", "shuffled"])  # read by ranges of rows, and spilled
def test_chunked_run_gives_the_same_outputs_as_one_chunk(request, order, chunks):
    path = request.getfixturevalue(order)
    _same_outputs(screen(path, chunks=1), screen(path, chunks=chunks))


@pytest.mark.parametrize(
    ("name", "fmt", "options"),
    [
        ("long.csv", "long", {}),
        ("labevents.csv.gz", "mimic-iv", {"patients": str(DATA / "patients.csv.gz")}),
        ("omop_measurement.parquet", "omop", {"patients": str(DATA / "omop_person.csv")}),
        ("wide.csv", "wide", {}),  # no checked rows: read again for each chunk, as before
    ],
)
def test_chunked_formats_give_the_same_outputs(name, fmt, options):
    one = screen(DATA / name, format=fmt, chunks=1, **options)
    _same_outputs(one, screen(DATA / name, format=fmt, chunks=3, **options))


def test_chunked_run_into_a_folder_writes_its_tables_slice_by_slice(cohort, tmp_path, monkeypatch):
    from leukon.pipelines.screen import WrittenResult

    one = screen(cohort, chunks=1, out=tmp_path / "one")
    held = screen(cohort, chunks=3, out=tmp_path / "held")  # outputs that fit in memory are held
    assert not isinstance(held, WrittenResult)
    monkeypatch.setattr(screen_module, "outputs_fit", lambda *a, **k: False)  # as if the input were huge
    many = screen(cohort, chunks=3, out=tmp_path / "many")
    assert isinstance(many, WrittenResult) and not isinstance(one, WrittenResult)
    assert many.folder == tmp_path / "many" and set(many.written) == {"panels", "grades", "patients", "episodes"}
    _same_outputs(one, many)  # its tables read back from the files
    csv = screen(cohort, chunks=3, out=tmp_path / "csv", output="csv")  # CSV: held and written at the end
    assert not isinstance(csv, WrittenResult)
    _same_outputs(one, csv)


@pytest.mark.parametrize("fit", [True, False])
@pytest.mark.parametrize("order", ["cohort", "shuffled"])
def test_written_folders_are_identical(request, tmp_path, monkeypatch, fit, order):
    cohort = request.getfixturevalue(order)
    screen(cohort, chunks=1, out=tmp_path / "one")
    monkeypatch.setattr(screen_module, "outputs_fit", lambda *a, **k: fit)  # held, or written slice by slice
    screen(cohort, chunks=4, out=tmp_path / "four")
    for f in sorted((tmp_path / "one").iterdir()):
        other = tmp_path / "four" / f.name
        if f.suffix == ".parquet":
            assert pl.read_parquet(f).equals(pl.read_parquet(other)), f.name
        else:  # summary.json: the same but for the chunk count (counts that tie may list in either order)
            assert json.loads(f.read_text()) | {"chunks": 4} == json.loads(other.read_text())


def _counting_source(df: pl.DataFrame):
    """A long-format source over `df` whose rows come from a Python generator that counts its scans."""
    from polars.io.plugins import register_io_source

    scans = []

    def rows(with_columns, predicate, n_rows, batch_size):
        scans.append(1)
        out = df if with_columns is None else df.select(with_columns)
        out = out if predicate is None else out.filter(predicate)
        yield out if n_rows is None else out.head(n_rows)

    source = read(frame_table(register_io_source(rows, schema=df.schema)), format="long")
    return source, scans


@pytest.mark.parametrize("chunks", [2, 4, 7])
def test_chunks_do_not_read_the_source_again(chunks):
    df = synth.cohort(40, seed=9)
    one, one_scans = _counting_source(df)
    one_scans.clear()  # reading the header and a sample of times does not count
    screen_source(one, chunks=1, course=False)
    many, many_scans = _counting_source(df)
    many_scans.clear()
    screen_source(many, chunks=chunks, course=False)
    # The spill pass replaces the one-chunk run's pass into memory; the other scans (row count, patients) are
    # the same in both. The one-chunk run fetches every reject's input row in one scan at the end; a chunked
    # run has the source's rejects with theirs from the spill pass and fetches the kernel's in that same one
    # scan, so it may read once more than one chunk, never once more per chunk.
    assert len(many_scans) <= len(one_scans) + 1


def test_each_chunk_reads_only_its_spill_files(shuffled, tmp_path, monkeypatch):
    cohort = shuffled
    seen = []
    real = screen_module.normalize

    def recording(measurements, *args, **kwargs):
        seen.append(measurements.explain(optimized=False))
        return real(measurements, *args, **kwargs)

    monkeypatch.setattr(screen_module, "normalize", recording)
    screen_source(read(cohort), chunks=3, course=False, spill_dir=tmp_path)
    assert len(seen) == 3
    for k, plan in enumerate(seen):
        assert f"_slice={k}" in plan and str(tmp_path) in plan
        assert str(cohort) not in plan


def _spill_folders(where: Path) -> list[Path]:
    """Temporary folders of a chunked run (spill files and table parts) anywhere under `where`."""
    return [*where.rglob(f"{SPILL_PREFIX}*"), *where.rglob(f"{PARTS_PREFIX}*")]


def test_spill_folder_is_removed_after_a_run(shuffled, tmp_path, monkeypatch):
    cohort = shuffled
    screen_source(read(cohort), chunks=3, course=False, spill_dir=tmp_path)
    assert not _spill_folders(tmp_path)
    monkeypatch.setattr(screen_module, "outputs_fit", lambda *a, **k: False)  # table parts too
    screen(cohort, chunks=3, out=tmp_path / "out")
    assert not _spill_folders(tmp_path)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_spill_folder_is_removed_after_an_error(shuffled, tmp_path, monkeypatch, error):
    cohort = shuffled
    seen = []

    def failing(measurements, *args, **kwargs):
        seen.append(_spill_folders(tmp_path))  # the spill exists while the chunks run
        raise error("stop")

    monkeypatch.setattr(screen_module, "normalize", failing)
    with pytest.raises(error):
        screen_source(read(cohort), chunks=3, course=False, spill_dir=tmp_path)
    assert seen and seen[0]
    assert not _spill_folders(tmp_path)
    with pytest.raises(error):
        screen(cohort, chunks=3, out=tmp_path / "out")
    assert not _spill_folders(tmp_path) and not (tmp_path / "out").exists()


def test_more_chunks_than_patients():
    # most slices are empty: they give empty tables, and the outputs are still those of one chunk
    small = DATA / "long.csv"
    _same_outputs(screen(small, chunks=1), screen(small, chunks=40))
