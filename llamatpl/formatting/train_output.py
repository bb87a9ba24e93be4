"""What ``llamatpl prepare`` says on stderr: one line per skipped input line, one line at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def failure_line(failure: Any) -> str:
    """``data.jsonl:5: messages[0].content: ...`` (the failure's message names its line)."""
    return str(failure.message)


def summary_line(summary: Any, output: str | Path) -> str:
    skipped = len(summary.failures)
    rows = f"{summary.rows:,} row{'s' if summary.rows != 1 else ''}"
    return f"wrote {rows} to {output}" + (f" ({skipped:,} bad line{'s' if skipped != 1 else ''} skipped)"
                                          if skipped else "")
