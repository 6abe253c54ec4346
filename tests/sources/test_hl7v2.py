"""HL7 v2 ORU^R01 in: messages written from the v2.5.1 specification, read into the measurement contract."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leukon.errors import InputError
from leukon.pipelines.assess import assess_mapping
from leukon.pipelines.screen import screen
from leukon.sources import MEASUREMENTS_SCHEMA, detect_format, read
from leukon.sources.hl7v2 import read_hl7v2, read_hl7v2_cbc, split_messages

from .conftest import accounted

HL7 = Path(__file__).parents[1] / "data" / "hl7v2"


def reasons(r: pl.DataFrame) -> dict[int, str]:
    return dict(zip(r["source_row"].to_list(), r["reason"].to_list(), strict=True))


def test_oru_cbc_neutropenia_without_leukopenia() -> None:
    src = read(HL7 / "oru-cbc.hl7")  # detected by its MSH segment
    m, r = accounted(src)
    assert src.format == "hl7v2" and m.schema == MEASUREMENTS_SCHEMA and src.rows_read == 5
    assert set(m["specimen_id"]) == {"FL55201"}  # OBR-3 filler order number
    assert set(m["taken_at"]) == {datetime(2024, 5, 2, 6, 30)}  # OBX-14 / OBR-7 at +0200, in UTC
    assert reasons(r) == {
        4: "LOINC 789-8 (Erythrocytes [#/volume] in Blood by Automated count) is not an analyte leukon reads"
    }
    assert json.loads(r["raw"][0])["flags"] == "N"
    cbc = read_hl7v2_cbc(HL7 / "oru-cbc.hl7")
    assert cbc.values["anc"] == {"value": 0.9, "unit": "10*3/uL", "lln": 1.8, "uln": 7.7}
    assert cbc.options == {"sex": "female", "age_days": (date(2024, 5, 2) - date(1968, 3, 14)).days}
    a = assess_mapping(cbc.values, **cbc.options)
    assert a.has("neutropenia_without_leukopenia") and not a.has("leukopenia")


def test_mllp_file_with_repeated_obr_groups_and_statuses() -> None:
    src = read_hl7v2(HL7 / "oru-mllp.hl7", codes={"WBC": "wbc"})
    m, r = accounted(src)
    assert src.rows_read == 12
    assert reasons(r) == {
        3: "OBX-11 status P (preliminary): only final (F) or corrected (C) results are read",
        6: "OBX-11 status I (pending): only final (F) or corrected (C) results are read",
        9: "value not numeric 'see smear'",
        10: "LOINC 30405-5 is leukocytes in urine, not a blood count",
        11: "OBX-11 result status missing: only final (F) or corrected (C) results are read",
    }
    by_specimen = m.group_by("specimen_id").agg(pl.col("analyte").cast(pl.String).sort()).sort("specimen_id").rows()
    assert by_specimen == [
        ("FL60001", ["bands_pct", "neutrophils_pct", "wbc"]),  # the local code WBC through the map
        ("FL60101", ["anc", "wbc"]),  # SN "<^0.1": the ANC is kept as a bound, with its operator
        ("FL60102", ["anc", "wbc"]),  # SN "=^0.3" is a plain number; C (corrected) is read
    ]
    wbc = m.filter(pl.col("specimen_id") == "FL60001", pl.col("analyte") == "wbc").row(0, named=True)
    assert (wbc["value"], wbc["unit"], wbc["lln"], wbc["uln"]) == (3100.0, "/uL", 3500.0, 10500.0)
    cbc = read_hl7v2_cbc(HL7 / "oru-mllp.hl7", codes={"WBC": "wbc"})
    assert cbc.specimen_id == "FL60102" and cbc.taken_at == datetime(2024, 6, 3, 20)
    # Without the local code map, the lab's own code is a reject that says how to map it.
    _, r2 = accounted(read_hl7v2(HL7 / "oru-mllp.hl7"))
    assert (
        reasons(r2)[0] == "OBX-3 'WBC^White cell count^99LAB' is not a LOINC code and not in the local code map (map=)"
    )


def test_local_codes_through_the_mapping_file(tmp_path: Path) -> None:
    """The same TOML mapping file the table formats take: a local code, its default unit, a unit spelling."""
    f = tmp_path / "lab-codes.toml"
    f.write_text('[names]\n"99LAB|WBC" = { analyte = "wbc", unit = "/uL" }\n[units]\n"THOU/CMM" = "10^3/uL"\n')
    text = (HL7 / "oru-mllp.hl7").read_text(encoding="latin-1")
    text = text.replace("3100|/uL|", "3100||").replace("1.2|10*3/uL", "1.2|THOU/CMM")
    m, _ = accounted(read_hl7v2("x", text=text, map=f))
    units = dict(zip(m["value"].to_list(), m["unit"].to_list(), strict=True))
    assert units[3100.0] == "/uL" and units[1.2] == "10^3/uL"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("oru-canine.hl7", "non-human subject (PID-35 species 'Canine'): leukon's criteria are for people"),
        ("oru-feline-range.hl7", "non-human analyzer (OBX-7 names 'feline'): leukon's criteria are for people"),
    ],
)
def test_non_human_messages_are_refused(name: str, reason: str) -> None:
    m, r = accounted(read(HL7 / name, format="hl7v2"))
    assert m.height == 0 and set(r["reason"]) == {reason}
    with pytest.raises(InputError, match="no usable white-cell result"):
        read_hl7v2_cbc(HL7 / name)


def test_not_oru_and_not_hl7() -> None:
    _, r = accounted(read(HL7 / "adt-not-oru.hl7"))
    assert r["reason"].to_list() == ["message type ADT^A01 is not ORU^R01"]
    assert detect_format(HL7 / "not-hl7.hl7") is None
    with pytest.raises(InputError, match=r"^input: HL7 v2 text must start with an MSH segment"):
        read(HL7 / "not-hl7.hl7", format="hl7v2")


def test_screen_runs_hl7_unchanged(tmp_path: Path) -> None:
    res = screen(HL7 / "oru-mllp.hl7", format="hl7v2", codes={"WBC": "wbc"}, out=tmp_path, course=False)
    assert res.summary["accounted"] and res.summary["rows_read"] == 12 and res.panels.height == 3
    first = res.panels.filter(pl.col("specimen_id") == "FL60001").row(0, named=True)
    assert first["anc"] == pytest.approx(0.775) and first["anc_method"] == "derived_with_bands"
    assert (tmp_path / "rejects.parquet").exists()


def test_line_endings_and_framing_do_not_matter() -> None:
    text = (HL7 / "oru-cbc.hl7").read_text()
    plain = split_messages(text)
    assert split_messages(text.replace("\r", "\n")) == plain
    assert split_messages("\x0b" + text.replace("\r", "\r\n") + "\x1c\r") == plain
    a, _ = accounted(read_hl7v2("x", text=text.replace("\r", "\n")))
    b, _ = accounted(read_hl7v2(HL7 / "oru-cbc.hl7"))
    assert a.equals(b)


def test_censored_anc_is_kept_as_a_bound_and_left_out_of_the_single_report() -> None:
    src = read_hl7v2(HL7 / "oru-mllp.hl7")
    m, _ = accounted(src)
    anc = m.filter(pl.col("specimen_id") == "FL60101", pl.col("analyte") == "anc").row(0, named=True)
    assert (anc["value"], anc["censor"]) == (0.1, "<")
    text = (HL7 / "oru-mllp.hl7").read_text(encoding="latin-1").split("OBR|2")[0]  # up to the first draw of June 3
    cbc = read_hl7v2_cbc("x", text=text)
    assert "anc" not in cbc.values and any("anc <0.1" in n and "censored" in n for n in cbc.notes)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["6690-2", "751-8", "789-8", "XYZ"]), st.sampled_from(["F", "P", "C", "X", ""]),
                          st.sampled_from(["4.2", "0.9", "<^0.1", "n/a", ""])), min_size=1, max_size=10))  # fmt: skip
def test_every_obx_is_accounted_for(obx) -> None:
    """Any mix of codes, statuses and values: one row per OBX, used or rejected with a reason, never a crash."""
    segs = ["MSH|^~\\&|LIS|LAB|EHR|HOSP|20240101120000||ORU^R01|M1|P|2.5.1", "PID|1||P1||DOE^J||19800101|M",
            "OBR|1||F1|58410-2^CBC^LN|||20240101080000"]  # fmt: skip
    for i, (code, status, value) in enumerate(obx, start=1):
        vtype = "SN" if "^" in value else "NM"
        segs.append(f"OBX|{i}|{vtype}|{code}^x^LN||{value}|10*3/uL|||||{status}")
    src = read_hl7v2("generated", text="\r".join(segs))
    m, r = accounted(src)
    assert src.rows_read == len(obx)
    ok = [c for c, s, v in obx if s in ("F", "C") and c in ("6690-2", "751-8") and v in ("4.2", "0.9", "<^0.1")]
    assert m.height == len(ok)
    assert r["reason"].is_not_null().all() and (r["reason"].str.len_chars() > 0).all()


_FIELD = st.text(alphabet="ORUMSHPIDBXNT0123456789.<>=^~&|\\ -F", max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["MSH", "PID", "OBR", "OBX", "NTE", "ZZZ"]), st.lists(_FIELD, max_size=16)),
                max_size=8))  # fmt: skip
def test_garbage_never_crashes(segments) -> None:
    """Any sequence of segments: a Source whose every row is accounted for, or one InputError; no traceback."""
    text = "\r".join(name + "|" + "|".join(fields) for name, fields in segments)
    try:
        src = read_hl7v2("fuzz", text=text)
    except InputError:
        return
    accounted(src)


def test_lab_flags_travel_with_the_single_report(capsys) -> None:
    cbc = read_hl7v2_cbc(HL7 / "oru-cbc.hl7")
    assert cbc.lab_flags == {"wbc": "N", "anc": "L", "hemoglobin": "N", "platelets": "N"}
    from leukon.cli import main
    from leukon.cli.messages import flag_disagreements

    assert flag_disagreements(assess_mapping(cbc.values, **cbc.options), cbc.lab_flags) == []  # lab and leukon agree
    text = (HL7 / "oru-cbc.hl7").read_text().replace("|1.8-7.7|L|", "|1.8-7.7|N|")  # a lab flag that misses the low ANC
    cbc2 = read_hl7v2_cbc("edited message", text=text)
    notes = flag_disagreements(assess_mapping(cbc2.values, **cbc2.options), cbc2.lab_flags)
    assert notes == ["the lab flagged anc N (normal); leukon reads it as low (L)"]
    assert main(["assess", "--hl7", str(HL7 / "oru-cbc.hl7")]) == 0
    assert "the lab flagged" not in capsys.readouterr().err


def test_loinc_in_the_alternate_identifier() -> None:
    """OBX-3 with the lab's own code first and LOINC as the alternate (components 4-6), as many LIS send it."""
    text = (
        (HL7 / "oru-cbc.hl7")
        .read_text()
        .replace(
            "OBX|1|NM|6690-2^Leukocytes [#/volume] in Blood by Automated count^LN",
            "OBX|1|NM|WBC^White count^L^6690-2^Leukocytes^LN",
        )
    )
    m, _ = accounted(read_hl7v2("alternate", text=text))
    wbc = m.filter(pl.col("analyte") == "wbc").row(0, named=True)
    assert wbc["value"] == 4.6 and wbc["lln"] == 4.0
