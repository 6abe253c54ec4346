import datetime as dt

import numpy as np
import pytest

from leukon.course import CyclicParams, detect, follow
from leukon.course.cyclic import _phase_of_minimum, baluev_fap, check_sampling, detect_many, gls_power, periodogram

T0 = np.datetime64("2024-01-01T08:00", "us")


def at(days) -> np.ndarray:
    return T0 + (np.asarray(days, float) * 86_400e6).astype("timedelta64[us]")


@pytest.mark.parametrize("period", [21.0, 16.0])
def test_cycle_sampled_three_times_a_week_for_eight_weeks_is_detected(s, period):
    days = s.three_a_week(8)
    r = detect(at(days), s.cyclic_anc(days, period))
    assert r.verdict == "cyclic", r.reason
    assert abs(r.period_days - period) <= 2
    assert r.sampling.protocol_met and r.sampling.best_weeks >= 6
    assert r.false_alarm_probability < 1e-6 and 0 < r.strength <= 1
    low = [n for n in r.nadirs if n.value < 1.5]
    assert len(low) >= 2 and 2 * len(low) >= len(r.nadirs)
    assert any("chemotherapy" in n for n in r.notes)  # no treatment dates: says what could mimic it


def test_same_cycle_sampled_monthly_is_insufficient_data(s):
    days = list(range(0, 365, 30))
    r = detect(at(days), s.cyclic_anc(days))
    assert r.verdict == "insufficient data"
    assert r.period_days is None and r.nadirs == ()
    assert "3 counts a week for 6 weeks" in r.reason


def test_five_weeks_of_dense_sampling_is_not_enough(s):
    days = s.three_a_week(5)
    assert detect(at(days), s.cyclic_anc(days)).verdict == "insufficient data"


def test_noise_never_called_cyclic_in_100_seeds():
    calls = []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        # 3 random days in each of 10 weeks, at random hours: irregular, but meeting the protocol.
        days = np.concatenate([7 * w + np.sort(rng.choice(7, 3, replace=False)) for w in range(10)])
        days = days + rng.uniform(0, 0.4, len(days))
        for base in (3.5, 0.9):  # normal, and a steady neutropenia whose every count is low
            r = detect(at(days), base * np.exp(rng.normal(0, 0.3, len(days))))
            calls.append(r.verdict)
    assert "cyclic" not in calls
    assert calls.count("not cyclic") == 200  # the periodogram really ran on every series


def test_periodic_but_never_low_is_not_cyclic_neutropenia(s):
    days = s.three_a_week(8)
    anc = 4.0 * np.exp(0.3 * np.cos(2 * np.pi * np.asarray(days) / 21))
    r = detect(at(days), anc)
    assert r.verdict == "not cyclic" and r.false_alarm_probability < 0.001 and "nadirs" in r.reason


def test_chemotherapy_rhythm_is_explained_by_treatment(chemo, chemo_treatments):
    p = follow(chemo, "p1", treatments=chemo_treatments).patient("p1")
    assert p.cyclic.verdict == "explained by treatment"
    assert p.cyclic.treatment_interval_days == 21 and "not cyclic neutropenia" in p.cyclic.reason
    # Without the dates the same counts look cyclic, and the result says what to check.
    q = follow(chemo, "p1").patient("p1")
    assert q.cyclic.verdict == "cyclic" and "chemotherapy" in q.cyclic.notes[0]


def test_treatments_that_do_not_match_are_reported(s):
    days = s.three_a_week(8)
    r = detect(at(days), s.cyclic_anc(days), treatment_dates=at([0, 7, 14, 28]))
    assert r.verdict == "cyclic" and "do not match" in r.notes[0]


def test_constant_counts_and_no_counts():
    days = [7 * w + k for w in range(7) for k in (0, 2, 4)]
    assert detect(at(days), np.full(len(days), 1.0)).verdict == "not cyclic"
    assert detect(at([]), np.array([])).verdict == "no data"


def test_sampling_window_is_found_anywhere_in_the_series():
    sparse = [0, 30, 60]
    dense = [90 + 7 * w + k for w in range(6) for k in (0, 1, 3)]
    smp = check_sampling(np.asarray(sparse + dense, float), CyclicParams(), dt.date(2024, 1, 1))
    assert smp.protocol_met and smp.window_start == dt.date(2024, 3, 31)


