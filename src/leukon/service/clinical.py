"""The clinical-system endpoints: FHIR ``$assess`` and CDS Hooks, over the pure functions of
`leukon.outputs.cds_hooks` and `leukon.outputs.fhir` (nothing here reads a count or writes a card).

    POST /fhir/$assess                 a FHIR R4 Bundle (or DiagnosticReport) -> the assessment as a FHIR Bundle
    GET  /cds-services                 CDS Hooks discovery
    POST /cds-services/{service_id}    patient-view or order-sign -> cards

What the message held but could not be used (a preliminary result, a censored value) is not dropped:
it comes back as an OperationOutcome entry in the Bundle, one issue a result.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from leukon.errors import InputError
from leukon.outputs import cds_hooks
from leukon.outputs.fhir import to_fhir
from leukon.pipelines.assess import assess_mapping
from leukon.sources.fhir import read_fhir_cbc

from .api import json_response
from .auth import require_token
from .problems import PROBLEM_RESPONSES, from_error

FHIR_JSON = "application/fhir+json"

router = APIRouter(responses=PROBLEM_RESPONSES)
FhirDocument = Annotated[
    dict[str, Any],
    Body(
        description="a FHIR R4 Bundle (collection, searchset, transaction) or a DiagnosticReport with its results",
        examples=[{"resourceType": "Bundle", "type": "collection", "entry": []}],
    ),
]


def _outcome(rejects: list[dict], notes: list[str]) -> dict | None:
    issues = [
        {"severity": "warning", "code": "processing", "diagnostics": f"not used: {r['reason']}"} for r in rejects
    ] + [{"severity": "information", "code": "informational", "diagnostics": n} for n in notes]
    return {"resourceType": "OperationOutcome", "issue": issues} if issues else None


def fhir_assess(document: dict) -> dict:
    """The latest CBC in `document`, assessed and returned as a FHIR Bundle (as `leukon assess --fhir --output fhir`)."""
    if document.get("resourceType") not in ("Bundle", "DiagnosticReport", "Observation"):
        raise InputError("resourceType", "send a FHIR Bundle, DiagnosticReport or Observation as JSON")
    cbc = read_fhir_cbc(document)
    result = assess_mapping(cbc.values, **cbc.options)
    bundle = to_fhir(result, effective=cbc.taken_at, patient_id=cbc.patient_id)
    outcome = _outcome(cbc.rejects, cbc.notes)
    if outcome is not None:
        bundle["entry"].append({"resource": outcome})
    return bundle


@router.post("/fhir/$assess", summary="Assess the latest CBC in a FHIR Bundle", dependencies=[Depends(require_token)])
async def fhir_assess_route(document: FhirDocument) -> Response:
    """Reads the Bundle with the same adapter as `leukon screen --format fhir`; answers a collection Bundle
    with the values (interpreted, with their reference ranges), one Observation per grade, a
    DiagnosticReport, and an OperationOutcome listing whatever was not used."""
    bundle = await run_in_threadpool(fhir_assess, document)
    return json_response(bundle, FHIR_JSON)


@router.get("/cds-services", summary="CDS Hooks discovery")
async def cds_discovery() -> dict:
    """The two services, patient-view and order-sign, with their prefetch templates."""
    return cds_hooks.discovery()


HOOKS = {cds_hooks.PATIENT_VIEW_ID: cds_hooks.patient_view, cds_hooks.ORDER_SIGN_ID: cds_hooks.order_sign}


@router.post("/cds-services/{service_id}", summary="Call a CDS Hooks service", dependencies=[Depends(require_token)])
async def cds_call(service_id: str, request: Annotated[dict[str, Any], Body()]) -> Response:
    """A hook request (hook, hookInstance, context, prefetch) -> {"cards": [...]}. A request without the
    prefetch is answered 412, as the CDS Hooks specification asks when the service will not fetch the data."""
    hook = HOOKS.get(service_id)
    if hook is None:
        raise HTTPException(404, f"service_id: no CDS service {service_id!r}; see GET /cds-services")
    try:
        cards = await run_in_threadpool(hook, request)
    except InputError as e:
        if e.field != "prefetch":
            raise
        return from_error(e, status=412)
    return json_response(cards)


def mount(app: FastAPI) -> None:
    app.include_router(router)
