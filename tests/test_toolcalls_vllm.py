"""``--engine vllm`` against vLLM 0.33.0's own parser classes, run in the vLLM virtualenv (one
subprocess for the session): the same calls and content on the corpus, on vLLM's own parser test
inputs (kept as data) and on generated outputs. Needs LLAMATPL_VLLM_PYTHON (CI sets it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT
from oracles.vllm_client import VllmParsers, vllm_python
from toolcall_outputs import meta_outputs, noisy_outputs
from llamatpl.toolcalls.parser import read_tool_calls
from llamatpl.toolcalls.vllm import PARSERS

DATA = ROOT / "tests" / "data" / "toolcalls"
CORPUS = [json.loads(line)["text"] for line in (DATA / "corpus.jsonl").read_text().splitlines()]
VLLM_TESTS = [json.loads(line) for line in (DATA / "vllm_parser_tests.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def vllm():
    python = vllm_python()
    if python is None:
        pytest.skip("LLAMATPL_VLLM_PYTHON does not name the vLLM 0.33.0 virtualenv's python "
                    "(.ci/vllm-venv.sh builds it; CI sets the variable)")
    oracle = VllmParsers(python)
    yield oracle
    oracle.close()


def assert_reads_as_vllm(vllm, text: str, parser: str) -> None:
    theirs = vllm.ask(text, parser)
    assert "raised" not in theirs, theirs
    ours = read_tool_calls(text, engine="vllm", tool_call_parser=parser)
    assert [[c.name, c.arguments] for c in ours.calls] == theirs["calls"]
    assert ours.content == theirs["content"]


@pytest.mark.parametrize("parser", PARSERS)
def test_corpus_reads_as_vllm(vllm, parser):
    for text in CORPUS:
        assert_reads_as_vllm(vllm, text, parser)


@pytest.mark.parametrize("case", VLLM_TESTS, ids=lambda c: f"{c['parser']}:{c['text'][:30]}")
def test_vllms_own_parser_test_inputs(vllm, case):
    assert_reads_as_vllm(vllm, case["text"], case["parser"])


@given(text=st.one_of(noisy_outputs(), meta_outputs()), parser=st.sampled_from(PARSERS))
def test_generated_outputs_read_as_vllm(vllm, text, parser):
    assert_reads_as_vllm(vllm, text, parser)


def test_skip_special_tokens_models_the_servers_default(vllm):
    text = '<|python_tag|>{"name": "f", "parameters": {"a": 1}}<|eom_id|>'
    ours = read_tool_calls(text, engine="vllm", skip_special_tokens=True)
    assert ours.calls and ours.calls[0].arguments == {"a": 1}
    assert_reads_as_vllm(vllm, '{"name": "f", "parameters": {"a": 1}}', "llama3_json")
