"""A chart people can read: ANC (top) and WBC (bottom) over time for one patient.

Each panel shows the normal range as a green band, the scheme's grade thresholds as labelled dashed lines
(read from the scheme, never re-typed), episodes shaded, the nadir of each episode marked, and treatment
dates as vertical markers. Rendered with matplotlib's Agg backend: no display and no network needed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from ..course.model import LineInfo, PatientCourse

PANELS = ("neutrophils", "white cells")
TITLES = {"neutrophils": "Neutrophils (ANC)", "white cells": "White cells (WBC)", "lymphocytes": "Lymphocytes"}
COLOURS = {"neutrophils": "#1f4e9c", "white cells": "#6a3d9a", "lymphocytes": "#b15928"}
GRADE_COLOURS = {1: "#c9a227", 2: "#e08a1e", 3: "#d0531f", 4: "#a3171b"}


def _info(patient: PatientCourse, line: str) -> LineInfo | None:
    return next((i for i in patient.lines if i.name == line), None)


def _panel(ax, patient: PatientCourse, line: str, show_legend: bool) -> None:
    info = _info(patient, line)
    series = patient.series.get(line, ())
    ax.set_title(TITLES.get(line, line), loc="left", fontsize=11, fontweight="bold")
    ax.set_ylabel("x 10^9/L")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not series:
        ax.text(0.5, 0.5, "no counts", transform=ax.transAxes, ha="center", va="center", color="#777777")
        ax.set_yticks([])
        return
    xs = [c.at for c in series]
    ys = [c.value for c in series]
    top = max([*ys, (info.uln or 0) if info else 0]) * 1.12 or 1.0
    ax.set_ylim(0, top)
    if info and info.lln is not None and info.uln is not None:
        ax.axhspan(
            info.lln, info.uln, color="#2e9d4f", alpha=0.10, lw=0, label=f"normal range {info.lln:g}-{info.uln:g}"
        )
    if info:
        for grade, bound in info.grade_bounds:
            if bound < top:
                c = GRADE_COLOURS.get(grade, "#888888")
                ax.axhline(bound, color=c, lw=0.9, ls=(0, (4, 3)))
                ax.annotate(
                    f"grade {grade} below {bound:g}",
                    xy=(1.0, bound),
                    xycoords=("axes fraction", "data"),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=c,
                )
    first = True
    for e in patient.episodes_of(line):
        end = e.end or e.last_low_at
        ax.axvspan(e.start, end, color="#d62728", alpha=0.10, lw=0, label="low episode" if first else None)
        ax.plot(e.nadir_at, e.nadir, marker="v", ms=9, color="#d62728", zorder=5, label="nadir" if first else None)
        ax.annotate(
            f"nadir {e.nadir:g}",
            xy=(e.nadir_at, e.nadir),
            xytext=(0, -14),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
            color="#a3171b",
            annotation_clip=False,
        )
        first = False
    colour = COLOURS.get(line, "#333333")
    ax.plot(xs, ys, color=colour, lw=1.4, marker="o", ms=3.5, zorder=4, label=TITLES.get(line, line).split(" (")[0])
    if show_legend:
        ax.legend(loc="lower right", fontsize=8, frameon=False, ncol=4, bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2)


def _treatments(axes, patient: PatientCourse) -> None:
    labelled = set()
    for t in patient.treatments:
        for i, ax in enumerate(axes):
            ax.axvline(t.date, color="#555555", lw=0.9, ls=":", zorder=3)
            if i == 0 and (t.label, t.date) not in labelled:
                ax.annotate(
                    t.label,
                    xy=(t.date, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, -2),
                    textcoords="offset points",
                    rotation=90,
                    va="top",
                    fontsize=7,
                    color="#444444",
                )
                labelled.add((t.label, t.date))


def figure(patient: PatientCourse, lines: Sequence[str] = PANELS, *, title: str | None = None) -> Figure:
    """The course chart as a matplotlib Figure (not attached to pyplot, so nothing leaks between calls)."""
    fig = Figure(figsize=(10, 3.1 * len(lines) + 0.6), layout="constrained")
    axes = fig.subplots(len(lines), 1, sharex=True, squeeze=False)[:, 0]
    for i, line in enumerate(lines):
        _panel(axes[i], patient, line, show_legend=True)
    _treatments(axes, patient)
    loc = mdates.AutoDateLocator(minticks=4, maxticks=9)
    axes[-1].xaxis.set_major_locator(loc)
    fmt = mdates.ConciseDateFormatter(loc)
    fmt.offset_formats = ["", "%Y", "%Y", "%Y", "%Y", "%Y"]
    axes[-1].xaxis.set_major_formatter(fmt)
    fig.suptitle(title or f"Patient {patient.patient_id}: white-cell counts over time", fontsize=12, x=0.01, ha="left")
    return fig


def render(patient: PatientCourse, fmt: str = "png", **kw) -> bytes:
    """The chart as PNG or SVG bytes. SVG metadata (dates, tool URLs) is left out so output is reproducible."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"chart format must be png or svg, not {fmt!r}")
    buf = io.BytesIO()
    meta = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "leukon", "svg.fonttype": "path"}):
        figure(patient, **kw).savefig(buf, format=fmt, dpi=120, metadata=meta)
    return strip_svg(buf.getvalue().decode("utf-8")).encode("utf-8") if fmt == "svg" else buf.getvalue()


def strip_svg(svg: str, *, prologue: bool = False) -> str:
    """Drop the DOCTYPE (a DTD URL) and the RDF metadata block; with prologue=True also the XML declaration,
    so the SVG can be inlined in HTML. The drawing itself is untouched."""
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    if prologue:
        svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    return svg.strip()


def save(patient: PatientCourse, path: str, **kw) -> None:
    """Write the chart to path; the extension (.png or .svg) picks the format."""
    fmt = path.rsplit(".", 1)[-1] if "." in path else ""
    data = render(patient, fmt, **kw)
    with open(path, "wb") as f:
        f.write(data)


__all__ = ["figure", "render", "save", "strip_svg"]
