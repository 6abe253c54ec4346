"""FHIR and HL7 v2 reading throughput, against the long CSV of the same results read in the same process.

Writes N CBC reports (WBC, ANC, haemoglobin, platelets) three ways: bulk-export NDJSON (one
DiagnosticReport with contained Observations a line), an HL7 v2 ORU^R01 file (one message a CBC) and a long
CSV. Each is read by its adapter and collected (measurements and rejects); the ratio to the CSV says what
the message formats cost over the table path. Also shown: FHIR without validation, to separate the
fhir.resources model validation from leukon's own walk. Run: .venv/bin/python benchmarks/bench_messages.py [--reports 2000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from unittest import mock

from leukon.sources import read

VALUES = (("6690-2", "wbc", 4.6, "10*3/uL"), ("751-8", "anc", 0.9, "10*3/uL"), ("718-7", "hemoglobin", 13.2, "g/dL"),
          ("777-3", "platelets", 250.0, "10*3/uL"))  # fmt: skip


def write(folder: Path, n: int) -> dict[str, Path]:
    ndjson, hl7, csv = folder / "reports.ndjson", folder / "results.hl7", folder / "results.csv"
    with ndjson.open("w") as nd, hl7.open("w") as h, csv.open("w") as c:
        c.write("patient_id,specimen_id,taken_at,analyte,value,unit\n")
        for i in range(n):
            when = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z"
            contained = [
                {"resourceType": "Observation", "id": f"o{k}", "status": "final",
                 "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                 "valueQuantity": {"value": v + (i % 7) / 10, "unit": u, "system": "http://unitsofmeasure.org",
                                   "code": u}}
                for k, (code, _, v, u) in enumerate(VALUES)
            ]  # fmt: skip
            rep = {"resourceType": "DiagnosticReport", "id": f"r{i}", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
                   "subject": {"reference": f"Patient/p{i % 500}"}, "effectiveDateTime": when,
                   "contained": contained, "result": [{"reference": f"#o{k}"} for k in range(len(VALUES))]}  # fmt: skip
            nd.write(json.dumps(rep) + "\n")
            ts = when[:10].replace("-", "") + "0800"
            segs = [f"MSH|^~\\&|LIS|LAB|EHR|HOSP|{ts}||ORU^R01|M{i}|P|2.5.1", f"PID|1||p{i % 500}||X^Y||19700101|F",
                    f"OBR|1||S{i}|58410-2^CBC^LN|||{ts}"]  # fmt: skip
            for k, (code, analyte, v, u) in enumerate(VALUES, start=1):
                segs.append(f"OBX|{k}|NM|{code}^x^LN||{v + (i % 7) / 10:g}|{u}|||||F")
                c.write(f"p{i % 500},r{i},{when},{analyte},{v + (i % 7) / 10:g},{u}\n")
            h.write("\r".join(segs) + "\r")
    return {"long CSV (baseline)": csv, "FHIR NDJSON": ndjson, "HL7 v2 ORU": hl7}


def seconds(path: Path, fmt: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        src = read(path, format=fmt)
        m, r = src.collect()
        best = min(best, time.perf_counter() - t0)
    assert m.height + r.height >= 1
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        files = write(Path(d), args.reports)
        fmts = {"long CSV (baseline)": "long", "FHIR NDJSON": "fhir", "HL7 v2 ORU": "hl7v2"}
        times = {name: seconds(p, fmts[name], args.repeat) for name, p in files.items()}
        with mock.patch("leukon.sources._fhir_load.validation_error", return_value=None):
            times["FHIR NDJSON, validation off"] = seconds(files["FHIR NDJSON"], "fhir", args.repeat)
    base = times["long CSV (baseline)"]
    n = args.reports * len(VALUES)
    print(f"{args.reports} CBC reports, {n} results; best of {args.repeat}")
    print(f"{'input':32} {'seconds':>8} {'results/s':>10} {'x CSV':>7}")
    for name, t in times.items():
        print(f"{name:32} {t:8.3f} {n / t:10,.0f} {t / base:7.1f}")
    single()


def single(n: int = 200) -> None:
    """One report at the bedside: read + assess a DiagnosticReport, against `assess` on the same values."""
    import statistics

    from leukon import assess
    from leukon.pipelines.assess import assess_mapping
    from leukon.sources.fhir import read_fhir_cbc
    from leukon.sources.hl7v2 import read_hl7v2_cbc

    with tempfile.TemporaryDirectory() as d:
        files = write(Path(d), 1)
        report = json.loads(files["FHIR NDJSON"].read_text())
        message = files["HL7 v2 ORU"].read_text()

    def ms(fn) -> float:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
        return statistics.median(out)

    def fhir() -> None:
        c = read_fhir_cbc(report)
        assess_mapping(c.values, **c.options)

    def hl7() -> None:
        c = read_hl7v2_cbc("bench", text=message)
        assess_mapping(c.values, **c.options)

    values = {a: (v, u) for _, a, v, u in VALUES}
    base = ms(lambda: assess(**values))
    print(f"\none CBC, median of {n}: assess alone {base:.2f} ms")
    for name, fn in (("FHIR DiagnosticReport -> assess", fhir), ("HL7 v2 ORU -> assess", hl7)):
        t = ms(fn)
        print(f"{name:32} {t:8.2f} ms  x assess {t / base:6.1f}")


if __name__ == "__main__":
    main()