def test_sampling_reads_days_in_any_order():
    days = np.asarray([90 + 7 * w + k for w in range(6) for k in (0, 1, 3)] + [0, 30, 60], float)
    ordered = check_sampling(np.sort(days), CyclicParams(), dt.date(2024, 1, 1))
    assert check_sampling(days, CyclicParams(), dt.date(2024, 1, 1)) == ordered
    assert check_sampling(np.repeat(np.sort(days), 2), CyclicParams(), dt.date(2024, 1, 1)).n_days == ordered.n_days


@pytest.mark.parametrize("seed", range(5))
def test_phase_of_minimum_is_the_least_squares_fit(seed):
    """The closed-form fit finds the minimum of the same sinusoid as a general least-squares solver."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 90, 30))
    y = np.cos(2 * np.pi * (t - 5.0) / 21) + rng.normal(0, 0.3, 30)
    w = 2 * np.pi / 21
    x = np.column_stack([np.ones_like(t), np.cos(w * t), np.sin(w * t)])
    _, a, b = np.linalg.lstsq(x, y, rcond=None)[0]
    want = ((np.arctan2(b, a) + np.pi) / w) % 21
    assert _phase_of_minimum(t, y, 21.0) == pytest.approx(want, abs=1e-9)
    # Every sample at one phase: no unique fit; the minimum-norm one, as the general solver gives.
    t1, y1 = np.full(5, 3.0), np.arange(5.0)
    x1 = np.column_stack([np.ones_like(t1), np.cos(w * t1), np.sin(w * t1)])
    _, a1, b1 = np.linalg.lstsq(x1, y1, rcond=None)[0]
    assert _phase_of_minimum(t1, y1, 21.0) == pytest.approx(((np.arctan2(b1, a1) + np.pi) / w) % 21, abs=1e-9)


def test_periodogram_power_is_the_fraction_of_variance_explained():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 60, 40))
    y = np.sin(2 * np.pi * t / 21) + rng.normal(0, 0.5, 40)
    periods, power = periodogram(t, y, CyclicParams())
    i = int(np.argmax(power))
    w = 2 * np.pi / periods[i]
    x = np.column_stack([np.ones_like(t), np.cos(w * t), np.sin(w * t)])
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    assert power[i] == pytest.approx(1 - resid @ resid / ((y - y.mean()) @ (y - y.mean())))


def test_baluev_bound_is_conservative_on_white_noise():
    # Under pure noise the bound must not call more than its nominal rate significant.
    hits = 0
    p = CyclicParams()
    for seed in range(300):
        rng = np.random.default_rng(1000 + seed)
        t = np.sort(rng.uniform(0, 60, 30))
        _, power = periodogram(t, rng.normal(size=30), p)
        fap = baluev_fap(float(power.max()), 30, 1 / p.min_period_days, t)
        assert 0 <= fap <= 1
        hits += fap < 0.05
    assert hits <= 0.05 * 300 + 5
    assert baluev_fap(0.9, 30, 0.1, np.linspace(0, 60, 30)) < baluev_fap(0.3, 30, 0.1, np.linspace(0, 60, 30))


@pytest.mark.parametrize("seed", range(40))
def test_power_is_scipys_generalised_lomb_scargle(seed):
    """The NumPy periodogram (Zechmeister & Kürster eq. 5) gives scipy's floating-mean, normalised power."""
    from scipy.signal import lombscargle

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    t = np.sort(rng.uniform(0, rng.uniform(20, 700), n))
    y = np.log(rng.lognormal(0, 1, n) + 0.1) + np.sin(2 * np.pi * t / rng.uniform(12, 36))
    omega = 2 * np.pi * np.linspace(1 / 36, 1 / 12, int(rng.integers(2, 300)))
    expected = lombscargle(t, y - y.mean(), omega, normalize=True, floating_mean=True)
    assert gls_power(t, y, omega) == pytest.approx(expected, abs=1e-9)


