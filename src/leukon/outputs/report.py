"""A self-contained HTML patient report: course, episodes, cyclic verdict, chart and explanation.

One file with inline CSS and an inline SVG chart, no scripts and no external URLs, so it can be mailed,
archived or opened offline. Every value from the data is escaped. It ends by saying it is not a diagnosis.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from ..course.model import NOT_A_DIAGNOSIS, FollowResult, PatientCourse
from .chart import strip_svg

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:62rem;
color:#1b1b1b;line-height:1.45;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e5e5e5;vertical-align:top}
th{background:#f5f5f5}.label{font-weight:600}.muted{color:#666;font-size:.85rem}
.chart svg{width:100%;height:auto}.note{margin-top:2.5rem;padding:.8rem 1rem;background:#fff8e1;
border-left:4px solid #e0a800}
"""


def _fmt(x) -> str:
    if x is None:
        return "–"
    if hasattr(x, "isoformat"):
        return escape(x.isoformat(sep=" ", timespec="minutes") if hasattr(x, "hour") else x.isoformat())
    if isinstance(x, float):
        return f"{x:g}"
    return escape(str(x))


def _courses(p: PatientCourse) -> str:
    rows = "".join(
        f"<tr><td>{escape(c.line)}</td><td class=label>{escape(c.label)}</td><td>{escape(c.reason)}</td>"
        f"<td>{c.n_counts}</td><td>{c.n_episodes}</td></tr>"
        for c in p.courses.values()
    )
    return (
        "<h2>Course</h2><table><tr><th>Cell line</th><th>Course</th><th>Why</th><th>Counts</th>"
        f"<th>Episodes</th></tr>{rows}</table>"
    )


def _episodes(p: PatientCourse) -> str:
    if not p.episodes:
        return "<h2>Episodes of low counts</h2><p>No count was below the threshold.</p>"
    rows = []
    for e in p.episodes:
        end = _fmt(e.end) if e.end else escape({"gap": "unknown (gap)", "end of series": "ongoing"}[e.end_reason])
        after = (
            ""
            if e.nadir_day_after_treatment is None
            else f" (day {e.nadir_day_after_treatment} after {escape(e.treatment.label)})"
        )
        below = ", ".join(f"&lt;{escape(k)}: {v:g} d" for k, v in e.days_below.items())
        rows.append(
            f"<tr><td>{escape(e.line)}</td><td>{e.episode}</td><td>{_fmt(e.start)}</td><td>{end}</td>"
            f"<td>{e.duration_days:.1f}</td><td>{e.n_counts}</td><td>{e.nadir:g} on {_fmt(e.nadir_at)}{after}</td>"
            f"<td>{_fmt(e.worst_grade)}</td><td>{below}</td><td>{_fmt(e.recovery_day)}</td></tr>"
        )
    return (
        "<h2>Episodes of low counts</h2><table><tr><th>Line</th><th>#</th><th>Start</th><th>End</th>"
        "<th>Days</th><th>Counts</th><th>Nadir</th><th>Worst grade</th><th>Time below</th>"
        f"<th>Recovery day</th></tr>{''.join(rows)}</table>"
        f"<p class=muted>Grades: {escape(p.scheme)}. Recovery day: the first of 3 consecutive days with ANC of"
        " 0.5 x 10^9/L or more after the nadir (ASTCT consensus).</p>"
    )


def _cyclic(p: PatientCourse) -> str:
    c = p.cyclic
    extra = ""
    if c.period_days is not None:
        extra = (
            f"<p class=muted>Strongest period {c.period_days:g} days, strength {_fmt(c.strength)},"
            f" false-alarm probability {c.false_alarm_probability:.2g}. Method: {escape(c.method)}.</p>"
        )
    notes = "".join(f"<p class=muted>{escape(n)}</p>" for n in c.notes)
    return (
        f"<h2>Cyclic pattern</h2><p><span class=label>{escape(c.verdict)}</span>: {escape(c.reason)}</p>{extra}{notes}"
    )


def _patient(p: PatientCourse, svg: str | None, explanation_html: str | None) -> str:
    parts = [f"<section><h1>Patient {escape(p.patient_id)}</h1>"]
    if svg:
        parts.append(f'<div class=chart role=img aria-label="Counts over time">{strip_svg(svg, prologue=True)}</div>')
    parts += [_courses(p), _episodes(p), _cyclic(p)]
    if p.treatments:
        items = "".join(f"<li>{_fmt(t.date)}: {escape(t.label)}</li>" for t in p.treatments)
        parts.append(f"<h2>Treatments given</h2><ul>{items}</ul>")
    if explanation_html:
        parts.append(f"<h2>What this means</h2><div class=explanation>{explanation_html}</div>")
    parts.append("</section>")
    return "".join(parts)


def render_report(
    follow_result: FollowResult | PatientCourse,
    chart_svg: str | Mapping[str, str] | None,
    explanation_html: str | None = None,
) -> str:
    """A complete HTML page. chart_svg: one SVG (single patient) or a mapping patient_id -> SVG.

    explanation_html is trusted HTML from leukon's knowledge base and is inserted as given.
    """
    patients = (follow_result,) if isinstance(follow_result, PatientCourse) else follow_result.patients
    body = []
    for p in patients:
        svg = chart_svg.get(p.patient_id) if isinstance(chart_svg, Mapping) else chart_svg
        body.append(_patient(p, svg, explanation_html))
    title = "White-cell counts over time" + (f": patient {patients[0].patient_id}" if len(patients) == 1 else "")
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"{''.join(body)}<p class=note><strong>Not a diagnosis.</strong> {escape(NOT_A_DIAGNOSIS)}</p>"
        "</body></html>"
    )


__all__ = ["render_report"]
