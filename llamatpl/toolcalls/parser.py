"""Read a model's output back into OpenAI-style tool calls, as Meta's decoder or a vLLM parser does,
and check the calls against the tools' schemas.

:func:`parse_output` is the library function behind ``llamatpl parse``; :func:`parse_tool_calls`
is the 0.1 interface (the calls alone). The strict reading (the default) is Meta's reference
decoder (:mod:`.meta`); ``engine="vllm"`` reads as one of vLLM's parsers (:mod:`.vllm`). Llama 3.0
has no tool format: its output is all content. Either way an output is refused (exit code 2) when it
cannot be read, or when a call's arguments are not an object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..versions import normalize_version
from .meta import read_strict
from .reading import Reading, ToolCallParseError, openai_calls
from .schema import Problem, check_calls
from .vllm import DEFAULT_PARSER, PARSERS, drop_special_tokens, read_vllm

__all__ = ["ParseResult", "ToolCallParseError", "parse_output", "parse_tool_calls", "read_tool_calls"]

ENGINES = ("vllm",)


@dataclass(frozen=True)
class ParseResult:
    """The calls (OpenAI form, repaired when asked), the text left, and the schema problems found."""

    tool_calls: list[dict[str, Any]]
    content: str | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.problems else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"tool_calls": self.tool_calls, "content": self.content,
                "problems": [p.as_dict() for p in self.problems]}


def read_tool_calls(text: str, *, version: str = "3.1", engine: str | None = None,
                    tool_call_parser: str | None = None, skip_special_tokens: bool = False) -> Reading:
    """The calls and content one reader finds in ``text``, before any check of the arguments."""
    v = normalize_version(version)
    if engine is None:
        if tool_call_parser is not None or skip_special_tokens:
            option = "--tool-call-parser" if tool_call_parser is not None else "--skip-special-tokens"
            raise UsageError(f"{option} needs --engine vllm (the default reading is Meta's decoder)")
        return Reading(content=text) if v == "3.0" else read_strict(text)
    if engine not in ENGINES:
        raise UsageError(f"parse --engine {engine}: parse reads as {', '.join(ENGINES)} "
                         "(or, without --engine, as Meta's reference decoder)")
    parser = tool_call_parser or DEFAULT_PARSER.get(v, "llama3_json")
    if parser not in PARSERS:
        raise UsageError(f"--tool-call-parser {parser}: use one of {', '.join(PARSERS)}")
    if skip_special_tokens:
        from ..tokens.tokenizer import special_tokens

        text = drop_special_tokens(text, special_tokens(v))
    return read_vllm(text, parser)


def parse_output(text: str, *, version: str = "3.1", engine: str | None = None,
                 tool_call_parser: str | None = None, skip_special_tokens: bool = False,
                 tools: Any = None, repair: bool = False) -> ParseResult:
    """Read ``text`` and, with ``tools`` (an OpenAI tools list), check each call against its schema.

    Raises :class:`ToolCallParseError` when the output is refused, and :class:`UsageError` for
    ``repair`` without ``tools``.
    """
    if repair and tools is None:
        raise UsageError("--repair needs --tools (the schemas say what a stringified value should be)")
    reading = read_tool_calls(text, version=version, engine=engine, tool_call_parser=tool_call_parser,
                              skip_special_tokens=skip_special_tokens)
    calls = list(reading.calls)
    for i, call in enumerate(calls):
        if not isinstance(call.arguments, dict):
            kind = "a string" if isinstance(call.arguments, str) else "not an object"
            raise ToolCallParseError(f"refused: call {i} ({call.name}): its arguments are {kind}; "
                                     "OpenAI's arguments must encode an object")
    problems: list[Problem] = []
    if tools is not None:
        problems, repaired = check_calls(calls, tools)
        if repair:
            calls = repaired
    return ParseResult(openai_calls(calls), reading.content, problems)


def parse_tool_calls(text: str, *, version: str = "3.1") -> list[dict[str, Any]]:
    """The strict reading's calls alone, in OpenAI form (``[]`` when the output has none)."""
    return parse_output(text, version=version).tool_calls

