"""Load FHIR R4 JSON (a resource, a Bundle, bulk-export NDJSON or a folder of them) and validate it.

Every resource is validated on its own against the R4B models of `fhir.resources` (R4B shares R4's
Observation, DiagnosticReport, Patient and Bundle structure), so one malformed entry becomes one reject
with the model's message instead of failing the whole Bundle. After validation the adapter reads the
resource's JSON fields by their specification names, knowing they have the right shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from leukon.errors import InputError

#: Resource types the adapter reads; everything else in a Bundle (Encounter, Practitioner, ...) is counted
#: in the run notes and otherwise skipped, since it carries no result.
READ_TYPES = ("Observation", "DiagnosticReport", "Patient")
#: Bundle.type codes of FHIR R4 (BundleType, a required binding).
BUNDLE_TYPES = ("document", "message", "transaction", "transaction-response", "batch", "batch-response", "history",
                "searchset", "collection")  # fmt: skip


@dataclass(slots=True)
class Loaded:
    """One resource as found: its JSON, where it was (for reasons), its Bundle fullUrl, and validity."""

    resource: dict
    where: str
    full_url: str | None = None
    invalid: str | None = None  # the validation message, or None when the resource is valid


@dataclass
class Document:
    """All resources of an input, in reading order, and the inputs that were not resources at all."""

    resources: list[Loaded] = field(default_factory=list)
    broken: list[tuple[str, str]] = field(default_factory=list)  # (where, reason): malformed NDJSON lines
    skipped: dict[str, int] = field(default_factory=dict)  # resource type -> count


def validation_error(resource: dict) -> str | None:
    """None when `resource` is a valid R4 resource of its type; else the first problem, in one line."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    rtype = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(rtype))
    except (KeyError, ValueError):
        return f"unknown resourceType {rtype!r}"
    try:
        model.model_validate(resource)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__") or "resource"
        return f"{loc}: {err.get('msg', 'invalid')}".replace("\n", " ")
    return None


def load(spec: str | Path | dict) -> Document:
    """Read `spec`: a path to a JSON or NDJSON file, a folder of them, or an already parsed JSON object."""
    doc = Document()
    if isinstance(spec, dict):
        _add(doc, spec, "input")
        return doc
    path = Path(spec)
    if not path.exists():
        raise InputError("input", f"{path} does not exist; give a FHIR JSON or NDJSON file, or a folder of them")
    files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".ndjson")) if path.is_dir() else [path]
    if not files:
        raise InputError("input", f"{path} holds no .json or .ndjson file")
    for f in files:
        _read_file(doc, f)
    return doc


def _read_file(doc: Document, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("input", f"{path} is not UTF-8 text; FHIR JSON must be UTF-8") from None
    stripped = text.strip()
    if not stripped:
        raise InputError("input", f"{path} is empty; give a FHIR Bundle, resource or NDJSON file")
    if not stripped.startswith("{"):
        raise InputError("input", f"{path} is not FHIR JSON (it does not start with '{{'); give a Bundle or NDJSON")
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError as e:
        if not _is_ndjson(stripped):
            raise InputError(
                "input", f"{path.name}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}"
            ) from None
        _read_ndjson(doc, path, text)  # one resource a line (bulk export): a bad line is one reject, not fatal
        return
    _add(doc, whole, path.name)


def _is_ndjson(text: str) -> bool:
    """More than one line, the first a whole JSON object: NDJSON, as the FHIR bulk data export writes it."""
    lines = [x for x in text.splitlines() if x.strip()]
    if len(lines) < 2:
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except json.JSONDecodeError:
        return False


def _read_ndjson(doc: Document, path: Path, text: str) -> None:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            doc.broken.append((where, f"malformed JSON on {where}, column {e.colno}: {e.msg}"))
            continue
        if not isinstance(obj, dict):
            doc.broken.append((where, f"{where} is not a JSON object; NDJSON holds one resource a line"))
            continue
        _add(doc, obj, where)


def _add(doc: Document, obj: dict, where: str, full_url: str | None = None) -> None:
    rtype = obj.get("resourceType")
    if rtype is None:
        raise InputError("resourceType", f"{where}: a JSON object without resourceType is not a FHIR resource")
    if rtype == "Bundle":
        _add_bundle(doc, obj, where)
        return
    if rtype not in READ_TYPES:
        doc.skipped[str(rtype)] = doc.skipped.get(str(rtype), 0) + 1
        return
    doc.resources.append(Loaded(obj, where, full_url, validation_error(obj)))


def _add_bundle(doc: Document, bundle: dict, where: str) -> None:
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    problem = validation_error(shell)
    if problem is None and shell.get("type") not in BUNDLE_TYPES:  # a required binding the models leave open
        problem = f"type {shell.get('type')!r} is not one of {', '.join(BUNDLE_TYPES)}"
    if problem:
        raise InputError("Bundle", f"{where}: not a valid FHIR R4 Bundle ({problem})")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("Bundle.entry", f"{where}: entry must be a list of entries")
    for i, entry in enumerate(entries):
        here = f"{where} entry {i}"
        if not isinstance(entry, dict):
            doc.broken.append((here, f"{here} is not a JSON object"))
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and "resourceType" not in resource:
            doc.broken.append((here, f"{here}: a resource without resourceType is not a FHIR resource"))
        elif isinstance(resource, dict):
            _add(doc, resource, here, entry.get("fullUrl"))
        elif resource is not None:
            doc.broken.append((here, f"{here}: resource is not a JSON object"))
        # An entry without a resource (a DELETE in a transaction, a search link) carries no result.
