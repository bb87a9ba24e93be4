"""Write what ``llamatpl parse`` read: one JSON object (``json``) or the bare list of calls
(``calls``, the 0.1 output, kept for one release), with problems on stderr in that form."""

from __future__ import annotations

import json
from typing import TextIO

from ..toolcalls.parser import ParseResult

FORMATS = ("calls", "json")


def write_parse_result(result: ParseResult, fmt: str, out: TextIO, err: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n")
        return
    out.write(json.dumps(result.tool_calls, indent=2, ensure_ascii=False) + "\n")
    for problem in result.problems:
        decoded = f" (decoded: {json.dumps(problem.decoded, ensure_ascii=False)})" if problem.kind == "stringified" else ""
        err.write(f"call {problem.call}: {problem.path}: {problem.kind}: {problem.message}{decoded}\n")
