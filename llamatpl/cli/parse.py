"""``llamatpl parse``: a model's tool-call output read back into OpenAI-style tool calls."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .app import app


@app.command()
def parse(
    source: Annotated[str, typer.Argument(help="A file holding model output, or - for stdin.")],
    version: Annotated[str, typer.Option("--version", "-V", help="Llama version whose call format to read.")] = "3.1",
) -> None:
    """Parse a model's tool-call output into OpenAI-style tool calls."""
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..toolcalls.parser import parse_tool_calls

    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{source}: cannot read ({exc.__class__.__name__})") from None
    sys.stdout.write(json.dumps(parse_tool_calls(text, version=version), indent=2, ensure_ascii=False) + "\n")
