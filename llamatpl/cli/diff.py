"""``llamatpl diff``: what changes between two templates, by feature, text and tokens."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import EXIT_FINDINGS, EXIT_OK
from .app import EngineArgsOpt, TodayOpt, TransformersOpt, app, engine_from


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
    engine: Annotated[Optional[str], typer.Option(
        "--engine", "-e", help="The serving engine building both sides' prompts (default transformers).")] = None,
    engine_a: Annotated[Optional[str], typer.Option("--engine-a", help="The engine for side A (overrides --engine).")] = None,
    engine_b: Annotated[Optional[str], typer.Option("--engine-b", help="The engine for side B (overrides --engine).")] = None,
    engine_args: EngineArgsOpt = "",
    engine_args_a: Annotated[Optional[str], typer.Option(
        "--engine-args-a", help="Side A's engine flags (overrides --engine-args).")] = None,
    engine_args_b: Annotated[Optional[str], typer.Option(
        "--engine-args-b", help="Side B's engine flags (overrides --engine-args).")] = None,
    transformers: TransformersOpt = None,
    today: TodayOpt = None,
) -> None:
    """Show what changes between two versions or templates, or between two engines.

    By feature (found by probing), then per conversation by text and by token. The same template
    on two engines (--engine-a transformers --engine-b vllm) shows what the engines change; a
    conversation one side refuses is a row that says so. Your --conversation files render with the
    real clock (3.2 writes today's date) unless --today pins it; the built-in fixtures use 26 Jul 2024.
    """
    from ..rendering.conversation import iter_conversations
    from ..diffing.differ import diff_templates as compare_templates
    from ..formatting.diff_output import write_json, write_pretty, write_text
    from ..rendering.renderer import parse_today

    name_a, name_b = engine_a or engine or "transformers", engine_b or engine or "transformers"
    # --engine-args are the serving engine's flags: they go to the side(s) that are not transformers
    args_a = engine_args if engine_args_a is None else engine_args_a
    args_b = engine_args if engine_args_b is None else engine_args_b
    side_a = engine_from(name_a, "" if name_a == "transformers" and engine_args_a is None else args_a, transformers,
                         option="--engine-a" if engine_a else "--engine")
    side_b = engine_from(name_b, "" if name_b == "transformers" and engine_args_b is None else args_b, transformers,
                         option="--engine-b" if engine_b else "--engine")
    plain = side_a.name == side_b.name == "transformers"
    convs = list(iter_conversations(conversation, checks="llamatpl" if plain else "request")) if conversation else None
    report = compare_templates(a, b, conversations=convs, engine_a=None if plain else side_a,
                               engine_b=None if plain else side_b, today=parse_today(today))
    fmt = format.value if format else ("pretty" if sys.stdout.isatty() else "text")
    {"json": write_json, "pretty": write_pretty, "text": write_text}[fmt](report, sys.stdout)
    raise typer.Exit(EXIT_FINDINGS if exit_code and report.differs else EXIT_OK)
