"""The `leukon` command: one module per sub-command, one error handler (`main`)."""

from leukon.cli.app import main

__all__ = ["main"]
