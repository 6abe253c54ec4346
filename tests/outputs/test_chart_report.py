import datetime as dt
import re
import xml.etree.ElementTree as ET

import polars as pl

from leukon.course import follow
from leukon.outputs.chart import render, save
from leukon.outputs.report import render_report

T0 = dt.datetime(2024, 1, 1, 8)


def course(days, anc, wbc=None, treatments=None):
    p = pl.DataFrame(
        {
            "patient_id": "p1",
            "specimen_id": [f"s{i}" for i in range(len(days))],
            "taken_at": [T0 + dt.timedelta(days=d) for d in days],
            "anc": anc,
            "wbc": wbc if wbc is not None else [None] * len(days),
        },
        schema_overrides={"wbc": pl.Float64, "anc": pl.Float64},
    )
    return follow(p, "p1", treatments=treatments).patient("p1")


def chemo_like():
    tr = pl.DataFrame({"patient_id": ["p1"], "date": [T0.date()], "label": ["<carboplatin & co>"]})
    return course([0, 5, 9, 12, 16, 20], [4.0, 1.2, 0.3, 0.05, 1.4, 3.5], [7.0, 3.0, 1.8, 0.9, 2.9, 6.0], tr)


def test_png_signature_and_svg_parses(tmp_path):
    p = chemo_like()
    png = render(p, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    svg = render(p, "svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    save(p, str(tmp_path / "c.svg"))
    assert ET.parse(tmp_path / "c.svg").getroot().tag.endswith("svg")


def test_chart_handles_one_count_no_wbc_and_all_normal():
    for p in (course([0], [0.4]), course(range(0, 50, 7), [3.0] * 8, [6.0] * 8)):
        assert render(p, "png")[:4] == b"\x89PNG"


def test_svg_is_reproducible_and_has_no_external_urls():
    p = chemo_like()
    a, b = render(p, "svg"), render(p, "svg")
    assert a == b
    urls = set(re.findall(rb"https?://[^\"' )]+", a))
    assert urls <= {b"http://www.w3.org/2000/svg", b"http://www.w3.org/1999/xlink"}


def test_report_is_self_contained_escaped_and_ends_with_the_note():
    p = chemo_like()
    html = render_report(p, render(p, "svg").decode(), "<p>Neutropenia means few neutrophils.</p>")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<?xml" not in html and "<script" not in html
    assert not re.search(r"(src|href)=\"(?!#)", html)  # only in-page references
    assert "&lt;carboplatin &amp; co&gt;" in html and "<carboplatin" not in html
    assert "Neutropenia means few neutrophils." in html
    body = html[: html.rindex("</body>")]
    assert body.rstrip().endswith("</p>") and "Not a diagnosis" in body[-400:]
    assert "acute" in html and "grade" in html.lower()


def test_report_for_several_patients_takes_a_mapping():
    p = chemo_like()
    html = render_report(p, {"p1": "<svg xmlns='http://www.w3.org/2000/svg'><g id='mine'/></svg>"})
    assert "id='mine'" in html
    assert "<svg" not in render_report(p, None)
