"""Course labels per patient and line: none, acute, chronic, severe chronic, recurrent (or indeterminate).

"Low" means below that specimen's own lower limit of normal (the lab's, else the profile's for its age,
sex and ancestry), so a Duffy-null adult at ANC 1.3 (inside 1.21-5.39, Hibbs et al., Blood 2025) or an
infant at 1.1 (LLN 1.0 from 2 weeks to 1 year) is not low. Rules, most specific first:

- not assessed: the line has counts, but none has a lower limit (no range applies, e.g. WBC under one
  year): we cannot tell low from normal, and say so rather than call it "none".
- severe chronic: within one episode, consecutive counts below the line's absolute `severe_chronic` level
  (ANC < 0.5) spanning more than 3 calendar months (Severe Chronic Neutropenia International Registry,
  SCNIR; Blood Adv 2022;6(13):3861).
- chronic: within one episode, low on at least 3 occasions (distinct days) spanning at least 3 calendar
  months (Medical News Today, "Leukopenia: causes, types, and treatment"; Boxer, "How to approach
  neutropenia", ASH Education Program 2012: "may last for 3 months or longer"). We require one episode, not
  just any three low counts, so repeated short drops with recovery in between (chemotherapy cycles) read as
  recurrent rather than chronic.
- recurrent: two or more episodes, none chronic.
- acute: one episode shorter than 3 months (an ongoing one may still become chronic; the reason says so).
- indeterminate: one episode spanning 3 months or more, but with fewer than 3 low occasions.
- none: no assessed count below its lower limit.

The labels are computed for every patient at once with Polars; the evidence counts and the plain-language
reason are attached per patient in `follow`.
"""

from __future__ import annotations

import polars as pl

from .episodes import CourseParams

THREE_MONTHS = "3mo"  # calendar months, as the clinical definitions count them
KEY = ["patient_id", "line"]
#: The integer keys of the marked counts (`episodes.mark_episodes`): one per patient and line, one per episode.
SERIES, EPISODE = "series", "episode_key"


def _severe_runs(counts: pl.DataFrame, params: CourseParams) -> pl.DataFrame:
    """Runs of consecutive in-episode counts below the severe-chronic level, with their first and last time."""
    levels = {line.name: line.severe_chronic for line in params.lines if line.severe_chronic is not None}
    lvl = pl.col("line").replace_strict(levels, default=None, return_dtype=pl.Float64)
    severe = (pl.col("value") < lvl).alias("severe")
    # A run starts where `severe` changes or a new episode begins (the rows are in time order within one).
    start = (severe != severe.shift(1)) | (pl.col(EPISODE) != pl.col(EPISODE).shift(1))
    return (
        counts.filter(pl.col("in_ep") & pl.col("line").is_in(list(levels)))
        .with_columns(severe, start.fill_null(True).cum_sum().alias("run"))
        .filter(pl.col("severe"))
        .group_by("run", maintain_order=True)
        .agg(
            pl.col(EPISODE).first(),
            pl.col("taken_at").min().alias("sev_first"),
            pl.col("taken_at").max().alias("sev_last"),
        )
        .with_columns((pl.col("sev_last") > pl.col("sev_first").dt.offset_by(THREE_MONTHS)).alias("severe_ep"))
    )


def episode_facts(counts: pl.DataFrame, params: CourseParams) -> pl.DataFrame:
    """Per episode (`episode_key`): low occasions, their span, and whether it meets the chronic and
    severe-chronic rules."""
    # The low counts of an episode are in time order, so its distinct days are where the day changes.
    day = pl.col("taken_at").dt.date()
    new_day = (pl.col(EPISODE) != pl.col(EPISODE).shift(1)) | (day != day.shift(1))
    low = (
        counts.filter(pl.col("in_ep") & pl.col("low"))
        .with_columns(new_day.fill_null(True).alias("_new_day"))
        .group_by(EPISODE, maintain_order=True)
        .agg(
            pl.col("_new_day").sum().cast(pl.UInt32).alias("low_days"),
            pl.col("taken_at").first().alias("first_low"),
            pl.col("taken_at").last().alias("last_low"),
        )
        .with_columns(
            (pl.col("last_low") >= pl.col("first_low").dt.offset_by(THREE_MONTHS)).alias("spans_3mo"),
        )
        .with_columns((pl.col("spans_3mo") & (pl.col("low_days") >= 3)).alias("chronic_ep"))
    )
    # The first run that lasts more than 3 months, else the first run, of each episode.
    sev = (
        _severe_runs(counts, params)
        .sort([EPISODE, "severe_ep", "run"], descending=[False, True, False])
        .group_by(EPISODE, maintain_order=True)
        .agg(pl.col("severe_ep").any(), pl.col("sev_first").first(), pl.col("sev_last").first())
    )
    return (
        low.join(sev, on=EPISODE, how="left", maintain_order="left")
        .with_columns(pl.col("severe_ep").fill_null(False))
        .sort(EPISODE)
    )


