"""``llamatpl render --engine vllm`` as a user runs it: exact bytes on stdout, and a request vLLM
refuses as one line on stderr with exit 2. The prompts themselves are checked against vLLM's own
code in test_engine_vllm_oracle.py; the expectations here are the answers vLLM 0.33.0 gave there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from llamatpl import render
from llamatpl.errors import UsageError


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True,
                          input=stdin, cwd=ROOT)


def test_render_writes_the_exact_prompt() -> None:
    done = run("render", "fixtures/arguments-json-string.json", "--engine", "vllm")
    assert done.returncode == 0, done.stderr
    body = json.loads((ROOT / "fixtures" / "arguments-json-string.json").read_text())
    assert done.stdout == render(body, template="official:3.1", engine="vllm")
    # vLLM parses JSON-text arguments before the template sees them: no double encoding
    assert '"parameters": "{' not in done.stdout


@pytest.mark.parametrize("fixture, reason", [
    ("tool-round-trip.json", "vllm rejects messages[1].tool_calls[0].function.arguments: an object; "
                             "vLLM takes JSON text"),
    ("vision-image.json", "vllm rejects messages[0].content[0].type: unsupported chat content part type 'image'"),
    ("continue-final-message.json", "vllm rejects continue_final_message and add_generation_prompt"),
])
def test_a_refused_request_is_one_line_and_exit_2(fixture: str, reason: str) -> None:
    done = run("render", f"fixtures/{fixture}", "--engine", "vllm")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fixtures/{fixture}: {reason}"), done.stderr
    assert "Traceback" not in done.stderr


def test_the_server_without_tool_calling_refuses_tools() -> None:
    done = run("render", "fixtures/arguments-json-string.json", "--engine", "vllm",
               "--engine-args", "--no-enable-auto-tool-choice")
    assert done.returncode == 2
    assert "--enable-auto-tool-choice" in done.stderr


def test_prefill_with_the_generation_prompt_off() -> None:
    done = run("render", "fixtures/continue-final-message.json", "--engine", "vllm", "--no-generation-prompt")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("<|start_header_id|>assistant<|end_header_id|>\n\nCrimson leaves falling")


def test_a_conversation_files_variables_are_chat_template_kwargs() -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "date_string": "1 Jan 2020"}
    assert "Today Date: 1 Jan 2020\n" in render(body, template="official:3.1", engine="vllm")


@pytest.mark.parametrize("args", [("--transformers", "5.23"), ("--transformers", "5.21")])
def test_transformers_past_the_pin_is_a_usage_error(args: tuple[str, str]) -> None:
    done = run("render", "fixtures/plain-chat.json", "--engine", "vllm", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: llamatpl render")  # read as a usage error, as click reports one
    assert done.stderr.splitlines()[-1].endswith("pins transformers >=5.16.1,<5.21")


def test_unknown_engine_flag_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--engine-args: vllm has no flag '--bogus'"):
        render([{"role": "user", "content": "Hi"}], template="official:3.1", engine="vllm", engine_args="--bogus")
