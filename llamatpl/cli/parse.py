"""``llamatpl parse``: a model's tool-call output read back into OpenAI-style tool calls, as Meta's
decoder or a vLLM parser reads it, optionally checked against the tools' schemas."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from .app import app


class ParseFormat(str, Enum):
    calls = "calls"
    json = "json"


@app.command()
def parse(
    source: Annotated[str, typer.Argument(help="A file holding model output, or - for stdin.")],
    version: Annotated[str, typer.Option("--version", "-V", help="Llama version whose call format to read (3.0 has none).")] = "3.1",
    fmt: Annotated[ParseFormat, typer.Option(
        "--format", "-f", help="json: {tool_calls, content, problems}; calls: the bare list (0.1's output, kept for one release).")] = ParseFormat.calls,
    engine: Annotated[Optional[str], typer.Option(
        "--engine", "-e", help="Read as this server's parser does (vllm); default: Meta's reference decoder.")] = None,
    tool_call_parser: Annotated[Optional[str], typer.Option(
        "--tool-call-parser", help="vLLM's parser: llama3_json (3.1/3.3 default), pythonic (3.2 default), llama4_pythonic.")] = None,
    skip_special_tokens: Annotated[bool, typer.Option(
        "--skip-special-tokens", help="Drop special-token text first, as vLLM's default detokenizing does.")] = False,
    tools: Annotated[Optional[str], typer.Option(
        "--tools", help="An OpenAI tools list, or a conversation with one: check each call against its schema.")] = None,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Write decoded values for stringified ones into the calls (needs --tools).")] = False,
) -> None:
    """Parse a model's tool-call output. Exit 0: nothing to report (no call included); 1: problems
    found (repaired or not); 2: the output is refused."""
    from ..formatting.parse_output import write_parse_result
    from ..rendering.conversation import read_text
    from ..toolcalls.parser import ToolCallParseError, parse_output
    from ..toolcalls.schema import load_tools

    _, text = read_text(source)  # "-" is stdin; errors read as render's do ("no such file", ...)
    schemas = load_tools(tools) if tools is not None else None
    try:
        result = parse_output(text, version=version, engine=engine, tool_call_parser=tool_call_parser,
                              skip_special_tokens=skip_special_tokens, tools=schemas, repair=repair)
    except ToolCallParseError as exc:
        raise ToolCallParseError(f"{'<stdin>' if source == '-' else source}: {exc.message}") from None
    write_parse_result(result, fmt.value, sys.stdout, sys.stderr)
    raise typer.Exit(result.exit_code)
