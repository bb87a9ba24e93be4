"""``llamatpl diff``: what changes between two templates, by feature, text and tokens."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import EXIT_FINDINGS, EXIT_OK
from .app import app


class DiffFormat(str, Enum):
    text = "text"
    pretty = "pretty"
    json = "json"


@app.command()
def diff(
    a: Annotated[str, typer.Argument(help="A version (3.0, 3.1, 3.2, 3.2-vision), template name or path.")],
    b: Annotated[str, typer.Argument(help="The other version, template name or path.")],
    conversation: Annotated[Optional[str], typer.Option(
        "--conversation", "-c", help="Compare on these conversations (JSON or JSONL) instead of the fixtures.")] = None,
    format: Annotated[Optional[DiffFormat], typer.Option(
        "--format", "-f", help="pretty (default in a terminal), text (default when piped) or json.")] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when the templates differ, like git diff.")] = False,
) -> None:
    """Show what changes between two versions or templates.

    By feature (found by probing), then per conversation by text and by token.
    """
    from ..rendering.conversation import iter_conversations
    from ..diffing.differ import diff_templates as compare_templates
    from ..formatting.diff_output import write_json, write_pretty, write_text

    convs = list(iter_conversations(conversation)) if conversation else None
    report = compare_templates(a, b, conversations=convs)
    fmt = format.value if format else ("pretty" if sys.stdout.isatty() else "text")
    {"json": write_json, "pretty": write_pretty, "text": write_text}[fmt](report, sys.stdout)
    raise typer.Exit(EXIT_FINDINGS if exit_code and report.differs else EXIT_OK)
