"""``--engine`` through every command: lint tags, verify under an engine, diff across engines, usage errors.

The engines' own behaviour is pinned elsewhere against the engines themselves (vLLM's own code,
llama.cpp's and TGI's test expectations); these tests check what the commands do with it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from llamatpl.engines import NAMES, get_engine
from llamatpl.errors import UsageError
from llamatpl.rendering.templates import resolve_template
from llamatpl.verification.search import verify_template


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True, cwd=ROOT)


def _lint_codes(*args: str) -> dict[str, list[list[str]]]:
    result = run("lint", "templates/official/3.1.jinja", "--version", "3.1", "--format", "json", *args)
    assert result.returncode == 1, result.stderr
    codes: dict[str, list[list[str]]] = {}
    for finding in json.loads(result.stdout):
        codes.setdefault(finding["code"], []).append(finding["engines"])
    return codes


def test_lint_double_encoding_is_a_transformers_finding_not_a_vllm_one():
    # vLLM parses JSON-text arguments into an object before the template runs (the example)
    assert "LL112" in _lint_codes("--engine", "transformers")
    assert "LL112" not in _lint_codes("--engine", "vllm")
    everything = _lint_codes()
    assert everything["LL112"] == [["transformers"]]
    # a finding every engine's users meet is tagged with all of them
    assert all(set(tags) == set(NAMES) for tags in everything["LL111"])


def test_lint_text_names_the_engines_of_a_partial_finding():
    out = run("lint", "templates/official/3.1.jinja", "--version", "3.1", "--select", "LL112").stdout
    assert "[arguments-double-encoded] (transformers)\n" in out


def test_verify_under_vllm_sends_its_shapes_and_counts_refusals():
    tpl = resolve_template("official:3.2")
    report = verify_template(tpl, examples=25, engine=get_engine("vllm"))
    assert report.engine == "vllm"
    assert report.accepted > 0
    # object arguments were sent as JSON text, as vLLM requires: no conversation failed for that
    assert report.first_rejection is None or "arguments" not in report.first_rejection


def test_a_refused_conversation_is_never_a_pass(tmp_path):
    conv = tmp_path / "empty-tools.json"
    conv.write_text(json.dumps({"tools": [], "messages": [{"role": "user", "content": "Hi"}]}))
    result = run("verify", "official:3.1", "--engine", "vllm", "--conversation", str(conv), "--format", "json")
    doc = json.loads(result.stdout)
    assert result.returncode == 1
    assert doc["ok"] is False and doc["rejected"] == 1 and doc["engine"] == "vllm"
    assert "vllm rejects tools" in doc["first_rejection"]


def test_diff_across_engines_shows_refusals_as_rows():
    result = run("diff", "official:3.1", "official:3.1", "--engine-a", "transformers", "--engine-b", "vllm",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["engine_a"], doc["engine_b"]) == ("transformers", "vllm")
    rows = {c["name"]: c for c in doc["conversations"]}
    refused = rows["tool-round-trip"]  # object arguments: vLLM takes JSON text only
    assert refused["b_rejected"] and not refused["a_rejected"]
    assert "vllm rejects" in refused["diff"] and "JSON text" in refused["diff"]
    assert rows["plain-chat"]["identical"]


def test_impossible_combinations_are_usage_errors():
    with pytest.raises(UsageError, match="pins transformers"):
        get_engine("vllm", transformers="5.23")
    result = run("render", "fixtures/plain-chat.json", "--engine", "vllm", "--transformers", "5.23")
    assert result.returncode == 2
    assert result.stderr.startswith("Usage: llamatpl render") and "pins transformers" in result.stderr


def test_a_request_the_engine_refuses_is_one_line_naming_the_engine():
    result = run("render", "fixtures/tool-round-trip.json", "--engine", "vllm")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("fixtures/tool-round-trip.json: vllm rejects messages[1].tool_calls[0].function"
                             ".arguments: an object; vLLM takes JSON text\n")