def _mixed_series(seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Series of every verdict: cyclic, noise, sparse, constant, empty, and a chemotherapy rhythm with its dates."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in rng.permutation(np.repeat(np.arange(6), 3)).tolist():
        days = np.concatenate([7 * w + np.sort(rng.choice(7, 3, replace=False)) for w in range(9)]) + rng.uniform(0, 1)
        if kind == 0:
            anc = np.exp(0.3 + 1.7 * np.cos(2 * np.pi * days / rng.uniform(14, 30)) + rng.normal(0, 0.25, len(days)))
        elif kind == 1:
            anc = 2.0 * np.exp(rng.normal(0, 0.3, len(days)))
        elif kind == 2:
            days = np.sort(rng.uniform(0, 300, 8))
            anc = rng.uniform(0.1, 4, 8)
        elif kind == 3:
            anc = np.full(len(days), 0.9)
        elif kind == 4:
            days, anc = np.array([]), np.array([])
        else:
            anc = np.exp(0.3 + 1.7 * np.cos(2 * np.pi * days / 21) + rng.normal(0, 0.25, len(days)))
        shuffle = rng.permutation(len(days))  # any order within a patient
        out.append((at(days[shuffle]), anc[shuffle], at(np.arange(0, 63, 21)) if kind == 5 else None))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_many_patients_at_once_get_each_patients_own_verdict(seed, monkeypatch):
    """`detect_many` (the screen's and `follow`'s path) gives every patient what `detect` gives them alone, in
    batches of any size."""
    from leukon.course import cyclic

    series = _mixed_series(seed)
    alone = [detect(t, a, treatment_dates=d).to_dict() for t, a, d in series]
    verdicts = {r["verdict"] for r in alone}
    assert {"cyclic", "not cyclic", "insufficient data", "no data", "explained by treatment"} <= verdicts
    args = (np.concatenate([t for t, _, _ in series]), np.concatenate([a for _, a, _ in series]))
    lengths = [len(a) for _, a, _ in series]
    for batch in (cyclic.PAIRS_PER_BATCH, 1, 5_000):
        monkeypatch.setattr(cyclic, "PAIRS_PER_BATCH", batch)
        together = detect_many(*args, lengths, treatment_dates=[d for _, _, d in series])
        assert [r.to_dict() for r in together] == alone


def test_many_patients_need_lengths_that_add_up():
    with pytest.raises(ValueError, match="series of 3"):
        detect_many(at([0, 1]), np.array([1.0, 2.0]), [3])


def test_each_patient_is_judged_with_their_own_treatment_dates(chemo, chemo_treatments):
    """Two patients with the same chemotherapy rhythm, treatment dates for one only: `follow` and the screen's
    patients table, which test all patients at once, give each their own verdict."""
    import polars as pl

    from leukon.course import patients_table

    twin = chemo.with_columns(pl.lit("p2").alias("patient_id"), (pl.col("specimen_id") + "-2").alias("specimen_id"))
    both = pl.concat([twin, chemo])  # p2's rows first: the order of the input does not matter
    r = follow(both, treatments=chemo_treatments)
    assert r.patient("p1").cyclic.verdict == "explained by treatment"
    assert r.patient("p2").cyclic.verdict == "cyclic" and r.patient("p2").cyclic.treatment_interval_days is None
    table = patients_table(both, treatments=chemo_treatments)
    assert dict(table.select("patient_id", "cyclic").iter_rows()) == {"p1": "explained by treatment", "p2": "cyclic"}


@pytest.mark.parametrize("dense_from", [1, 1 << 40])
@pytest.mark.parametrize("piece", [997, 1 << 21])
def test_long_and_short_series_sum_to_scipys_power_in_pieces_of_any_size(dense_from, piece, monkeypatch):
    """A long series' periodogram is summed as tables of counts x frequencies, a short one's as flat pairs, each
    in pieces of a bounded size: both ways, in any pieces, give scipy's power."""
    from scipy.signal import lombscargle

    from leukon.course import cyclic

    monkeypatch.setattr(cyclic, "DENSE_PAIRS", dense_from)
    monkeypatch.setattr(cyclic, "PAIRS_PER_BATCH", piece)
    rng = np.random.default_rng(dense_from % 7 + piece)
    t = np.sort(rng.uniform(0, 400, 150))
    y = np.log(rng.lognormal(0, 1, 150) + 0.1) + np.sin(2 * np.pi * t / 21)
    omega = 2 * np.pi * np.linspace(1 / 36, 1 / 12, 250)
    expected = lombscargle(t, y - y.mean(), omega, normalize=True, floating_mean=True)
    assert gls_power(t, y, omega) == pytest.approx(expected, abs=1e-9)


def test_a_long_series_gets_the_same_verdict_in_pieces_of_any_size(monkeypatch):
    """Years of daily counts: the periodogram runs in pieces (bounded memory), and the pieces change nothing."""
    from leukon.course import cyclic

    rng = np.random.default_rng(3)
    days = np.sort(rng.uniform(0, 3 * 365, 1500))
    anc = np.exp(0.3 + 1.7 * np.cos(2 * np.pi * days / 21) + rng.normal(0, 0.25, len(days)))
    whole = detect(at(days), anc)
    assert whole.verdict == "cyclic" and abs(whole.period_days - 21) < 0.5
    monkeypatch.setattr(cyclic, "PAIRS_PER_BATCH", 5_000)
    assert detect(at(days), anc) == whole
