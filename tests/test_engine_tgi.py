"""``--engine tgi`` against TGI's own expectations: the unit tests of its router's
``router/src/infer/chat_template.rs`` at v3.3.7 (kept as data in tests/data/tgi, each naming its
test), and hand-checked Llama cases read off the router's source (file + function in each test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

import llamatpl
from llamatpl.engines import get_engine
from llamatpl.engines.tgi import DEFAULT_TOOL_PROMPT, sort_keys
from llamatpl.engines.tgi_request import serde_json
from llamatpl.errors import EngineRejected, InvalidTemplate, LimitExceeded, RenderError, UsageError
from llamatpl.lint import lint_paths
from llamatpl.rendering.minijinja_backend import render_minijinja
from llamatpl.rendering.templates import ChatTemplate

DATA = Path(__file__).parent / "data" / "tgi"
CASES = sorted(DATA.glob("*.json"))
TODAY = date(2025, 3, 9)
BOS, EOT = "<|begin_of_text|>", "<|eot_id|>"
SYSTEM_31 = (f"{BOS}<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
             "Today Date: 26 Jul 2024\n\n")


def _case(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(case: dict) -> str:
    """The template as the Rust test compiles it (several tests trim every line and join them)."""
    text = case["template"]
    return "".join(line.strip() for line in text.splitlines()) if case.get("trim_lines") else text


def _expected(case: dict) -> str:
    if "expected_date_format" in case:
        return case["expected"].replace("{}", TODAY.strftime(case["expected_date_format"]))
    return case["expected"]


def _template(case: dict) -> ChatTemplate:
    tokens = case["inputs"] if case["level"] == "template" else case
    return ChatTemplate(case["source"]["test"], _source(case), "3.1", "given",
                        special_tokens={"bos_token": tokens["bos_token"], "eos_token": tokens["eos_token"]})


def test_all_router_tests_are_kept():
    tests = {_case(p)["source"]["test"] for p in CASES}
    assert len(tests) == 11 and len(CASES) == 38
    assert all(_case(p)["source"]["commit"].startswith("dfb3fbe7") for p in CASES)


@pytest.mark.parametrize("path", [p for p in CASES if _case(p)["level"] == "template"], ids=lambda p: p.stem)
def test_backend_reproduces_router_test(path: Path):
    """The test renders ChatTemplateInputs with minijinja directly: our minijinja set-up must agree."""
    case = _case(path)
    if "expected_error" in case:
        with pytest.raises(RenderError, match="Conversation roles must alternate"):
            render_minijinja(_source(case), sort_keys(case["inputs"]), today=TODAY)
        return
    assert render_minijinja(_source(case), sort_keys(case["inputs"]), today=TODAY) == _expected(case)


def _request_path_skip(case: dict) -> str | None:
    """Why the router's request path cannot give the inputs this test renders with, if it cannot."""
    if case["level"] == "apply":
        return None
    inputs = case["inputs"]
    if any("tool_call_id" in m for m in inputs["messages"]):
        return "From<Message> for TextMessage (lib.rs) never sets tool_call_id; the test sets it"
    if not inputs["add_generation_prompt"] and "add_generation_prompt" in case["template"]:
        return "ChatTemplate::apply always passes add_generation_prompt true; the test renders with false"
    if inputs["messages"][-1]["role"] == "assistant" and "expected_error" not in case:
        return "ChatTemplate::apply cuts a final assistant message (prefill); the test renders the template directly"
    return None


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_engine_reproduces_router_test(path: Path):
    """Through the request path: ``llamatpl.render(..., engine="tgi")`` gives the test's expected prompt."""
    case = _case(path)
    reason = _request_path_skip(case)
    if reason:
        pytest.skip(reason)
    request = case["request"] if case["level"] == "apply" else {
        "messages": [{"role": m["role"], "content": m["content"]} for m in case["inputs"]["messages"]]}
    if "expected_error" in case:
        with pytest.raises(RenderError, match="Conversation roles must alternate"):
            llamatpl.render(request, template=_template(case), engine="tgi", today=TODAY)
        return
    assert llamatpl.render(request, template=_template(case), engine="tgi", today=TODAY) == _expected(case)


def _tgi(body: dict, template: str = "official:3.1") -> str:
    return llamatpl.render(body, template=template, engine="tgi", today=TODAY)


