"""Cyclic neutropenia: is there a regular rhythm in one patient's ANC, and was it sampled well enough to tell?

Method, and why:

1. Sampling first. The Severe Chronic Neutropenia International Registry diagnoses cyclic neutropenia from
   differential counts at least 3 times a week for 6 weeks (SCNIR, scnir-neutropenia.uw.edu). Without such
   a window (6 consecutive 7-day weeks, starting on any day, each with counts on >= 3 distinct days)
   the verdict is "insufficient data" and no period is reported: monthly counts cannot reveal a 21-day
   cycle, and a periodogram on them would only show aliases.
2. Periodogram. Counts are irregular in time, so we use the generalised (floating-mean) Lomb-Scargle
   periodogram (Zechmeister & Kürster 2009, A&A 496:577, their eq. 5; the same power as
   scipy.signal.lombscargle with normalize=True, floating_mean=True, which the tests compare it with) in its
   standard normalisation: the power is the fraction of variance a sinusoid explains (0-1), which we report
   as the strength. It runs
   on log(ANC + 0.1): counts vary multiplicatively, and the log keeps one high count from dominating while
   0.1 (the "profound" level in IDSA febrile-neutropenia usage) keeps counts of zero finite.
   Periods searched: 12-36 days, and never longer than half the observed span (two cycles must be seen).
   Cycles are "typically 21 days, varying between patients" (SCNIR), "21 +/- 3" (doctorslounge.com,
   quoting the registry); the wider 12-36 day window is leukon's own choice (not from a source), so that
   atypical cycles are not missed.
3. False-alarm probability (FAP) of the highest peak: Baluev's analytic bound (Baluev 2008, MNRAS
   385:1279, the "Davies bound" form as in astropy's LombScargle.false_alarm_probability). It is computed
   for irregular sampling and for a search over a frequency band, it is deterministic (no random
   permutations), and it is an upper bound on the FAP, so it errs towards "not cyclic". A peak counts as
   periodic when FAP < alpha = 0.001; a true cycle with nadirs near 0.2 gives FAPs many orders smaller.
4. Cyclic neutropenia also needs the nadirs to be low: at least two observed cycles, and at least half of
   them, with a minimum below that count's own lower limit of normal (`follow` passes each specimen's
   LLN; called directly, a fixed ANC 1.5, the adult limit of UpToDate and Dale's chronic idiopathic
   neutropenia review). A nadir without a lower limit is not counted as low. SCNIR: "almost all patients
   have severe neutropenia, ANC < 0.2, about every three weeks"; we report each cycle's nadir depth.
5. Treatment. When treatment dates are given and their median interval matches the period (within
   max(3 days, 15 %)), the verdict is "explained by treatment", not cyclic neutropenia: chemotherapy given
   every 21 days produces the same curve.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np

VERDICTS = ("no data", "insufficient data", "not cyclic", "cyclic", "explained by treatment")


@dataclass(frozen=True, slots=True)
class CyclicParams:
    """Tunables of the cyclic test, each default with its source (see the module docstring)."""

    counts_per_week: int = 3  # SCNIR protocol
    weeks: int = 6  # SCNIR protocol
    min_period_days: float = 12.0  # leukon's choice, around the SCNIR 21 +/- 3 days
    max_period_days: float = 36.0  # leukon's choice
    alpha: float = 0.001  # FAP threshold (Baluev bound)
    oversample: int = 10  # frequency grid: 10 points per 1/span, so the peak is not missed
    log_offset: float = 0.1  # log(ANC + 0.1); 0.1 = "profound" (IDSA febrile-neutropenia usage)
    treatment_tolerance_days: float = 3.0
    treatment_tolerance_fraction: float = 0.15


@dataclass(frozen=True, slots=True)
class Sampling:
    """How the counts were spread in time, compared with the SCNIR protocol (>= 3 a week for 6 weeks)."""

    n_counts: int
    n_days: int
    span_days: float
    best_weeks: int  # the most consecutive weeks that each had >= counts_per_week counting days
    protocol_met: bool
    window_start: dt.date | None = None  # the first count day of the first qualifying window

    def to_dict(self) -> dict:
        d = asdict(self)
        d["window_start"] = None if self.window_start is None else self.window_start.isoformat()
        return d


@dataclass(frozen=True, slots=True)
class CycleNadir:
    """The lowest count in one cycle window, and the lower limit it was judged against (None: no range)."""

    at: dt.datetime
    value: float
    lln: float | None = None

    @property
    def low(self) -> bool:
        return self.lln is not None and self.value < self.lln

    def to_dict(self) -> dict:
        return {"at": self.at.isoformat(), "value": self.value, "lln": self.lln}


@dataclass(frozen=True, slots=True)
class CyclicResult:
    verdict: str
    reason: str
    sampling: Sampling
    period_days: float | None = None
    strength: float | None = None  # Lomb-Scargle power, the fraction of variance explained
    false_alarm_probability: float | None = None
    nadirs: tuple[CycleNadir, ...] = ()
    treatment_interval_days: float | None = None
    method: str = "generalised Lomb-Scargle on log(ANC + 0.1), Baluev (2008) false-alarm bound"
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "period_days": self.period_days,
            "strength": self.strength,
            "false_alarm_probability": self.false_alarm_probability,
            "nadirs": [n.to_dict() for n in self.nadirs],
            "sampling": self.sampling.to_dict(),
            "treatment_interval_days": self.treatment_interval_days,
            "method": self.method,
            "notes": list(self.notes),
        }


# --- Series laid end to end -------------------------------------------------------------------------------
# Many patients' series are tested at once: their values lie end to end in flat arrays, series i holding
# lengths[i] of them, and every step below is a few NumPy operations over all series together. One series is
# the case of length 1, so `detect` and `detect_many` run the very same arithmetic.

#: Work per batch of series, in (count, frequency) pairs of the periodogram: about 16 bytes of temporary memory
#: each, a few arrays of them at a time, so a batch holds a few hundred MB at most whatever the input's size.
PAIRS_PER_BATCH = 1 << 21
#: A series with this many (count, frequency) pairs or more gets its periodogram as dense tables (`_powers`).
DENSE_PAIRS = 1 << 16


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """Where each series starts in the flat arrays."""
    out = np.zeros(len(lengths), np.int64)
    np.cumsum(lengths[:-1], out=out[1:])
    return out


def _series_of(lengths: np.ndarray) -> np.ndarray:
    """The series number of each flat value."""
    return np.repeat(np.arange(len(lengths)), lengths)


def _positions(lengths: np.ndarray) -> np.ndarray:
    """Each flat value's position within its own series (0, 1, ... per series)."""
    return np.arange(int(lengths.sum())) - np.repeat(_offsets(lengths), lengths)


