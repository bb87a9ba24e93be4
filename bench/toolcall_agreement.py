"""How often llamatpl's readers give the same calls as the real decoders, on the corpus in
tests/data/toolcalls/corpus.jsonl (or a JSONL file of {"text": ...} given as the argument).

    python bench/toolcall_agreement.py [corpus.jsonl]

Strict is compared with Meta's decoder (llama-models, in this process) on the outputs where the
decoder gives a verdict; --engine vllm with each of vLLM 0.33.0's three parsers (run in the vLLM
virtualenv named by LLAMATPL_VLLM_PYTHON) on every output. "Same" means the same verdict (refused
or not) and the same names and decoded arguments in order; the strict count also names the outputs
where llamatpl departs from the decoder on purpose (docs/parse.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from oracles.meta_decoder import meta_decode  # noqa: E402
from oracles.vllm_client import VllmParsers, vllm_python  # noqa: E402

from llamatpl.toolcalls.parser import ToolCallParseError, read_tool_calls  # noqa: E402
from llamatpl.toolcalls.vllm import PARSERS  # noqa: E402


def strict_calls(text: str) -> list | None:
    try:
        from llamatpl.toolcalls.parser import parse_output

        result = parse_output(text)
    except ToolCallParseError:
        return None
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in result.tool_calls]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "toolcalls" / "corpus.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    verdicts = same = departures = 0
    for row in rows:
        meta = meta_decode(row["text"])
        if meta is None:
            continue
        verdicts += 1
        ours = strict_calls(row["text"])
        if ours is not None and [list(c) for c in ours] == [list(c) for c in meta["calls"]]:
            same += 1
        elif row.get("meta"):
            departures += 1
        else:
            print(f"strict differs: {row['text']!r}: ours {ours}, Meta {meta['calls']}")
    print(f"strict vs Meta's decoder: {same}/{verdicts} outputs with a verdict give the same calls; "
          f"{departures} more are listed departures ({len(rows)} outputs, {len(rows) - verdicts} without a verdict)")
    python = vllm_python()
    if python is None:
        print("vLLM: skipped (set LLAMATPL_VLLM_PYTHON to the vLLM virtualenv's python)")
        return
    oracle = VllmParsers(python)
    for parser in PARSERS:
        agree = 0
        for row in rows:
            theirs = oracle.ask(row["text"], parser)
            ours = read_tool_calls(row["text"], engine="vllm", tool_call_parser=parser)
            if ([[c.name, c.arguments] for c in ours.calls] == theirs.get("calls")
                    and ours.content == theirs.get("content")):
                agree += 1
            else:
                print(f"{parser} differs: {row['text']!r}: ours {ours}, vLLM {theirs}")
        print(f"--engine vllm --tool-call-parser {parser}: {agree}/{len(rows)} the same calls and content as vLLM")
    oracle.close()


if __name__ == "__main__":
    main()
