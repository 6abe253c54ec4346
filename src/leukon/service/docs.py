"""API reference at /docs, rendered here from the OpenAPI description: no Swagger UI from a CDN, so the
docs work offline and under the same Content-Security-Policy as the page."""

from __future__ import annotations

import json
from html import escape

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse


def _schema(spec: dict, schema: dict) -> dict:
    """The schema a $ref points at (components/schemas), or the schema itself."""
    ref = schema.get("$ref", "")
    return spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], schema) if ref else schema


def _fields(spec: dict, schema: dict) -> str:
    props = _schema(spec, schema).get("properties", {})
    if not props:
        return ""
    rows = "".join(
        f"<tr><th scope='row'><code>{escape(name)}</code></th><td>{escape(p.get('description', ''))}</td></tr>"
        for name, p in props.items()
    )
    return f"<table class='data'><thead><tr><th scope='col'>field</th><th scope='col'>meaning</th></tr></thead>{rows}</table>"


def _operation(doc: dict, path: str, method: str, op: dict) -> str:
    out = [f'<section class="op"><h2><code>{escape(method.upper())} {escape(path)}</code></h2>']
    if op.get("summary"):
        out.append(f"<p><strong>{escape(op['summary'])}</strong></p>")
    if op.get("description"):
        out += [f"<p>{escape(p)}</p>" for p in op["description"].split("\n\n")]
    body = op.get("requestBody", {}).get("content", {})
    for media, body_spec in body.items():
        out.append(f"<h3>Request body ({escape(media)})</h3>")
        schema = _schema(doc, body_spec.get("schema", {}))
        example = (schema.get("examples") or [None])[0]
        if example is not None:
            out.append(f"<pre>{escape(json.dumps(example, indent=2, ensure_ascii=False))}</pre>")
        out.append(_fields(doc, schema))
    codes = ", ".join(f"{escape(c)} {escape(r.get('description', ''))}" for c, r in op.get("responses", {}).items())
    out.append(f"<p>Responses: {codes}</p></section>")
    return "".join(out)


def render(spec: dict) -> str:
    """The reference page for an OpenAPI document."""
    info = spec.get("info", {})
    ops = [_operation(spec, p, m, op) for p, item in spec.get("paths", {}).items() for m, op in item.items()]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(info.get('title', 'API'))} API</title>"
        '<link rel="stylesheet" href="/static/style.css"></head><body><main class="docs">'
        f"<h1>{escape(info.get('title', 'API'))} API {escape(info.get('version', ''))}</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        '<p>The machine-readable description: <a href="/openapi.json">/openapi.json</a>. Errors are '
        "<code>application/problem+json</code> (RFC 9457) with a <code>field</code> naming the input at fault.</p>"
        + "".join(ops)
        + "</main></body></html>"
    )


def mount(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(render(request.app.openapi()))