def _means(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The mean of each series (every series non-empty)."""
    return np.add.reduceat(x, _offsets(lengths)) / lengths


def _batches(costs: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive ranges of series whose costs add up to about `limit` (a costlier series is a range alone)."""
    total = np.cumsum(costs)
    out, lo = [], 0
    while lo < len(costs):
        done = total[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(total, done + limit, side="right")))
        out.append((lo, hi))
        lo = hi
    return out


def _samplings(days: np.ndarray, lengths: np.ndarray, p: CyclicParams, day0: list[dt.date]) -> list[Sampling]:
    """`check_sampling` of each series, all at once: days ascending within each non-empty series."""
    series = _series_of(lengths)
    starts = _offsets(lengths)
    d = np.floor(days).astype(np.int64)
    new = np.ones(len(d), bool)
    new[1:] = (d[1:] != d[:-1]) | (series[1:] != series[:-1])
    day, of = d[new], series[new]  # the distinct counting days of each series
    n_days = np.bincount(of, minlength=len(lengths))
    lowest = day[_offsets(n_days)]
    # One number line for all series, each from 0 and far enough from the next that no week reaches it.
    rel = day - lowest[of]
    far = int(rel.max()) + 7 * (p.weeks + 2)
    key = of * far + rel
    # Weeks may start on any day (so calendar weeks are among the candidates): every start within 6 days
    # before a count day.
    start = np.unique((key[:, None] - np.arange(7)[None, :]).ravel())
    edges = start[:, None] + 7 * np.arange(p.weeks + 1)[None, :]
    per_week = np.diff(np.searchsorted(key, edges, side="left"), axis=1)
    run = np.cumprod(per_week >= p.counts_per_week, axis=1).sum(axis=1)  # qualifying weeks in a row
    start_of = (start + 6) // far
    best = np.maximum.reduceat(run, np.searchsorted(start_of, np.arange(len(lengths))))
    hit = np.flatnonzero(run >= p.weeks)
    series_hit, first = np.unique(start_of[hit], return_index=True)
    window = key[np.searchsorted(key, start[hit[first]])] - series_hit * far + lowest[series_hit]
    window_day = dict(zip(series_hit.tolist(), window.tolist(), strict=True))
    span = days[starts + lengths - 1] - days[starts]
    out = []
    for i, (n, nd, sp, b) in enumerate(
        zip(lengths.tolist(), n_days.tolist(), span.tolist(), best.tolist(), strict=True)
    ):
        w = window_day.get(i)
        at = None if w is None else day0[i] + dt.timedelta(days=w)
        out.append(Sampling(n, nd, float(sp), b, b >= p.weeks, at))
    return out


