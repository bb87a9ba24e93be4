"""Oracle: run vLLM's own tool-parser classes over model outputs (run inside the vLLM virtualenv).

Reads JSON lines on stdin. The first line is the set-up: ``{"tokenizer_model": path to
llama-models' tokenizer.model, "special_tokens": [names in id order]}``; every further line is
``{"text": ..., "parser": "llama3_json" | "pythonic" | "llama4_pythonic"}``. Writes one JSON line
per input: ``{"tools_called", "calls": [[name, arguments decoded from JSON]], "content"}``, or
``{"raised": "..."}`` when the parser itself raised. Offline: the tokenizer is built from the local
BPE file with transformers' TikTokenConverter; nothing reaches a hub.
"""

from __future__ import annotations

import json
import logging
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "CRITICAL")


def _tokenizer(setup: dict):
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    specials = setup["special_tokens"]
    converted = TikTokenConverter(vocab_file=setup["tokenizer_model"],
                                  additional_special_tokens=specials).converted()
    return PreTrainedTokenizerFast(tokenizer_object=converted, bos_token="<|begin_of_text|>",
                                   eos_token="<|eot_id|>", additional_special_tokens=specials)


def main() -> None:
    logging.disable(logging.CRITICAL)
    from vllm.tool_parsers import ToolParserManager

    tokenizer = _tokenizer(json.loads(sys.stdin.readline()))
    out = sys.stdout
    parsers = {}
    while line := sys.stdin.readline():  # one answer per line, flushed: the test may ask one at a time
        case = json.loads(line)
        if case["parser"] not in parsers:  # one instance each: extract_tool_calls keeps no state
            parsers[case["parser"]] = ToolParserManager.get_tool_parser(case["parser"])(tokenizer)
        parser = parsers[case["parser"]]
        try:
            info = parser.extract_tool_calls(case["text"], None)
        except Exception as exc:  # noqa: BLE001 - the verdict is that it raised
            out.write(json.dumps({"raised": f"{type(exc).__name__}: {exc}"}) + "\n")
            out.flush()
            continue
        calls = [[c.function.name, json.loads(c.function.arguments)] for c in info.tool_calls]
        out.write(json.dumps({"tools_called": info.tools_called, "calls": calls, "content": info.content},
                             ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