def test_official_31_gets_no_date_and_ignores_conversation_keys():
    """ChatTemplateInputs (lib.rs) has no date_string: official 3.1 writes its own default date, and
    a llamatpl conversation file's extra keys are not passed."""
    body = {"messages": [{"role": "user", "content": "Hello!"}], "date_string": "01 Jan 2030",
            "tools_in_user_message": False, "add_generation_prompt": False}
    expected = (f"{SYSTEM_31}{EOT}<|start_header_id|>user<|end_header_id|>\n\nHello!{EOT}"
                "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert _tgi(body) == expected


def test_official_32_reads_the_clock():
    """chat_template.rs registers strftime_now: official 3.2 writes today's date."""
    out = _tgi({"messages": [{"role": "user", "content": "Hi"}]}, "official:3.2")
    assert "Today Date: 09 Mar 2025\n" in out


def test_official_31_tool_prompt_goes_after_the_last_message():
    """ChatTemplate::apply: the template reads `tools`, so only "\\n---\\n" + the tool prompt is added to
    the last message; ToolGrammar::apply (auto) adds no_tool; tools reach the template with their
    parameters as a JSON string under "arguments", keys sorted (minijinja maps are BTreeMaps)."""
    body = {"messages": [{"role": "user", "content": "Weather?"}],
            "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]}
    tool = ('{{\n    "function": {{\n        "arguments": "{{\\"type\\":\\"object\\"}}",\n        "description": {d},\n'
            '        "name": "{n}"\n    }},\n    "type": "function"\n}}\n\n')
    expected = (f"{BOS}<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
                "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                f"{EOT}<|start_header_id|>user<|end_header_id|>\n\n"
                "Given the following functions, please respond with a JSON for a function call with its proper "
                "arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, "
                "\"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n"
                + tool.format(d="null", n="w")
                + tool.format(d='"Open ended response with no specific tool selected"', n="no_tool")
                + "Weather?\n---\n" + DEFAULT_TOOL_PROMPT.rstrip() + EOT  # the prompt starts with "\n"; | trim ends it
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert _tgi(body) == expected


def test_tool_prompt_with_tools_json_when_template_ignores_tools():
    """use_default_tool_template: the tools' serde JSON goes in the appended text too; tool_choice
    picks one tool; tool_prompt replaces the default."""
    template = ChatTemplate("plain", "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}", "3.0", "given")
    body = {"messages": [{"role": "user", "content": "Hi"}], "tool_prompt": "Use one.",
            "tool_choice": {"type": "function", "function": {"name": "b"}},
            "tools": [{"type": "function", "function": {"name": "a", "parameters": {}}},
                      {"type": "function", "function": {"name": "b", "description": "B", "parameters": {"y": 1.0}}}]}
    assert _tgi(body, template) == ('[user]Hi\n---\n[{"type":"function","function":{"description":"B","name":"b",'
                                    '"arguments":"{\\"y\\":1.0}"}}]\nUse one.')
    assert _tgi({**body, "tool_choice": "none"}, template) == "[user]Hi"


PLAIN = ChatTemplate("plain", "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}", "3.0", "given")


@pytest.mark.parametrize("message, content", [
    ({"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": {"city": "Rome", "n": 2}}}]},
     '[{"id":"1","type":"function","function":{"description":null,"name":"f","arguments":"{\\"city\\":\\"Rome\\",\\"n\\":2}"}}]'),
    ({"role": "assistant", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"city\": \"Rome\"}"}}]},
     '[{"id":"1","type":"function","function":{"description":null,"name":"f","arguments":"\\"{\\\\\\"city\\\\\\": \\\\\\"Rome\\\\\\"}\\""}}]'),
    ({"role": "assistant", "content": None, "tool_calls": []}, "[]"),
    ({"role": "assistant", "content": "text wins", "tool_calls": [{"bad": 1}]}, "text wins"),
    ({"role": "user", "content": [{"type": "text", "text": "a "}, {"type": "image_url", "image_url": {"url": "u"}},
                                  {"type": "text", "text": "b"}]}, "a ![](u)b"),
    ({"role": "developer", "content": "dev", "name": "x", "tool_call_id": "7"}, "dev"),
])
def test_message_flattening(message, content):
    """From<Message> for TextMessage (lib.rs): what each message becomes (the last one is a user turn
    so the prefill cut does not apply)."""
    out = _tgi({"messages": [message, {"role": "user", "content": "."}]}, PLAIN)
    assert out == f"[{message['role']}]{content}[user]."