def check_sampling(days: np.ndarray, p: CyclicParams, day0: dt.date) -> Sampling:
    """Find the best run of consecutive weeks with >= counts_per_week counting days.

    days: calendar day numbers counted from day0 (the date of the first count), in any order.
    """
    days = np.sort(np.asarray(days, float))
    if len(days) == 0:
        return Sampling(0, 0, 0.0, 0, False)
    return _samplings(days, np.array([len(days)]), p, [day0])[0]


def _bounds(z: np.ndarray, n: np.ndarray, fmax: float, var_t: np.ndarray) -> np.ndarray:
    """Baluev's bound for each series' highest peak z (n counts, time variance var_t); see `baluev_fap`."""
    z, n = np.asarray(z, float), np.asarray(n, float)
    nh, nk = n - 1, n - 3
    lg = np.frompyfunc(math.lgamma, 1, 1)
    with np.errstate(all="ignore"):
        inside = (z >= 0.0) & (z < 1.0)
        zz = np.where(inside, z, 0.5)
        fap_single = (1.0 - zz) ** (0.5 * nk)
        gamma = np.sqrt(2.0 / nh) * np.exp((lg(nh / 2.0) - lg((nh - 1) / 2.0)).astype(float))
        w = fmax * np.sqrt(4.0 * np.pi * var_t)  # effective bandwidth x baseline
        tau = gamma * w * (1.0 - zz) ** (0.5 * (nk - 1)) * np.sqrt(0.5 * nh * zz)
        fap = np.minimum(1.0, 1.0 - (1.0 - fap_single) * np.exp(-tau))
    return np.where(inside, fap, np.where(z >= 1.0, 0.0, 1.0))


def baluev_fap(z: float, n: int, fmax: float, t: np.ndarray) -> float:
    """Baluev (2008) upper bound on the false-alarm probability of the highest standard-normalised peak z.

    n points, a floating-mean sinusoid (3 parameters) against a constant (1); fmax in cycles per day.
    """
    return float(_bounds(np.array([z]), np.array([n]), fmax, np.array([np.var(t)]))[0])


