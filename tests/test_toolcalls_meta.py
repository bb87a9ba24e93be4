"""The strict reading against Meta's reference decoder itself (llama-models 0.3.0, run in process):
the same calls and content wherever the decoder gives a verdict, refusal wherever it raises, and
differences only at the departures docs/parse.md lists."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from conftest import ROOT
from oracles.meta_decoder import meta_decode
from toolcall_outputs import meta_outputs
from llamatpl.toolcalls.parser import ToolCallParseError, parse_output

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
