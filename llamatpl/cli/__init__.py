"""The ``llamatpl`` command: each subcommand (one module each) parses options, calls one library
function, hands the result to a formatter and returns an exit code. Library errors become one line
on stderr and exit 2, here at the edge.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from ..errors import EXIT_ERROR, LlamatplError, UsageError
# Each module registers its command on app; importing them in this order is the order --help lists.
from . import render, verify, lint, caps, diff, parse, prepare, export, playground  # noqa: F401  # isort: skip
from .app import app

__all__ = ["app", "main"]


_MAIN_PID = os.getpid()
_UNWINDING = ("SIGTERM", "SIGHUP")


def _default_signals() -> None:
    for name in _UNWINDING:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP unwind the command like Ctrl-C, so no half-written output file stays behind; a
    forked worker process dies of the signal as it would by default (its parent cleans up)."""
    if os.getpid() != _MAIN_PID:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: run the app; turn library errors into one line on stderr and an exit code.

    Usage mistakes (an unknown option, a missing argument) are click's own: the command's usage
    line, the error, exit 2. Options the library finds incompatible read the same way.
    """
    for name in _UNWINDING:  # what schedulers, `timeout` and a closed terminal send
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _interrupt)
    os.register_at_fork(after_in_child=_default_signals)  # worker processes die of them, holding no lock
    try:
        app(standalone_mode=True, prog_name="llamatpl")
    except UsageError as exc:
        command = next((a for a in sys.argv[1:] if not a.startswith("-")), "COMMAND")
        sys.stderr.write(f"Usage: llamatpl {command} [OPTIONS] ...\n"
                         f"Try 'llamatpl {command} --help' for help.\n\nError: {exc.message}\n")
        sys.exit(exc.exit_code)
    except LlamatplError as exc:
        sys.stderr.write(f"{exc.message}\n")
        sys.exit(exc.exit_code)
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(EXIT_ERROR)
    except UnicodeEncodeError as exc:  # a lone surrogate (a "\ud800" JSON escape) reached the output
        sys.stderr.write(f"llamatpl: the result holds {exc.object[exc.start:exc.end]!r}, a lone surrogate that "
                         "UTF-8 cannot write: the input has an unpaired \\uD800-\\uDFFF escape\n")
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - the edge where nothing may escape as a traceback
        if os.environ.get("LLAMATPL_DEBUG"):
            raise
        sys.stderr.write(f"llamatpl: internal error: {type(exc).__name__}: {exc} "
                         "(set LLAMATPL_DEBUG=1 for the traceback)\n")
        sys.exit(EXIT_ERROR)