def test_variables_passed():
    """ChatTemplateInputs: messages, bos_token, eos_token, add_generation_prompt (always true), tools (none)."""
    template = ChatTemplate("vars", "{{ add_generation_prompt }}|{{ tools is none }}|{{ date_string is defined }}|"
                                    "{{ documents is defined }}|{{ bos_token }}|{{ eos_token }}|"
                                    "{{ messages[0].tool_call_id is defined }}|{{ messages[0]|tojson }}", "3.1", "given")
    body = {"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}], "add_generation_prompt": False,
            "date_string": "1 Jan", "documents": [{"text": "d"}], "chat_template_kwargs": {"date_string": "2 Jan"}}
    assert _tgi(body, template) == 'true|true|false|false|<|begin_of_text|>|<|eot_id|>|false|{"content":"x","role":"tool"}'


def test_prefill_cuts_after_the_final_assistant_content():
    """ChatTemplate::apply: rfind the last assistant content, cut after it, trim_end."""
    out = _tgi({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure"}]})
    assert out == f"{SYSTEM_31}{EOT}<|start_header_id|>user<|end_header_id|>\n\nHi{EOT}" \
                  "<|start_header_id|>assistant<|end_header_id|>\n\nSure"
    # a content the template trims is not found: nothing is cut
    out = _tgi({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure "}]})
    assert out.endswith(f"Sure{EOT}<|start_header_id|>assistant<|end_header_id|>\n\n")


@pytest.mark.parametrize("body, where, reason", [
    ({"messages": [{"content": "x"}]}, "messages[0].role", "missing"),
    ({"messages": [{"role": "user", "content": {"a": 1}}]}, "messages[0].content", "expected a string or a list"),
    ({"messages": [{"role": "user", "content": None}]}, "messages[0].content", "MessageBody"),
    ({"messages": [{"role": "user"}]}, "messages[0]", "MessageBody"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "url": "u"}]}]}, "messages[0].content[0].type",
     "not a part TGI reads"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}]}]},
     "messages[0].tool_calls[0].id", "missing"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                                                         "function": {"name": "f", "arguments": {}, "parameters": {}}}]}]},
     "messages[0].tool_calls[0].function", "duplicate field"),
    ({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
     "tools[0].function.parameters", "missing"),
    ({"messages": [{"role": "user", "content": "x"}], "tool_choice": "g",
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tool_choice", "no tool named 'g'"),
    ({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json", "value": {}},
      "tools": []}, "response_format", "mutually exclusive"),
    ({"messages": [{"role": "user", "content": "x"}], "tool_prompt": 3}, "tool_prompt", "expected a string"),
    ({"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function"}}, "tool_choice", "expected"),
])
def test_rejections(body, where, reason):
    with pytest.raises(EngineRejected) as info:
        _tgi(body)
    message = str(info.value)
    assert message.startswith(f"conversation: tgi rejects {where}: ") and reason in message and "\n" not in message


@pytest.mark.parametrize("source, error", [
    ("{{ 'x' * 4000000000 }}", LimitExceeded),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", LimitExceeded),
    ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", LimitExceeded),
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", LimitExceeded),
    ("{% for i in range(100) %}{% for j in range(2000) %}{{ 'x' * 100 }}{% endfor %}{% endfor %}", LimitExceeded),
    ("{{ messages.__class__.__mro__ }}", RenderError),
    ("{{ 10 ** 1000000000 }}", RenderError),
    ("line 1\n{% if %}", InvalidTemplate),
])
def test_hostile_templates_stay_bounded(source, error):
    template = ChatTemplate("hostile", source, "3.1", "given")
    start = time.monotonic()
    with pytest.raises(error) as info:
        _tgi({"messages": [{"role": "user", "content": "x"}]}, template)
    assert time.monotonic() - start < 15
    assert str(info.value).startswith("hostile") and "\n" not in str(info.value)
    # the engine keeps working after a worker crash
    assert _tgi({"messages": [{"role": "user", "content": "ok"}]}, PLAIN) == "[user]ok"


def test_raise_exception_is_located():
    template = ChatTemplate("t", "a\n{{ raise_exception('no tools here') }}", "3.1", "given")
    with pytest.raises(RenderError, match=r"^t line 2: minijinja template error: no tools here$"):
        _tgi({"messages": [{"role": "user", "content": "x"}]}, template)


