"""`leukon follow` on a raw long results table: screened into panels first, then followed."""

from pathlib import Path

from leukon.cli.app import main

DATA = Path(__file__).parents[1] / "data" / "sources"


def test_follow_reads_a_long_results_table(capsys):
    code = main(["follow", str(DATA / "long.csv"), "--patient", "P001", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and '"patient_id": "P001"' in out and '"nadir": 0.45' in out


def test_follow_on_a_table_with_neither_counts_nor_results(tmp_path, capsys):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    code = main(["follow", str(f)])
    err = capsys.readouterr().err
    assert code == 2 and "count columns" in err and err.count("\n") == 1


def test_report_embeds_the_explanation_of_the_latest_count(tmp_path, capsys):
    out = tmp_path / "p.html"
    code = main(["report", str(DATA / "long.csv"), "--patient", "P001", "--html", str(out)])
    html = out.read_text(encoding="utf-8")
    assert code == 0 and "<svg" in html and 'class="leukon-explanation"' in html
    assert "not a diagnosis" in html.lower() and "http://" not in html.replace("http://www.w3.org", "")