LABELS = ("no data", "not assessed", "none", "acute", "chronic", "severe chronic", "recurrent", "indeterminate")


def course_table(counts: pl.DataFrame, episodes: pl.DataFrame, params: CourseParams) -> pl.DataFrame:
    """One row per patient and line: label, n_counts, n_assessed, n_episodes, and which episode carries the label.

    `counts` are the marked counts and `episodes` the course stage's episodes, both with their integer keys."""
    facts = episode_facts(counts, params)
    per_ep = episodes.select(SERIES, EPISODE, "episode", "start", "end", "last_low_at").join(
        facts.select(EPISODE, "chronic_ep", "severe_ep"), on=EPISODE, how="left", maintain_order="left"
    )
    per_ep = per_ep.with_columns(
        (pl.coalesce("end", "last_low_at") >= pl.col("start").dt.offset_by(THREE_MONTHS)).alias("long_ep"),
        pl.col("chronic_ep").fill_null(False),
        pl.col("severe_ep").fill_null(False),
    )
    severe, chronic = pl.col("severe_ep"), pl.col("chronic_ep")
    ep_summary = per_ep.group_by(SERIES).agg(
        pl.len().cast(pl.UInt32).alias("n_episodes"),
        pl.col("episode").filter(severe).first().alias("severe_episode"),
        pl.col("episode").filter(chronic).first().alias("chronic_episode"),
        pl.col(EPISODE).filter(severe).first().alias("_severe_key"),
        pl.col(EPISODE).filter(chronic).first().alias("_chronic_key"),
        pl.col(EPISODE).first().alias("_first_key"),
        pl.col("long_ep").any().alias("long_ep"),
    )
    totals = counts.group_by(SERIES, maintain_order=True).agg(  # in row order: by patient and line
        *(pl.col(c).first() for c in KEY),
        pl.len().cast(pl.UInt32).alias("n_counts"),
        pl.col("assessed").sum().cast(pl.UInt32).alias("n_assessed"),
        pl.col("taken_at").min().alias("first_count"),
        pl.col("taken_at").max().alias("last_count"),
    )
    t = totals.join(ep_summary, on=SERIES, how="left", maintain_order="left").with_columns(
        pl.col("n_episodes").fill_null(0)
    )
    label = (
        pl.when((pl.col("n_episodes") == 0) & (pl.col("n_assessed") == 0))
        .then(pl.lit("not assessed"))
        .when(pl.col("n_episodes") == 0)
        .then(pl.lit("none"))
        .when(pl.col("severe_episode").is_not_null())
        .then(pl.lit("severe chronic"))
        .when(pl.col("chronic_episode").is_not_null())
        .then(pl.lit("chronic"))
        .when(pl.col("n_episodes") >= 2)
        .then(pl.lit("recurrent"))
        .when(pl.col("long_ep"))
        .then(pl.lit("indeterminate"))
        .otherwise(pl.lit("acute"))
    )
    one = pl.col("n_episodes") == 1
    t = t.with_columns(label.alias("label")).with_columns(
        pl.coalesce("severe_episode", "chronic_episode", pl.when(one).then(pl.lit(1, pl.UInt32))).alias(
            "label_episode"
        ),
        pl.coalesce("_severe_key", "_chronic_key", pl.when(one).then(pl.col("_first_key"))).alias(EPISODE),
    )
    # The facts of the episode that carries the label (first_low, last_low, low_days, sev_first, sev_last).
    return t.join(
        facts.drop("chronic_ep", "severe_ep", "spans_3mo"), on=EPISODE, how="left", maintain_order="left"
    ).drop("_severe_key", "_chronic_key", "_first_key", EPISODE)


__all__ = ["LABELS", "course_table", "episode_facts"]