def _frequencies(span: np.ndarray, p: CyclicParams) -> tuple[np.ndarray, np.ndarray]:
    """Each series' frequency grid (cycles per day, end to end) and its length: `oversample` points per 1/span,
    from 1/min(max_period, span/2) to 1/min_period, spaced as `np.linspace` spaces them."""
    fmin = 1.0 / np.minimum(p.max_period_days, span / 2.0)
    fmax = 1.0 / p.min_period_days
    m = np.maximum(2, np.ceil(p.oversample * span * (fmax - fmin)).astype(np.int64) + 1)
    of = _series_of(m)
    f = _positions(m) * ((fmax - fmin) / (m - 1))[of] + fmin[of]
    f[_offsets(m) + m - 1] = fmax
    return f, m


def periodogram(t: np.ndarray, y: np.ndarray, p: CyclicParams) -> tuple[np.ndarray, np.ndarray]:
    """Periods (days) and standard-normalised generalised Lomb-Scargle power over the searched band."""
    f, _ = _frequencies(np.array([float(t.max() - t.min())]), p)
    return 1.0 / f, gls_power(t, y, 2.0 * np.pi * f)


def _powers(t: np.ndarray, y: np.ndarray, lengths: np.ndarray, omega: np.ndarray, m: np.ndarray) -> np.ndarray:
    """`gls_power` of each series at its own angular frequencies (m[i] of them, end to end).

    A long series (DENSE_PAIRS or more count-frequency pairs) gets tables of counts x frequencies, a few
    frequencies at a time; the others are summed together as flat pairs. The way depends on the series alone,
    so a series has the same power whatever else is tested with it, and no step holds more than about
    PAIRS_PER_BATCH pairs."""
    of = _series_of(lengths)
    tc = t - _means(t, lengths)[of]  # centring t changes no power and keeps the angles small
    yc = y - _means(y, lengths)[of]
    yy = _means(yc * yc, lengths)
    starts, f_starts, f_of = _offsets(lengths), _offsets(m), _series_of(m)
    out = np.empty(len(omega))
    dense = lengths * m >= DENSE_PAIRS
    for i in np.flatnonzero(dense).tolist():
        counts = slice(starts[i], starts[i] + lengths[i])
        step = max(1, PAIRS_PER_BATCH // int(lengths[i]))
        for lo in range(f_starts[i], f_starts[i] + m[i], step):
            f = slice(lo, min(lo + step, f_starts[i] + m[i]))
            arg = np.multiply.outer(tc[counts], omega[f])
            c, s = np.cos(arg), np.sin(arg)
            ycc = yc[counts, None]
            sums = (x.sum(axis=0) for x in (c, s, c * c, s * s, c * s, ycc * c, ycc * s))
            out[f] = _power_of_sums(float(lengths[i]), yy[i], *sums)
    flat = np.flatnonzero(~dense[f_of])
    pairs = lengths[f_of[flat]]  # each frequency meets every count of its series
    for lo, hi in _batches(pairs, PAIRS_PER_BATCH):
        f, n = flat[lo:hi], pairs[lo:hi]
        first = _offsets(n)
        count = np.repeat(starts[f_of[f]], n) + _positions(n)
        arg = tc[count] * np.repeat(omega[f], n)
        c, s = np.cos(arg), np.sin(arg)
        ycc = yc[count]
        sums = (np.add.reduceat(x, first) for x in (c, s, c * c, s * s, c * s, ycc * c, ycc * s))
        out[f] = _power_of_sums(n.astype(float), yy[f_of[f]], *sums)
    return out


def _power_of_sums(n, yy, c, s, cc, ss, cs, yc, ys) -> np.ndarray:
    """The power (Zechmeister & Kuerster 2009, eq. 5) from the sums over a series' counts of cos, sin, their
    squares and product, and the centred values times cos and sin; n counts, yy the values' variance."""
    mc, ms = c / n, s / n
    cc, ss, cs = cc / n - mc * mc, ss / n - ms * ms, cs / n - mc * ms
    yc, ys = yc / n, ys / n
    d = cc * ss - cs * cs
    with np.errstate(divide="ignore", invalid="ignore"):
        power = (ss * yc * yc + cc * ys * ys - 2.0 * cs * yc * ys) / (yy * d)
    return np.where(d > 1e-12 * np.maximum(cc * ss, 1e-300), np.clip(power, 0.0, 1.0), 0.0)


def gls_power(t: np.ndarray, y: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """The generalised Lomb-Scargle power at angular frequencies `omega`, equal weights (Zechmeister & Kürster
    2009, eq. 5): the fraction of the variance of y that the best sinusoid plus a constant explains, 0 to 1.

    Written with NumPy alone (two trigonometric tables, no phase offset tau), so the course never imports
    scipy.signal, whose import costs more than a screen's whole course stage."""
    return _powers(
        np.asarray(t, float), np.asarray(y, float), np.array([len(t)]), np.asarray(omega, float), np.array([len(omega)])
    )


def _first_maxima(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The flat index of each series' largest value, the first of equal ones (as `np.argmax`; NaN never wins)."""
    x = np.where(np.isnan(x), -np.inf, x)
    of = _series_of(m)
    top = np.flatnonzero(x == np.maximum.reduceat(x, _offsets(m))[of])
    return top[np.unique(of[top], return_index=True)[1]]


def _minimum_phases(t: np.ndarray, y: np.ndarray, lengths: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Each series' time (days) of its fitted sinusoid's first minimum, from a 3-parameter least-squares fit.

    The constant is fitted by centring, which leaves two normal equations for the cosine and sine weights,
    solved in closed form (a general least-squares solver costs more than the rest of the fit)."""
    of = _series_of(lengths)
    w = 2.0 * np.pi / period
    c, s = np.cos(w[of] * t), np.sin(w[of] * t)
    c, s, yc = c - _means(c, lengths)[of], s - _means(s, lengths)[of], y - _means(y, lengths)[of]
    starts = _offsets(lengths)
    cc, ss, cs, cy, sy = (np.add.reduceat(x, starts) for x in (c * c, s * s, c * s, c * yc, s * yc))
    det = cc * ss - cs * cs
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = (ss * cy - cs * sy) / det, (cc * sy - cs * cy) / det
    for i in np.flatnonzero(det <= 1e-12 * np.maximum(cc * ss, 1e-300)).tolist():
        # Samples at one phase only: the minimum-norm fit.
        ti, yi = t[starts[i] : starts[i] + lengths[i]], y[starts[i] : starts[i] + lengths[i]]
        x = np.column_stack([np.ones_like(ti), np.cos(w[i] * ti), np.sin(w[i] * ti)])
        _, a[i], b[i] = np.linalg.lstsq(x, yi, rcond=None)[0]
    return ((np.arctan2(b, a) + np.pi) / w) % period


def _phase_of_minimum(t: np.ndarray, y: np.ndarray, period: float) -> float:
    """`_minimum_phases` of one series."""
    return float(_minimum_phases(np.asarray(t, float), np.asarray(y, float), np.array([len(t)]), np.array([period]))[0])


def _cycle_nadirs(
    t: np.ndarray, anc: np.ndarray, lengths: np.ndarray, period: np.ndarray, tmin: np.ndarray
) -> list[np.ndarray]:
    """Per series, the flat indices of the lowest count (the earliest of equal ones) in each window of one
    period centred on a fitted minimum inside the observed span; t ascending within each series."""
    of = _series_of(lengths)
    k = np.floor((t - tmin[of] + period[of] / 2.0) / period[of]).astype(np.int64)
    order = np.lexsort((t, anc, k, of))
    ko, so = k[order], of[order]
    first = np.ones(len(order), bool)
    first[1:] = (ko[1:] != ko[:-1]) | (so[1:] != so[:-1])
    idx, cycle, series = order[first], ko[first], so[first]
    centre = tmin[series] + cycle * period[series]
    starts = _offsets(lengths)
    # A part-cycle at either end: its nadir was not observed.
    seen = (centre >= t[starts][series]) & (centre <= t[starts + lengths - 1][series])
    idx, series = idx[seen], series[seen]
    return np.split(idx, np.searchsorted(series, np.arange(1, len(lengths))))


def _treatment_interval(treatment_days: np.ndarray) -> float | None:
    d = np.unique(np.floor(treatment_days))
    return float(np.median(np.diff(d))) if len(d) >= 2 else None


def _limit_text(nadirs: list[CycleNadir]) -> str:
    """The lower limit the nadirs were judged against, in words: one number, a span, or none."""
    limits = sorted({n.lln for n in nadirs if n.lln is not None})
    missing = sum(n.lln is None for n in nadirs)
    if not limits:
        return "a lower limit (none applies to these counts, so none is counted as low)"
    text = f"{limits[0]:g} x 10^9/L" if len(limits) == 1 else f"their own lower limit ({limits[0]:g}-{limits[-1]:g})"
    return text + (f" ({missing} without a range, not counted as low)" if missing else "")


def _fap_text(fap: float) -> str:
    """A probability as people read it: below 1e-6 a number is false precision."""
    return "below 0.000001" if fap < 1e-6 else f"{fap:.2g}"


def detect(
    taken_at: np.ndarray,
    anc: np.ndarray,
    *,
    entry: float | np.ndarray = 1.5,
    treatment_dates: np.ndarray | None = None,
    params: CyclicParams | None = None,
) -> CyclicResult:
    """Test one patient's ANC series (datetime64 times, 10^9/L values) for a regular cycle.

    entry: the lower limit each cycle nadir must be below: one number for every count, or one per count
    (NaN where no range applies: that nadir is not counted as low). `follow` passes each specimen's LLN;
    the default 1.5 is the adult ANC limit (UpToDate; Dale's chronic idiopathic neutropenia review).
    treatment_dates: datetime64 dates of treatments (e.g. chemotherapy) for this patient, if known.
    """
    return detect_many(taken_at, anc, [len(anc)], entry=entry, treatment_dates=[treatment_dates], params=params)[0]


def detect_many(
    taken_at: np.ndarray,
    anc: np.ndarray,
    lengths: np.ndarray | list[int],
    *,
    entry: float | np.ndarray = 1.5,
    treatment_dates: list[np.ndarray | None] | None = None,
    params: CyclicParams | None = None,
) -> list[CyclicResult]:
    """`detect` for many patients at once: their series end to end, patient i holding `lengths[i]` counts
    (times in any order within a patient), and `treatment_dates[i]` the dates of patient i (or None).

    The same arithmetic as `detect`, done for all patients together: a screen tests thousands of patients,
    and a loop over them would cost more than their periodograms."""
    p = params or CyclicParams()
    lengths = np.asarray(lengths, np.int64)
    anc = np.asarray(anc, float)
    taken = np.asarray(taken_at, "datetime64[us]")
    if len(taken) != len(anc) or int(lengths.sum()) != len(anc):
        raise ValueError(f"{len(taken)} times and {len(anc)} counts for series of {int(lengths.sum())} in all")
    lln = np.broadcast_to(np.asarray(entry, float), anc.shape)
    treatments = [None] * len(lengths) if treatment_dates is None else list(treatment_dates)
    order = np.lexsort((anc, taken, _series_of(lengths)))
    taken, anc, lln = taken[order], anc[order], lln[order]
    starts = _offsets(lengths)
    span = np.zeros(len(lengths))  # days from each series' first count to its last
    found = lengths > 0
    span[found] = (taken[(starts + lengths - 1)[found]] - taken[starts[found]]) / np.timedelta64(1, "D")
    cost = lengths * (p.oversample * span / p.min_period_days + 2 + 7 * (p.weeks + 1))
    out: list[CyclicResult] = []
    for lo, hi in _batches(cost, PAIRS_PER_BATCH):
        a, b = int(starts[lo]), int(starts[hi - 1] + lengths[hi - 1])
        out += _detect_batch(taken[a:b], anc[a:b], lln[a:b], lengths[lo:hi], treatments[lo:hi], p)
    return out


NO_DATA = CyclicResult("no data", "no ANC values", Sampling(0, 0, 0.0, 0, False))


def _detect_batch(
    taken: np.ndarray, anc: np.ndarray, lln: np.ndarray, lengths: np.ndarray, treatments: list, p: CyclicParams
) -> list[CyclicResult]:
    """`detect_many` of series end to end, each in order of time (then value)."""
    out: list[CyclicResult] = [NO_DATA] * len(lengths)
    index = np.flatnonzero(lengths)
    if not len(index):
        return out
    lengths = lengths[index]
    of, starts = _series_of(lengths), _offsets(lengths)
    first = taken[starts]
    t = (taken - first[of]) / np.timedelta64(1, "D")
    day = taken.astype("datetime64[D]")
    day0 = day[starts]
    samplings = _samplings((day - day0[of]).astype(float), lengths, p, day0.tolist())  # weeks count calendar days
    y = np.log(anc + p.log_offset)
    flat = np.maximum.reduceat(y, starts) == np.minimum.reduceat(y, starts)
    tested = np.array([s.protocol_met for s in samplings]) & ~flat
    keep = np.repeat(tested, lengths)
    period, strength, fap = _peaks(t[keep], y[keep], lengths[tested], p)
    rhythm = fap < p.alpha
    keep[keep] = np.repeat(rhythm, lengths[tested])
    r = (lengths[tested][rhythm], period[rhythm], first[tested][rhythm])
    nadirs = iter(_nadirs(t[keep], anc[keep], y[keep], lln[keep], *r))
    peaks = iter(zip(period.tolist(), strength.tolist(), fap.tolist(), strict=True))
    for j, (i, s, is_flat) in enumerate(zip(index.tolist(), samplings, flat.tolist(), strict=True)):
        if not s.protocol_met:
            out[i] = _unsampled(s, p)
        elif is_flat:
            out[i] = CyclicResult("not cyclic", "every ANC has the same value; there is no rhythm to find", s)
        else:
            per, z, fp = next(peaks)
            base = dict(sampling=s, period_days=round(per, 2), strength=round(z, 4), false_alarm_probability=fp)
            out[i] = (
                _chance(per, p, base) if fp >= p.alpha else _rhythm(per, next(nadirs), first[j], treatments[i], p, base)
            )
    return out


def _peaks(t: np.ndarray, y: np.ndarray, lengths: np.ndarray, p: CyclicParams) -> tuple[np.ndarray, ...]:
    """Each series' strongest period (days), its power and Baluev's false-alarm bound; t from 0, ascending."""
    if not len(lengths):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    starts = _offsets(lengths)
    f, m = _frequencies(t[starts + lengths - 1], p)
    power = _powers(t, y, lengths, 2.0 * np.pi * f, m)
    peak = _first_maxima(power, m)
    tc = t - _means(t, lengths)[_series_of(lengths)]
    fap = _bounds(power[peak], lengths, 1.0 / p.min_period_days, _means(tc * tc, lengths))
    return 1.0 / f[peak], power[peak], fap


def _nadirs(
    t: np.ndarray,
    anc: np.ndarray,
    y: np.ndarray,
    lln: np.ndarray,
    lengths: np.ndarray,
    period: np.ndarray,
    first: np.ndarray,
) -> list[list[CycleNadir]]:
    """Each series' cycle nadirs, with the lower limit each was judged against (None where none applies)."""
    if not len(lengths):
        return []
    cycles = _cycle_nadirs(t, anc, lengths, period, _minimum_phases(t, y, lengths, period))
    out = []
    for idx, t0 in zip(cycles, first.astype(dt.datetime).tolist(), strict=True):
        out.append(
            [
                CycleNadir(t0 + dt.timedelta(days=at), a, None if math.isnan(x) else x)
                for at, a, x in zip(t[idx].tolist(), anc[idx].tolist(), lln[idx].tolist(), strict=True)
            ]
        )
    return out


def _unsampled(s: Sampling, p: CyclicParams) -> CyclicResult:
    protocol = f"at least {p.counts_per_week} counts a week for {p.weeks} weeks (SCNIR protocol)"
    return CyclicResult(
        "insufficient data",
        f"{s.n_counts} count(s) on {s.n_days} day(s) over {s.span_days:.0f} days; at most {s.best_weeks}"
        f" consecutive week(s) had {p.counts_per_week} or more. Cyclic neutropenia needs {protocol}.",
        s,
    )


def _chance(period: float, p: CyclicParams, base: dict) -> CyclicResult:
    fap = base["false_alarm_probability"]
    return CyclicResult(
        "not cyclic",
        f"no rhythm stronger than chance: the strongest period, {period:.1f} days, has a false-alarm"
        f" probability of {fap:.2g} (needs < {p.alpha:g}).",
        **base,
    )


def _rhythm(
    period: float, nadirs: list[CycleNadir], t0: np.datetime64, treatment_dates, p: CyclicParams, base: dict
) -> CyclicResult:
    """The verdict on a rhythm stronger than chance: are its nadirs low, and does a treatment explain it?"""
    low = [n for n in nadirs if n.low]
    full = dict(base, nadirs=tuple(nadirs))
    limit = _limit_text(nadirs)
    if len(low) < 2 or 2 * len(low) < len(nadirs):
        return CyclicResult(
            "not cyclic",
            f"the counts rise and fall every {period:.1f} days, but only {len(low)} of {len(nadirs)} cycle"
            f" nadirs are below {limit}; cyclic neutropenia needs a neutropenic nadir in each cycle.",
            **full,
        )
    severe = sum(n.value < 0.2 for n in nadirs)  # SCNIR: nadirs typically < 0.2 x 10^9/L
    depth = f"{len(low)} of {len(nadirs)} cycle nadirs below {limit}, {severe} below 0.2 x 10^9/L"
    interval = None
    if treatment_dates is not None and len(treatment_dates):
        td = (np.asarray(treatment_dates, "datetime64[us]") - t0) / np.timedelta64(1, "D")
        interval = _treatment_interval(td)
        tol = max(p.treatment_tolerance_days, p.treatment_tolerance_fraction * period)
        if interval is not None and abs(interval - period) <= tol:
            return CyclicResult(
                "explained by treatment",
                f"the ANC falls and recovers every {period:.1f} days ({depth}), matching treatment given every"
                f" {interval:.0f} days: this is the expected effect of cyclic treatment, not cyclic neutropenia.",
                treatment_interval_days=interval,
                **full,
            )
    note = (
        (f"treatment dates were given (every {interval:.0f} days) but do not match the cycle",)
        if interval is not None
        else (
            "if this person has treatment in cycles (e.g. chemotherapy), give its dates: it can cause the same pattern",
        )
    )
    return CyclicResult(
        "cyclic",
        f"the ANC falls and recovers every {period:.1f} days ({depth}); false-alarm probability"
        f" {_fap_text(base['false_alarm_probability'])}. This pattern fits cyclic neutropenia; a haematologist"
        " confirms it.",
        treatment_interval_days=interval,
        notes=note,
        **full,
    )


__all__ = [
    "VERDICTS",
    "CycleNadir",
    "CyclicParams",
    "CyclicResult",
    "Sampling",
    "baluev_fap",
    "detect",
    "detect_many",
    "gls_power",
]
