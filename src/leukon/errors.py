"""The exceptions leukon raises.

Every error names the field at fault and what to do about it, in one line::

    LeukonError
    ├── InputError            a value, unit, age or file a person supplied is unusable
    │   └── UnitError         a unit that is unknown or does not fit the analyte
    └── CriteriaError         a scheme or term that does not exist, or a broken criteria file
        ├── UnknownSchemeError
        └── UnknownTermError

`InputError.field` holds the field's name so that a CLI or a web service can point at it.
"""

from __future__ import annotations


class LeukonError(Exception):
    """Base class of every error leukon raises on purpose."""


class InputError(LeukonError, ValueError):
    """A value supplied by the caller cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class UnitError(InputError):
    """A unit leukon does not know, or one that does not fit the analyte (mg/dL for a count)."""


class CriteriaError(LeukonError, ValueError):
    """A grading scheme, term or criteria file that does not exist or does not validate."""


class UnknownSchemeError(CriteriaError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownTermError(CriteriaError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def did_you_mean(name: str, choices: list[str]) -> str:
    """Suffix for an error about an unknown name: the closest valid choice, then all of them."""
    import difflib

    close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=1, cutoff=0.5)
    hint = ""
    if close:
        hint = f" Did you mean {next(c for c in choices if c.lower() == close[0])!r}?"
    return f"{hint} Valid: {', '.join(repr(c) for c in choices)}."
