"""``llamatpl parse`` end to end: output formats, exit codes 0/1/2, one-line refusals and usage errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

TOOLS = str(ROOT / "tests" / "data" / "toolcalls" / "tools.json")


def run(*args, stdin):
    return subprocess.run([sys.executable, "-m", "llamatpl", "parse", "-", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT)


def test_json_format_is_one_object_and_a_plain_answer_exits_0():
    done = run("--format", "json", stdin="It is sunny in Paris.")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tool_calls": [], "content": "It is sunny in Paris.", "problems": []}
    assert json.loads(run(stdin="It is sunny.").stdout) == []  # calls: the 0.1 bare list


def test_calls_format_is_the_bare_list():
    done = run("--version", "3.2", stdin='[get_weather(city="Paris"), get_time(tz="CET")]')
    assert done.returncode == 0
    assert [c["function"]["name"] for c in json.loads(done.stdout)] == ["get_weather", "get_time"]


def test_a_stringified_array_exits_1_repaired_or_not():
    text = '{"name": "book", "parameters": {"ids": "[1, 2]"}}'
    plain = run("--tools", TOOLS, "--format", "json", stdin=text)
    repaired = run("--tools", TOOLS, "--format", "json", "--repair", stdin=text)
    assert plain.returncode == repaired.returncode == 1
    problem = {"call": 0, "path": "$.ids", "kind": "stringified",
               "message": "array given as a string; the schema wants array", "decoded": [1, 2]}
    assert json.loads(plain.stdout)["problems"] == [problem] == json.loads(repaired.stdout)["problems"]
    assert json.loads(json.loads(plain.stdout)["tool_calls"][0]["function"]["arguments"]) == {"ids": "[1, 2]"}
    assert json.loads(json.loads(repaired.stdout)["tool_calls"][0]["function"]["arguments"]) == {"ids": [1, 2]}
    calls = run("--tools", TOOLS, "--repair", stdin=text)  # calls format: problems on stderr
    assert calls.returncode == 1 and calls.stderr == (
        "call 0: $.ids: stringified: array given as a string; the schema wants array (decoded: [1, 2])\n")


def test_clean_calls_with_tools_exit_0():
    done = run("--tools", TOOLS, stdin='{"name": "get_weather", "parameters": {"city": "Paris"}}')
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize("text, why", [
    ('{"name": "get_weather", "parameters": "{\\"city\\": \\"Paris\\"}"}', "its arguments are a string"),
    ('{"name": "get_weather"}', 'the JSON call has no "parameters"'),
    ('[get_weather(city=CITY)]', "is not a literal"),
])
def test_refused_outputs_exit_2_with_one_line(text, why):
    done = run(stdin=text)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("<stdin>: refused: ") and why in done.stderr and done.stderr.count("\n") == 1


def test_vllm_engine_reads_as_its_parser():
    text = 'Sure: {"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert json.loads(run(stdin=text).stdout) == []  # Meta's decoder: not a call
    done = run("--engine", "vllm", "--format", "json", stdin=text)
    assert done.returncode == 0
    assert json.loads(done.stdout)["content"] is None  # vLLM drops the text around calls
    tagged = '<|python_tag|>[get_weather(city="Paris")]'
    assert json.loads(run("-e", "vllm", "-V", "3.2", stdin=tagged).stdout) == []
    assert len(json.loads(run("-e", "vllm", "-V", "3.2", "--skip-special-tokens", stdin=tagged).stdout)) == 1


@pytest.mark.parametrize("args, message", [
    (["--engine", "llama.cpp"], "parse --engine llama.cpp: parse reads as vllm"),
    (["--tool-call-parser", "pythonic"], "--tool-call-parser needs --engine vllm"),
    (["--engine", "vllm", "--tool-call-parser", "hermes"], "use one of llama3_json, pythonic, llama4_pythonic"),
    (["--repair"], "--repair needs --tools"),
])
def test_usage_errors_exit_2(args, message):
    done = run(*args, stdin="hi")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_the_example_in_docs_parse_md_is_exact():
    import re

    doc = (ROOT / "docs" / "parse.md").read_text(encoding="utf-8")
    for match in re.finditer(r"```console\n\$ (?P<cmd>[^\n]+)\n(?P<out>.*?)```", doc, re.S):
        done = subprocess.run(match.group("cmd").replace("llamatpl", f"{sys.executable} -m llamatpl"),
                              shell=True, cwd=ROOT, capture_output=True, text=True)
        assert done.stdout == match.group("out")
