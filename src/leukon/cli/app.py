"""The `leukon` command: the top-level parser, the list of sub-commands and the one error handler.

Each sub-command is a module in `COMMANDS` with ``register(subparsers)``; its parser sets ``run=fn``
through `command`, so every command, however it is called, fails the same way:

- a `LeukonError` (bad input a person can fix): one line naming the field, exit 2;
- Ctrl-C: "interrupted, nothing written", exit 130 (commands that write finish or discard as a whole); a command
  that streams to standard output (`follow`) says that what it printed is incomplete instead;
- a closed pipe (``leukon ... | head``): quiet, exit 0;
- anything else is a bug: one line, exit 1, and the traceback with ``LEUKON_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

EXIT_OK = 0
EXIT_BUG = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

#: Sub-command modules, in the order `leukon --help` lists them. Adding a command = one entry here; the module
#: `leukon.cli.NAME` registers the command NAME (`build_parser(only=NAME)` relies on it), and imports its heavy
#: dependencies (Polars, rich, uvicorn) inside the functions that run, not at module level.
COMMANDS: tuple[str, ...] = (
    "leukon.cli.demo",
    "leukon.cli.assess",
    "leukon.cli.grade",
    "leukon.cli.screen",
    "leukon.cli.follow",
    "leukon.cli.report",
    "leukon.cli.explain",
    "leukon.cli.synth",
    "leukon.cli.serve",
)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) that point at the command's own --help."""

    def error(self, message: str):
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def handle(fn: Callable[[], int | None], *, prog: str = "leukon") -> int:
    """Run `fn` under the one error policy of the command line (module docstring) and return the exit code.

    Messages start with `prog` ("leukon follow: error: ..."), as argparse's own errors do."""
    _streaming.clear()
    try:
        return int(fn() or 0)
    except SystemExit as e:  # argparse: --help, --version and one-line usage errors
        return e.code if isinstance(e.code, int) else EXIT_INPUT
    except KeyboardInterrupt as e:
        _say(prog, f"interrupted: {_streaming[-1]} is incomplete" if _streaming else "interrupted, nothing written")
        if isinstance(e, WorkerInterrupted):
            _leave(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except Exception as e:
        from leukon.errors import LeukonError

        if isinstance(e, LeukonError):
            _say(prog, f"error: {_one_line(e)}")
            return EXIT_INPUT
        if os.environ.get("LEUKON_DEBUG", "0") not in ("", "0"):
            raise
        _say(prog, f"internal error: {type(e).__name__}: {_one_line(e)} (set LEUKON_DEBUG=1 for the traceback)")
        return EXIT_BUG


def command(name: str, fn: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """`fn(args)` wrapped in `handle`, for ``parser.set_defaults(run=command("follow", fn))``."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        from leukon.cli.arguments import load_profiles  # --profiles FILE is registered before any command runs

        return handle(lambda: fn(load_profiles(args)), prog=f"leukon {name}")

    return run


def build_parser(only: str | None = None) -> Parser:
    """The `leukon` parser with every sub-command in `COMMANDS` registered, or only the command `only`.

    Registering imports the command's module; a command run from the terminal registers only itself, so
    `leukon assess` never imports what `screen` or `serve` need (Polars, uvicorn) just to build its parser."""
    from leukon import __version__

    parser = Parser(prog="leukon", description="White-cell cytopenias from complete blood counts, with reasons.")
    parser.add_argument("--version", action="version", version=f"leukon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS if only is None else (f"leukon.cli.{only}",):
        importlib.import_module(name).register(sub)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line (the first word not an option), if it is one of `COMMANDS`;
    None (register them all) for ``--help``, no command or an unknown word, so those list every command."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word is not None and f"leukon.cli.{word}" in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """The `leukon` entry point: parse, run the sub-command, return its exit code.

    The command gives its own process the memory settings of `leukon.cli.memory` (before NumPy and Polars are
    imported); the library never sets them, so an importing program keeps its own settings.
    """
    from leukon.cli.memory import set_command_env

    if argv is None:
        argv = sys.argv[1:]
    set_command_env()

    def run() -> int:
        parser = build_parser(_chosen(argv))
        args, extra = parser.parse_known_args(argv)
        if extra:  # argparse reports them from the top-level parser; point at the command's own help
            sub = next(a for a in parser._actions if a.dest == "command").choices.get(getattr(args, "command", None))
            (sub or parser).error(f"unrecognized arguments: {' '.join(extra)}")
        if getattr(args, "run", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_INPUT
        return args.run(args)

    return handle(run)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__


def _say(prog: str, message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"{prog}: {message}", file=sys.stderr, flush=True)


class WorkerInterrupted(KeyboardInterrupt):
    """Ctrl-C while a worker thread computed (`leukon screen`): Polars may still be running a query of it on its own
    threads, calling back into Python, and an interpreter shutting down under them makes Polars print a panic after
    the message. `handle` reports it and ends the process at once; the run's staged files are already gone."""


#: What a command is streaming to standard output (`streaming_output`), so that Ctrl-C then says it is cut short.
_streaming: list[str] = []


@contextlib.contextmanager
def streaming_output(what: str = "the output") -> Iterator[None]:
    """Ctrl-C inside this block is reported as "interrupted: <what> is incomplete" (a result written to standard
    output as it comes), not "nothing written". The mark stays when the block ends by an exception: Polars can
    raise a second KeyboardInterrupt while the first unwinds, before any handler here could run."""
    _streaming.append(what)
    yield
    _streaming.pop()


def _leave(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
