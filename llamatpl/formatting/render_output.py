"""Write rendered prompts: exact bytes, token ids, JSON, or the pretty terminal view."""

from __future__ import annotations

import json
from typing import TextIO

from ..rendering.jsonl import Rendered, record
from ..rendering.templates import ChatTemplate

FORMATS = ("text", "pretty", "ids", "json")


def write_single(item: Rendered, template: ChatTemplate, fmt: str, out: TextIO) -> None:
    """One conversation: ``text`` is the prompt's exact bytes with nothing added."""
    if fmt == "text":
        out.write(item.prompt)
    elif fmt == "ids":
        out.write(json.dumps(item.ids) + "\n")
    elif fmt == "json":
        out.write(json.dumps(record(item, template), ensure_ascii=False) + "\n")
    else:
        write_pretty(item, template, out)


def write_pretty(item: Rendered, template: ChatTemplate, out: TextIO) -> None:
    from rich.console import Console
    from rich.text import Text

    from .prompt_view import prompt_text

    console = Console(file=out, highlight=False)
    head = Text(f"{item.conversation.name} · {template.name} · Llama {template.version}", style="bold")
    if template.version_reason not in ("given", "named"):
        head.append(f" ({template.version_reason})", style="dim")
    if item.engine != "transformers":
        head.append(f" · as {item.engine} builds it", style="bold")
    console.print(head)
    console.print(prompt_text(item.prompt), soft_wrap=True)
