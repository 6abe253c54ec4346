"""Real lab exports as they come (issue 11): Epic-, Cerner-, analyser- and German-LIS-shaped files, and a
LIS with only local codes plus its mapping file. Every row comes out as a result or a reject with its reason."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import leukon
from leukon.errors import InputError
from leukon.sources import read

from .conftest import accounted

EXPORTS = Path(__file__).parents[1] / "data" / "exports"
US_TIME = "%m/%d/%Y %I:%M %p"


def _by_row(m: pl.DataFrame) -> dict[int, dict]:
    return {r["source_row"]: r for r in m.iter_rows(named=True)}


def test_epic_extract_keeps_the_absolute_counts_its_names_describe():
    m, r = accounted(read(EXPORTS / "epic_results.csv", time_format=US_TIME))
    rows = _by_row(m)
    # "Neutrophils (Absolute)" and "Lymphs (Absolute)" are the ANC and ALC; "Neutrophils" in % the percentage.
    assert [rows[i]["analyte"] for i in (0, 1, 2, 3, 4)] == [
        "wbc",
        "anc",
        "lymphocytes",
        "neutrophils_pct",
        "lymphocytes_pct",
    ]
    assert (rows[1]["value"], rows[1]["unit"], rows[1]["lln"], rows[1]["uln"]) == (0.45, "x10E3/uL", 1.4, 7.0)
    assert [rows[i]["analyte"] for i in (10, 11)] == ["wbc", "anc"]  # "WBC Count", "Abs Neut"
    # "<0.1" is kept, with its operator, never dropped or read as 0.1 exactly.
    assert (rows[8]["value"], rows[8]["censor"]) == (0.1, "<")
    reasons = dict(zip(r["source_row"], r["reason"], strict=True))
    assert reasons[9] == "unknown analyte code 'Glucose'"
    assert reasons[12] == "value not numeric 'see comment'"
    assert reasons[13].startswith("unknown analyte code 'Neutrofils Absolute'; closest known names:")
    assert "Absolute Neutrophil Count" in reasons[13]


def test_epic_extract_screens_to_neutropenia_in_a_pancytopenia():
    result = leukon.screen(EXPORTS / "epic_results.csv", format="long", time_format=US_TIME)
    first = result.panels.filter(pl.col("specimen_id") == "88120001").row(0, named=True)
    assert first["anc"] == 0.45 and first["anc_lln"] == 1.4
    assert {"neutropenia", "pancytopenia"} <= set(first["findings"])
    assert result.summary["accounted"]


def test_cerner_extract_reads_range_strings_and_spaced_units():
    m, r = accounted(read(EXPORTS / "cerner_results.csv"))
    rows = _by_row(m)
    assert (rows[0]["analyte"], rows[0]["lln"], rows[0]["uln"], rows[0]["unit"]) == ("wbc", 3.4, 10.8, "x 10 9/L")
    assert (rows[1]["analyte"], rows[2]["analyte"]) == ("neutrophils_pct", "bands_pct")  # "Segs", "Bands" in %
    assert (rows[3]["analyte"], rows[3]["value"], rows[3]["censor"], rows[3]["lln"], rows[3]["uln"]) == (
        "anc",
        0.5,
        "<",
        1.5,  # ">=1.5": a lower limit only
        None,
    )
    assert (rows[4]["analyte"], rows[5]["uln"], rows[5]["lln"]) == ("lymphocytes", 1.0, None)  # "<1.0"
    assert (rows[9]["value"], rows[9]["censor"]) == (1000.0, ">")
    assert dict(zip(r["source_row"], r["reason"], strict=True)) == {
        8: "reference range not understood 'normal'; write it as LOW-HIGH, <HIGH or >=LOW"
    }


def test_cerner_units_convert_in_the_kernel():
    result = leukon.screen(EXPORTS / "cerner_results.csv", format="long")
    p = result.panels.filter(pl.col("specimen_id") == "24-065-0001").row(0, named=True)
    assert p["wbc"] == 3.1 and p["wbc_lln"] == 3.4 and "leukopenia" in p["findings"]
    assert not any("unit" in reason for reason in result.rejects["reason"].to_list())


def test_analyser_export_with_units_in_headers_and_split_date_and_time():
    src = read(EXPORTS / "analyzer_xn.csv", format="wide")
    m, r = accounted(src)
    first = m.filter(pl.col("source_row") == 0)
    assert set(first["analyte"].cast(pl.String)) == {"wbc", "anc", "neutrophils_pct", "lymphocytes",
        "lymphocytes_pct", "monocytes", "eosinophils", "basophils", "hemoglobin", "platelets"}  # fmt: skip
    assert first["taken_at"][0].isoformat() == "2024-03-05T07:31:02"
    assert first.filter(pl.col("analyte") == "anc")["value"].item() == 0.61
    assert r["reason"].to_list() == ["value not numeric '----'"]  # an aborted sample: every cell is dashes
    result = leukon.screen(EXPORTS / "analyzer_xn.csv", format="wide")
    an7 = result.panels.filter(pl.col("patient_id") == "AN-7").row(0, named=True)
    assert "neutropenia" in an7["findings"]


def test_german_export_with_decimal_commas_is_detected_and_noted():
    src = read(EXPORTS / "labor_de.csv")
    m, r = accounted(src)
    assert r.height == 0
    assert any("decimal commas detected" in n for n in src.notes)
    rows = _by_row(m)
    assert (rows[0]["analyte"], rows[0]["value"], rows[0]["lln"], rows[0]["uln"]) == ("wbc", 3.1, 4.0, 10.0)
    assert (rows[1]["analyte"], rows[1]["value"]) == ("anc", 1.05)  # "Neutrophile" in G/l
    assert (rows[3]["analyte"], rows[3]["value"]) == ("hemoglobin", 12.9)  # "Hämoglobin"
    assert (rows[5]["value"], rows[5]["censor"]) == (0.5, "<")  # "<0,5"
    assert rows[6]["analyte"] == "bands_pct"  # "Stabkernige" in %


def test_decimal_mark_given_explicitly(tmp_path):
    f = tmp_path / "lab.csv"
    f.write_text("patient_id;taken_at;analyte;value;unit\np;2024-01-01;wbc;3,100;/uL\np;2024-01-01;anc;1,2;G/l\n")
    assert accounted(read(f, decimal="."))[0]["value"].to_list() == [3100.0]  # 3,100 /uL; "1,2" not a number
    assert accounted(read(f, decimal=","))[0]["value"].to_list() == [3.1, 1.2]
    assert accounted(read(f))[0]["value"].to_list() == [3.1, 1.2]  # "1,2" settles it: decimal commas
    g = tmp_path / "ambiguous.csv"
    g.write_text('patient_id,taken_at,analyte,value,unit\np,2024-01-01,wbc,"3,100",/uL\n')
    src = read(g)  # both readings fit "3,100" alone: the run says so and asks for the mark
    assert any("could use a decimal comma or a thousands separator" in n for n in src.notes)
    with pytest.raises(InputError, match=r"^decimal: ';' is not a decimal mark"):
        read(f, decimal=";")


def test_local_codes_with_a_mapping_file():
    m, r = accounted(read(EXPORTS / "local_codes.csv", map=EXPORTS / "local_map.toml"))
    assert m.select("analyte", "value", "unit", "lln").rows() == [
        ("wbc", 2.9, "K/CMM", 4.5),
        ("anc", 0.9, "K/CMM", 1.8),
        ("lymphocytes_pct", 61.0, "%", None),  # the local unit spelling PCT, mapped to %
    ]
    assert r["reason"].to_list() == ["unknown analyte code 'LAB0099'"]
    # Without the map the local codes are unknown, and said so.
    _, r2 = accounted(read(EXPORTS / "local_codes.csv"))
    assert r2.height == 4


def test_a_mapped_unit_fills_a_missing_one(tmp_path):
    f = tmp_path / "lab.csv"
    f.write_text("mrn,collected,test_code,result\nL-1,2024-03-05 08:00,LAB0051,0.9\n")
    m, _ = accounted(read(f, map=EXPORTS / "local_map.toml"))
    assert m.select("analyte", "unit").rows() == [("anc", "10^3/uL")]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[names]\n"X1" = "neutrophil"\n', "unknown analyte 'neutrophil'"),
        ('[names]\n"X1" = { analyte = "anc", unit = "mg/dL" }\n', "'mg/dL' is not a cell count per volume"),
        ('[names]\n"X1" = 3\n', "give an analyte id"),
        ('[codes]\n"X1" = "anc"\n', "unknown table [codes]"),
        ('[units]\n"THOU" = "furlongs"\n', "'furlongs' is not a unit leukon reads"),
        ("[names\n", "not valid TOML"),
    ],
)
def test_a_bad_mapping_file_is_one_clear_error(tmp_path, text, fragment):
    f = tmp_path / "map.toml"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        read(EXPORTS / "local_codes.csv", map=f)
    assert e.value.field == "map" and fragment in str(e.value) and "\n" not in str(e.value)


def test_command_line_reads_an_export_with_a_map_and_a_decimal_mark(tmp_path, capsys):
    from leukon.cli.app import main

    out = tmp_path / "out"
    code = main(["screen", str(EXPORTS / "local_codes.csv"), "--map", str(EXPORTS / "local_map.toml"),
                 "--decimal", ".", "--out", str(out), "--quiet", "--no-course"])  # fmt: skip
    assert code == 0
    panels = pl.read_parquet(out / "panels.parquet")
    assert panels.select("wbc", "anc").row(0) == (2.9, 0.9) and "neutropenia" in panels["findings"][0]
    bad = tmp_path / "bad.toml"
    bad.write_text('[names]\n"X" = "neutrophil"\n')
    code = main(
        ["screen", str(EXPORTS / "local_codes.csv"), "--map", str(bad), "--out", str(tmp_path / "o2"), "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "unknown analyte 'neutrophil'" in err and len(err.strip().splitlines()) == 1


def test_command_line_uses_a_profiles_file(capsys):
    from leukon.cli.app import main

    profiles = str(EXPORTS / "profiles_northside.toml")
    code = main(["assess", "--wbc", "3.6", "--anc", "2.0", "--age-years", "50", "--json",
                 "--profiles", profiles, "--profile", "northside-2024"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and '"leukopenia"' not in out and '"northside-2024"' in out
    code = main(["assess", "--wbc", "3.6", "--profiles", str(EXPORTS / "local_map.toml")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("leukon") and "profiles" in err and len(err.strip().splitlines()) == 1


def test_wide_export_with_local_headers_censored_cells_and_decimal_commas(tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text("Probe;Patient;Datum;Zeit;LAB0042;Neutrophile [G/l];Lymphozyten [%]\n"
                 "S1;P1;2024-03-05;08:00;2,9;<0,5;31\n"
                 "S2;P2;2024-03-05;08:10;6,1;3,4;28,5\n")  # fmt: skip
    src = read(f, format="wide", map=EXPORTS / "local_map.toml", units={"LAB0042": "G/l"})
    m, r = accounted(src)
    assert r.height == 0 and any("decimal commas detected" in n for n in src.notes)
    s1 = {row["analyte"]: row for row in m.filter(pl.col("source_row") == 0).iter_rows(named=True)}
    assert s1["wbc"]["value"] == 2.9 and s1["wbc"]["unit"] == "G/l"
    assert (s1["anc"]["value"], s1["anc"]["censor"]) == (0.5, "<")
    assert s1["lymphocytes_pct"]["value"] == 31.0
    assert m.filter(pl.col("source_row") == 1)["taken_at"][0].isoformat() == "2024-03-05T08:10:00"
