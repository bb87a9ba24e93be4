"""``llamatpl export``: a template rewritten for training (``--generation-tags``), to stdout or a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import EXIT_OK, UsageError
from .app import VersionOpt, app


@app.command()
def export(
    template: Annotated[str, typer.Argument(help="Template to export: official:3.1, tuned:3.2, a file or folder.")],
    version: VersionOpt = None,
    generation_tags: Annotated[bool, typer.Option(
        "--generation-tags", help="Add {% generation %} blocks around what the assistant generates (for TRL's "
                                  "assistant_only_loss and return_assistant_tokens_mask).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write a template for training: the same bytes, with {% generation %} blocks (--generation-tags).

    Header outside the block; content, tool call and the closing <|eot_id|>/<|eom_id|> inside.
    """
    from ..rendering.templates import resolve_template
    from ..train.generation_tags import with_generation_tags

    if not generation_tags:
        raise UsageError("export: say what to export: --generation-tags")
    tpl = resolve_template(template, version=version)
    if "tool_use" in tpl.variants:
        raise UsageError(f"export: {tpl.name} has several named templates; export them one at a time as files")
    text = with_generation_tags(tpl.text)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")
    raise typer.Exit(EXIT_OK)