def test_minijinja_is_set_up_as_the_router_does():
    """Environment::new(): no trim_blocks / lstrip_blocks, lenient undefined, pycompat methods, none
    renders as `none`, tojson compact; the binding's extra contrib filters are gone."""
    assert render_minijinja("{% if true %}\n  x{% endif %}|{{ ' a '.strip() }}|{{ u }}|{{ none }}|{{ {'b': 1}|tojson }}",
                            {}) == "\n  x|a||none|{\"b\":1}"
    for extra in ("{{ 'x'|truncate(1) }}", "{{ [1]|zip([2])|list }}", "{{ '%s'|format(1) }}", "{{ [1]|chain([2]) }}"):
        with pytest.raises(RenderError, match="unknown filter"):
            render_minijinja(extra, {})
    # defaults.rs at 2.8.0 registers `d` beside `default`; the request's maps are native, not Python dicts
    assert render_minijinja("{{ u|d('z') }}|{{ messages[0].keys }}|{{ messages[0] }}",
                            {"messages": [{"role": "user", "content": "x"}]}) == 'z||{"content": "x", "role": "user"}'
    with pytest.raises(RenderError, match="has no method named pop"):
        render_minijinja("{{ messages.pop() }}", {"messages": [1]})


def test_serde_json_numbers():
    """serde_json (ryu) number text, as lib.rs serialize_as_string writes arguments."""
    assert serde_json([1.0, 1e16, 1e-7, 0.0001, 1.5e300, 100, -0.5, 12345.678]) == \
        "[1.0,1e16,1e-7,0.0001,1.5e300,100,-0.5,12345.678]"


def test_no_engine_flags():
    with pytest.raises(UsageError, match="tgi has no flag"):
        get_engine("tgi", engine_args="--tool-prompt x")


def test_cli_rejection_is_one_line(tmp_path: Path):
    body = tmp_path / "req.json"
    body.write_text(json.dumps({"messages": [{"role": "user", "content": [{"type": "image"}]}]}))
    run = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(body), "--engine", "tgi"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().count("\n") == 0 and "tgi rejects messages[0].content[0].type" in run.stderr


def test_lint_lt004_uses_the_router_set_up(tmp_path: Path):
    """LT004 renders with the same minijinja set-up: no trim_blocks behind TGI, so the newline after a
    block tag stays and the prompt differs from transformers' (which trims it)."""
    path = tmp_path / "t.jinja"
    path.write_text("{% for m in messages %}\n{{ '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + "
                    "m.content + '<|eot_id|>' }}{% endfor %}", encoding="utf-8")
    assert any(f.code == "LT004" and "renders differently" in f.message for f in lint_paths([str(path)]))


def test_diff_verify_and_caps_run_through_tgi():
    """The other commands go through Engine.render / Engine.as_request: under tgi a tool reaches the
    template with its schema as serde_json text under `arguments` (lib.rs `Tool`,
    `serialize_as_string`), official 3.1 gets no `builtin_tools` (`ChatTemplateInputs`), and null
    content without tool calls is refused (`MessageBody`)."""
    diff = subprocess.run([sys.executable, "-m", "llamatpl", "diff", "official:3.1", "official:3.1",
                           "--engine-a", "transformers", "--engine-b", "tgi"], capture_output=True, text=True)
    assert diff.returncode == 0 and '+        "arguments": "{\\"type\\":\\"object\\"' in diff.stdout
    verify = subprocess.run([sys.executable, "-m", "llamatpl", "verify", "official:3.1", "--engine", "tgi"],
                            capture_output=True, text=True)
    assert verify.returncode == 1 and "as tgi builds it" in verify.stdout and "builtin_tools" in verify.stdout
    from llamatpl.probes.caps import capabilities
    from llamatpl.rendering.templates import resolve_template

    caps = {c.name: c for c in capabilities(resolve_template("official:3.1"), engine=get_engine("tgi"))}
    assert caps["system_role"].supported and caps["generation_prompt"].supported
    # as_request sends an object tool result as its JSON text (MessageContent is text or parts), so the
    # tool probes get through; the call itself reaches the template flattened to text
    assert caps["tool_responses"].supported and not caps["object_arguments"].supported
    assert not caps["null_content"].supported and "tgi rejects messages[1].content" in caps["null_content"].detail
