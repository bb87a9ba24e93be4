"""The strict reading against Meta's reference decoder itself (llama-models 0.3.0, run in process):
the same calls and content wherever the decoder gives a verdict, refusal wherever it raises, and
differences only at the departures docs/parse.md lists."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from conftest import ROOT
from oracles.meta_decoder import meta_decode
from toolcall_outputs import meta_outputs, noisy_outputs
from llamatpl.toolcalls.parser import ToolCallParseError, parse_output

VLLM_TESTS = [json.loads(line)["text"] for line in
              (ROOT / "tests" / "data" / "toolcalls" / "vllm_parser_tests.jsonl").read_text().splitlines()]
CORPUS = [json.loads(line) for line in (ROOT / "tests" / "data" / "toolcalls" / "corpus.jsonl").read_text().splitlines()]
DEPARTURES = {"several-calls", "string-parameters", "function-nested", "function-quote", "function-multiline",
              "prose-builtin", "deep-nesting"}


def strict(text: str) -> dict | None:
    try:
        result = parse_output(text)
    except ToolCallParseError:
        return None
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in result.tool_calls]
    return {"calls": calls, "content": result.content}


def test_the_corpus_tags_only_the_listed_departures():
    assert {row["meta"] for row in CORPUS if "meta" in row} == DEPARTURES


@pytest.mark.parametrize("row", [r for r in CORPUS if "meta" not in r], ids=lambda r: r["note"])
def test_strict_reads_as_metas_decoder(row):
    meta = meta_decode(row["text"])
    assert strict(row["text"]) == meta  # None on both sides: the decoder raises, strict refuses


@pytest.mark.parametrize("row", [r for r in CORPUS if "meta" in r], ids=lambda r: r["note"])
def test_each_listed_departure_really_departs(row):
    meta, ours = meta_decode(row["text"]), strict(row["text"])
    assert ours != meta
    if row["meta"] == "several-calls":  # the decoder keeps the first call; llamatpl keeps it too, then the rest
        assert ours["calls"][:1] == meta["calls"] and len(ours["calls"]) > 1
    elif row["meta"] == "string-parameters":
        assert ours is None and isinstance(meta["calls"][0][1], str)
    elif row["meta"] == "prose-builtin":
        assert ours == {"calls": [], "content": row["text"]} and meta["calls"]
    elif row["meta"] == "deep-nesting":
        assert meta is None and ours["calls"]
    else:  # the <function=> departures: the decoder finds no call, llamatpl reads the tag
        assert meta["calls"] == [] and ours["calls"]


@given(text=meta_outputs())
def test_strict_equals_metas_decoder_on_generated_outputs(text):
    assert strict(text) == meta_decode(text)


def test_version_30_has_no_tool_format():
    text = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    assert parse_output(text, version="3.0").as_dict() == {"tool_calls": [], "content": text, "problems": []}


@pytest.mark.parametrize("text", ["<function=" * 100_000, "<function=a>{" * 50_000, "[" * 1_000_000,
                                  '{"name": "a", "parameters": {}} ' * 30_000, 'x.call(query="' * 50_000])
def test_hostile_outputs_end_quickly_with_a_verdict(text):
    # quadratic work on these would run for minutes; each reader must finish and answer (or refuse)
    for engine in ({}, {"engine": "vllm"}, {"engine": "vllm", "tool_call_parser": "pythonic"}):
        try:
            parse_output(text, **engine)
        except ToolCallParseError:
            pass


def _depth(value):
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def listed_departure(text, ours, meta):
    """Which listed departure explains a difference between strict and Meta's decoder, if any."""
    if meta is not None and ours is not None and len(ours["calls"]) > 1 and ours["calls"][:1] == meta["calls"]:
        return "several-calls"
    if meta is not None and ours is None and any(isinstance(a, str) for _, a in meta["calls"]):
        return "string-parameters"
    if meta is None and ours is not None and any(_depth(a) > 2 for _, a in ours["calls"]):
        return "deep-nesting"
    if meta is not None and ours is not None and meta["calls"] and not ours["calls"] and ".call(" in text:
        return "prose-builtin"
    if meta is not None and ours is not None and not meta["calls"] and ours["calls"] and "<function=" in text:
        return "function-tag"
    return None


@pytest.mark.parametrize("text", VLLM_TESTS, ids=lambda t: t[:40])
def test_vllms_parser_test_inputs_read_as_metas_decoder_but_for_departures(text):
    ours, meta = strict(text), meta_decode(text)
    assert ours == meta or listed_departure(text, ours, meta)


@given(text=noisy_outputs())
def test_noisy_outputs_read_as_metas_decoder_but_for_departures(text):
    ours, meta = strict(text), meta_decode(text)
    assert ours == meta or listed_departure(text, ours, meta)
