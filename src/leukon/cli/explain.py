"""The `leukon explain TERM` sub-command, and the options `leukon assess --explain` uses.

`leukon assess` calls `add_explain_options(p)` on its parser and, after the assessment,
`print_explanation(result, args)` (or puts `explanation_from_args(result, args).to_dict()` under
"explanation" in its JSON).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from leukon.cli.app import command
from leukon.knowledge import AUDIENCES

if TYPE_CHECKING:  # rich and the renderers are imported when an explanation is printed (fast `leukon assess`)
    from rich.console import Console

    from leukon.knowledge.model import Explanation
    from leukon.pipelines.assess import Assessment


def register(subparsers) -> None:
    """Add ``explain TERM [--audience patient|clinician] [--json]`` to the leukon command."""
    p = subparsers.add_parser(
        "explain",
        help="explain a term: neutropenia, 'leukopenia vs neutropenia', filgrastim ...",
        description="Answer a question from leukon's notes, e.g. 'what is neutropenia?' or 'leukopenia vs neutropenia'.",
    )
    p.add_argument("term", nargs="+", help="a term or a short question")
    p.add_argument("--audience", choices=AUDIENCES, default="patient")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command("explain", run))


def run(args: argparse.Namespace) -> int:
    """Print the answer to one term or question, or a one-line error with the closest topics."""
    from leukon.knowledge.topics import explain_topic

    term = " ".join(args.term)
    e = explain_topic(term, audience=args.audience)  # UnknownTopicError: one line with the nearest topics
    _print(e, as_json=args.json)
    return 0


def add_explain_options(parser: argparse.ArgumentParser) -> None:
    """``--explain [--audience patient|clinician] [--medicine X]... [--condition Y]...`` for `leukon assess`."""
    g = parser.add_argument_group("explanation")
    g.add_argument("--explain", action="store_true", help="explain the result in words")
    g.add_argument("--audience", choices=AUDIENCES, default="patient", help="who the explanation is for")
    g.add_argument("--medicine", action="append", default=[], metavar="NAME",
                   help="a medicine the person takes (repeatable), e.g. 'Clozaril 100 mg'")  # fmt: skip
    g.add_argument("--condition", action="append", default=[], metavar="NAME",
                   help="a condition the person has (repeatable), e.g. HIV")  # fmt: skip


def explanation_from_args(assessment: Assessment, args: argparse.Namespace) -> Explanation:
    """The explanation the `add_explain_options` flags ask for."""
    from leukon.knowledge.explanations import explain

    return explain(
        assessment,
        audience=getattr(args, "audience", "patient"),
        medicines=getattr(args, "medicine", None) or (),
        conditions=getattr(args, "condition", None) or (),
    )


def print_explanation(assessment: Assessment, args: argparse.Namespace, console: Console | None = None) -> None:
    """Print the explanation (rich text, or JSON when ``args.json`` is set) if ``args.explain`` asks for it."""
    if not getattr(args, "explain", False):
        return
    _print(explanation_from_args(assessment, args), as_json=bool(getattr(args, "json", False)), console=console)


def _print(e: Explanation, *, as_json: bool, console: Console | None = None) -> None:
    from leukon.cli import terminal
    from leukon.outputs.explanation_text import WIDTH, render

    if as_json:
        print(json.dumps(e.to_dict(), ensure_ascii=False, indent=2))
    else:
        (console or terminal.console(max_width=WIDTH)).print(render(e))
