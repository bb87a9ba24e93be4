"""vLLM 0.33.0's own tool parsers as an oracle: one subprocess in the vLLM virtualenv (its python
named by ``LLAMATPL_VLLM_PYTHON``), asked one output at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ORACLE = Path(__file__).with_name("vllm_tool_parsers.py")


def vllm_python() -> str | None:
    """The vLLM venv's interpreter, or None when the environment does not name a usable one."""
    python = os.environ.get("LLAMATPL_VLLM_PYTHON")
    return python if python and os.access(python, os.X_OK) else None


class VllmParsers:
    """A running oracle: ``ask(text, parser)`` gives vLLM's verdict as the oracle script writes it."""

    def __init__(self, python: str) -> None:
        from llamatpl.tokens.tokenizer import special_tokens, tokenizer_model_path

        table = special_tokens("3.1")
        self._process = subprocess.Popen(
            [python, str(ORACLE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, encoding="utf-8", env={**os.environ, "HF_HUB_OFFLINE": "1"})
        self._send({"tokenizer_model": str(tokenizer_model_path()), "special_tokens": sorted(table, key=table.get)})

    def _send(self, obj: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._process.stdin.flush()

    def ask(self, text: str, parser: str) -> dict[str, Any]:
        self._send({"text": text, "parser": parser})
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the vLLM oracle ({ORACLE.name}) stopped; run it by hand to see why")
        return json.loads(line)

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=60)


if __name__ == "__main__":  # a quick look: python tests/oracles/vllm_client.py 'text' [parser]
    oracle = VllmParsers(vllm_python() or sys.exit("set LLAMATPL_VLLM_PYTHON"))
    print(oracle.ask(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "llama3_json"))
    oracle.close()
