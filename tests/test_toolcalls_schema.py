"""Schema checks: each call against its tool's JSON schema; stringified values found, decoded and
repaired. The truth is jsonschema itself: a repaired call validates, an unrepaired one does not."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT
from toolcall_outputs import any_values
from llamatpl.errors import InputError
from llamatpl.toolcalls.parser import parse_output
from llamatpl.toolcalls.reading import Call
from llamatpl.toolcalls.schema import check_calls, json_path, load_tools

DATA = ROOT / "tests" / "data" / "toolcalls"
TOOLS = json.loads((DATA / "tools.json").read_text())
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
STRINGIFIED = [json.loads(line) for line in (DATA / "corpus.jsonl").read_text().splitlines()
               if "stringified" in json.loads(line)["note"]]


def kinds(problems):
    return [(p.call, p.path, p.kind) for p in problems]


@pytest.mark.parametrize("row", STRINGIFIED, ids=lambda r: r["note"])
def test_every_stringified_value_in_the_corpus_is_found_and_repaired(row):
    before = parse_output(row["text"], version="3.2", tools=TOOLS)
    after = parse_output(row["text"], version="3.2", tools=TOOLS, repair=True)
    assert before.problems and {p.kind for p in before.problems} == {"stringified"}
    assert after.problems == before.problems  # exit 1 either way: the problem was there
    for call in before.tool_calls:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(json.loads(call["function"]["arguments"]), SCHEMAS[call["function"]["name"]])
    for call in after.tool_calls:
        jsonschema.validate(json.loads(call["function"]["arguments"]), SCHEMAS[call["function"]["name"]])
    for problem in before.problems:
        assert json.loads(json.dumps(problem.decoded)) == problem.decoded and not isinstance(problem.decoded, str)


def test_each_kind_with_its_path():
    calls = [Call("get_weather", {"unit": "kelvin", "days": "three"}), Call("nope", {}),
             Call("book", {"ids": "[1, 2]", "count": "2", "options": '{"seat": "middle"}'})]
    problems, repaired = check_calls(calls, TOOLS)
    assert kinds(problems) == [
        (0, "$.city", "required"), (0, "$.days", "type"), (0, "$.unit", "enum"), (1, "$", "unknown-tool"),
        (2, "$.count", "stringified"), (2, "$.ids", "stringified"), (2, "$.options", "stringified"),
        (2, "$.options.seat", "enum")]
    assert repaired[2].arguments == {"ids": [1, 2], "count": 2, "options": {"seat": "middle"}}
    assert [p.as_dict().get("decoded") for p in problems if p.kind == "stringified"] == [2, [1, 2], {"seat": "middle"}]
    assert "decoded" not in problems[0].as_dict()


def test_a_string_that_decodes_to_the_wrong_type_is_a_type_problem():
    problems, repaired = check_calls([Call("book", {"count": "[1]", "confirm": "yes"})], TOOLS)
    assert kinds(problems) == [(0, "$.confirm", "type"), (0, "$.count", "type")]
    assert repaired[0].arguments == {"count": "[1]", "confirm": "yes"}


@given(value=any_values)
def test_any_value_stringified_where_its_type_is_wanted_is_repaired_to_itself(value):
    kind = {dict: "object", list: "array", bool: "boolean", int: "integer", float: "number", type(None): "null",
            str: "string"}[type(value)]
    schema = {"type": "object", "properties": {"v": {"type": kind}}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    problems, repaired = check_calls([Call("f", {"v": json.dumps(value)})], tools)
    if kind == "string":
        assert problems == []
    else:
        assert kinds(problems) == [(0, "$.v", "stringified")] and problems[0].decoded == value
        assert repaired[0].arguments == {"v": value}
        jsonschema.validate(repaired[0].arguments, schema)


def test_json_paths():
    assert json_path([]) == "$"
    assert json_path(["a", 0, "b c", "_x1"]) == '$.a[0]["b c"]._x1'


def test_tools_from_a_conversation_file_and_bad_tools_files(tmp_path):
    conversation = tmp_path / "conv.json"
    conversation.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS}))
    assert load_tools(str(conversation)) == TOOLS
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]))
    with pytest.raises(InputError, match=r"bad.json\[0\].function.parameters: not a valid JSON schema"):
        load_tools(str(bad))
    bad.write_text('{"messages": []')
    with pytest.raises(InputError, match=r"bad.json:1: not JSON"):
        load_tools(str(bad))
    bad.write_text('{"tools": [{"function": {}}]}')
    with pytest.raises(InputError, match=r"bad.json: tools\[0\]: expected"):
        load_tools(str(bad))


def test_check_calls_takes_openai_calls_and_gives_them_back_repaired():
    from llamatpl import check_calls as public

    calls = [{"id": "call_9", "type": "function", "function": {"name": "book", "arguments": '{"ids": "[1, 2]"}'}},
             {"id": "x", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "CET"}}}]
    problems, repaired = public(calls, TOOLS)
    assert kinds(problems) == [(0, "$.ids", "stringified")]
    assert repaired == [{"id": "call_9", "type": "function", "function": {"name": "book", "arguments": '{"ids": [1, 2]}'}},
                        calls[1]]
