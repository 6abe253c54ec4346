import argparse
import json
from pathlib import Path

import pytest

from leukon.cli import follow, report

DATA = Path(__file__).parents[1] / "data" / "course"


def run(*argv: str) -> int:
    ap = argparse.ArgumentParser(prog="leukon")
    sub = ap.add_subparsers()
    follow.register(sub)
    report.register(sub)
    args = ap.parse_args(list(argv))
    return args.run(args)


def test_follow_text_and_json(capsys):
    assert (
        run("follow", str(DATA / "chemo.csv"), "--patient", "p1", "--treatments", str(DATA / "chemo_treatments.csv"))
        == 0
    )
    out = capsys.readouterr().out
    assert "neutrophils: recurrent" in out and "day 12 after cyclophosphamide" in out and "not a diagnosis" in out
    assert run("follow", str(DATA / "chemo.csv"), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    assert [p["patient_id"] for p in d["patients"]] == ["p1", "p2"]


def test_json_records_with_mixed_units(capsys):
    assert run("follow", str(DATA / "mixed_units.json"), "--json") == 0
    ep = json.loads(capsys.readouterr().out)["patients"][0]["episodes"]
    neut = next(e for e in ep if e["line"] == "neutrophils")
    assert neut["n_counts"] == 2 and neut["nadir"] == 0.45  # 700 cells/uL read as 0.7, not 700


def test_follow_chart_files(tmp_path):
    for ext in ("png", "svg"):
        out = tmp_path / f"c.{ext}"
        assert run("follow", str(DATA / "chemo.csv"), "--patient", "p1", "--chart", str(out)) == 0
        assert out.stat().st_size > 1000


def test_report_writes_html(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert run("report", str(DATA / "chemo.csv"), "--patient", "p1", "--html", str(out)) == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Not a diagnosis" in html


@pytest.mark.parametrize(
    "argv, message",
    [
        (("follow", "missing.csv"), "no such file"),
        (("follow", str(DATA / "chemo.csv"), "--patient", "p9"), "no counts for patient 'p9'"),
        (("follow", str(DATA / "chemo.csv"), "--chart", "x.pdf"), ".png or .svg"),
        (("follow", str(DATA / "chemo.csv"), "--chart", "x.png"), "choose one with --patient"),
        (("follow", str(DATA / "chemo.csv"), "--scheme", "nope"), "unknown scheme"),
        (("report", str(DATA / "chemo.csv"), "--html", "x.html"), "choose one with --patient"),
        (("follow", str(DATA / "chemo_treatments.csv")), "taken_at"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert run(*argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_json_and_bad_dates(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    assert run("follow", str(bad)) == 2
    bad.write_text('[{"patient_id": "a", "taken_at": "yesterday", "anc": 1.0}]')
    assert run("follow", str(bad)) == 2
    bad.write_text('[{"patient_id": "a", "taken_at": "2024-01-01", "anc": 1.0, "unit": "mg/dL"}]')
    assert run("follow", str(bad)) == 2
    bad.write_text("[{")
    assert run("follow", str(bad)) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 4 and all(e.startswith("leukon follow: error:") for e in errs)


def test_json_records_read_times_as_screen_does(tmp_path, capsys):
    """A stray day-first date among ISO times is named, not read as 2 January (Polars' inference did that)."""
    records = [{"patient_id": "p1", "taken_at": f"2024-03-{d:02d}T08:00:00Z", "anc": 1.2} for d in range(1, 6)]
    f = tmp_path / "counts.json"
    f.write_text(json.dumps([{"patient_id": "p1", "taken_at": "02/01/2024 08:00", "anc": 0.4}, *records]))
    assert run("follow", str(f), "--json") == 2
    assert "cannot read '02/01/2024 08:00' as a date and time" in capsys.readouterr().err
    f.write_text(json.dumps(records))
    assert run("follow", str(f), "--json") == 0
    neut = next(e for e in json.loads(capsys.readouterr().out)["patients"][0]["episodes"] if e["line"] == "neutrophils")
    assert neut["n_counts"] == 5


def test_follow_csv_dates_are_settled_or_refused_as_screen_does(tmp_path, capsys):
    """03/01/2024 can be 3 January or 1 March: refused without --time-format (Polars' CSV reader read it day
    first), and read as the format says with it."""
    f = tmp_path / "counts.csv"
    f.write_text("patient_id,taken_at,anc\n" + "".join(f"p1,0{d}/01/2024 08:00,{a}\n" for d, a in ((3, 0.4), (4, 1.2))))
    assert run("follow", str(f), "--json") == 2
    assert "can be month-first (US) or day-first" in capsys.readouterr().err
    starts = {}
    for fmt in ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M"):
        assert run("follow", str(f), "--json", "--time-format", fmt) == 0
        doc = json.loads(capsys.readouterr().out)
        starts[fmt] = next(e for e in doc["patients"][0]["episodes"] if e["line"] == "neutrophils")["start"]
    assert starts == {"%d/%m/%Y %H:%M": "2024-01-03T08:00:00", "%m/%d/%Y %H:%M": "2024-03-01T08:00:00"}
    # the report reads the same way
    assert run("report", str(f), "--html", str(tmp_path / "r.html"), "--time-format", "%d/%m/%Y %H:%M") == 0


def test_follow_json_is_written_patient_by_patient_as_one_document(capsys):
    """`--json` writes the document a patient at a time, byte for byte what one `json.dumps` of it gives."""
    from leukon.course.model import FollowResult
    from leukon.pipelines.follow_input import follow_args

    ap = argparse.ArgumentParser(prog="leukon")
    follow.register(ap.add_subparsers())
    args = ap.parse_args(["follow", str(DATA / "chemo.csv"), "--treatments", str(DATA / "chemo_treatments.csv")])
    result = follow_args(args)
    whole = json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
    assert len(result.patients) == 2 and b"".join(result.json_pieces()) == whole.encode("utf-8")
    assert run("follow", str(DATA / "chemo.csv"), "--treatments", str(DATA / "chemo_treatments.csv"), "--json") == 0
    assert capsys.readouterr().out == whole
    empty = FollowResult(patients=(), scheme="ctcae-v5", params={"note": "Duffy-null: ü"})
    assert b"".join(empty.json_pieces()) == (json.dumps(empty.to_dict(), indent=2, ensure_ascii=False) + "\n").encode()


@pytest.mark.parametrize("json_out", [True, False])
def test_follow_stops_quietly_when_its_reader_stops(tmp_path, json_out):
    """`leukon follow ... | head`: the closed pipe ends the run with exit 0 and nothing on stderr, not an INPUT error."""
    import subprocess
    import sys

    from leukon import synth

    f = tmp_path / "cohort.parquet"
    synth.cohort(150, seed=5).write_parquet(f)
    argv = ["follow", str(f), *(["--json"] if json_out else [])]
    code = f"import sys; from leukon.cli.app import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(100)) == 100  # the output is far larger than a pipe's buffer
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0 and proc.stderr.read() == b""


@pytest.mark.parametrize("json_out", [True, False])
def test_ctrl_c_part_way_says_the_output_is_incomplete(tmp_path, json_out):
    """Ctrl-C once `follow` has begun printing: exit 130 and "the output is incomplete", not "nothing written"
    (which is what a command that writes its files whole says), and no traceback."""
    import signal
    import subprocess
    import sys

    from leukon import synth

    f = tmp_path / "cohort.parquet"
    synth.cohort(150, seed=5).write_parquet(f)
    argv = ["follow", str(f), *(["--json"] if json_out else [])]
    code = f"import sys; from leukon.cli.app import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(100)) == 100  # printing has begun; the rest waits on the full pipe
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.decode().strip().splitlines() == ["leukon follow: interrupted: the output is incomplete"]
    assert b"not a diagnosis" not in out  # the closing note never came


def test_follow_reads_the_course_columns_of_a_screen_s_panels(tmp_path, capsys):
    """`leukon follow panels.parquet` reads the course's columns alone (`panel_columns`) of the hundred `screen`
    writes, and says what `follow` says with every column: lab ranges, profiles, Duffy-null flags included."""
    import polars as pl

    import leukon
    from leukon import synth
    from leukon.course.episodes import CourseParams, panel_columns

    source = synth.write(synth.cohort(400, seed=5), tmp_path / "c.parquet")
    leukon.screen(str(source), out=tmp_path / "out", course=False)
    panels_file = tmp_path / "out" / "panels.parquet"
    panels = pl.read_parquet(panels_file)
    read = panel_columns(panels.columns, CourseParams(), "ctcae-v5")
    assert len(read) < len(panels.columns) / 3 and "warnings" in read and "anc_lln" in read
    whole = json.dumps(leukon.follow(panels).to_dict(), indent=2, ensure_ascii=False) + "\n"
    assert "Duffy-null reference interval" in whole and '"lln_origin": "lab"' in whole  # the columns matter here
    assert run("follow", str(panels_file), "--json") == 0
    assert capsys.readouterr().out == whole
