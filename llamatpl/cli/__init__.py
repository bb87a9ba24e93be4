"""The ``llamatpl`` command: each subcommand (one module each) parses options, calls one library
function, hands the result to a formatter and returns an exit code. Library errors become one line
on stderr and exit 2, here at the edge.
"""

from __future__ import annotations

import os
import sys

from ..errors import EXIT_ERROR, EXIT_OK, LlamatplError, UsageError
# Each module registers its command on app; importing them in this order is the order --help lists.
from . import render, verify, lint, caps, diff, parse, prepare, export  # noqa: F401  # isort: skip
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: run the app; turn library errors into one line on stderr and an exit code."""
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        sys.stderr.write(f"llamatpl: usage error: {exc.message} (see llamatpl COMMAND --help)\n")
        sys.exit(exc.exit_code)
    except LlamatplError as exc:
        sys.stderr.write(f"{exc.message}\n")
        sys.exit(exc.exit_code)
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - the edge where nothing may escape as a traceback
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(EXIT_ERROR)
        if os.environ.get("LLAMATPL_DEBUG"):
            raise
        sys.stderr.write(f"llamatpl: internal error: {type(exc).__name__}: {exc} "
                         "(set LLAMATPL_DEBUG=1 for the traceback)\n")
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
