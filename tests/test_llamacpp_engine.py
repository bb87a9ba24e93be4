"""``--engine llama.cpp`` (b10573): request handling pinned to llama.cpp's source and its own tests.

Expected strings from llama.cpp's tests live in tests/data/llamacpp/llamacpp_tests.json with the
test file and test name they come from; the hand-checked cases below cite the source function
whose behaviour they pin (tools/server/server-common.cpp, common/chat.cpp,
common/chat-auto-parser-generator.cpp at commit d775b8967).
"""

import json
from pathlib import Path

import pytest

from llamatpl.engines import get_engine
from llamatpl.engines.prompt import render
from llamatpl.errors import EngineRejected, RenderError, UsageError
from llamatpl.rendering.conversation import Conversation
from llamatpl.rendering.renderer import render_variables
from llamatpl.rendering.templates import ChatTemplate, resolve_template

DATA = json.loads((Path(__file__).parent / "data" / "llamacpp" / "llamacpp_tests.json").read_text())
TODAY = "2026-12-02"
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def llama(body, template="official:3.1", engine_args=""):
    return render(body, template=template, engine="llama.cpp", engine_args=engine_args, today=TODAY)


def probe_template(text):
    return ChatTemplate("probe", text, "3.1", "given", special_tokens={"bos_token": "<|begin_of_text|>",
                                                                        "eos_token": "<|eot_id|>"})


def user(text="Hi"):
    return {"role": "user", "content": text}


# ------------------------------------------------------------------ llama.cpp's own expectations

@pytest.mark.parametrize("case", DATA["chat_template"], ids=lambda c: c["source"].split(",")[1])
def test_chat_template_expectations(case):
    tpl = ChatTemplate("case", case["template"], "3.0", "given",
                       special_tokens={"bos_token": case["bos_token"], "eos_token": case["eos_token"]})
    assert render({"messages": case["messages"]}, template=tpl, engine="llama.cpp") == case["expected"]


@pytest.mark.parametrize("case", DATA["jinja"], ids=lambda c: c["source"].split(", ")[-1])
def test_jinja_expectations(case):
    assert render_variables(case["template"], case["variables"], flavour="llama.cpp") == case["expected"]


# ------------------------------------------------------------------ date (common_chat_extra_context)

def test_date_string_is_today_not_the_templates_default():
    assert "Today Date: 02 Dec 2026\n" in llama({"messages": [user()]})


def test_request_kwargs_override_the_date_and_a_conversation_files_variables_are_kwargs():
    body = {"messages": [user()], "chat_template_kwargs": {"date_string": "01 Jan 2025"}}
    assert "Today Date: 01 Jan 2025\n" in llama(body)
    assert "Today Date: 03 Mar 2025\n" in llama({"messages": [user()], "date_string": "03 Mar 2025"})
    assert "Today Date: 04 Apr 2025\n" in llama({"messages": [user()]},
                                                engine_args="--chat-template-kwargs '{\"date_string\": \"04 Apr 2025\"}'")


def test_strftime_now_and_datetime_follow_today():
    tpl = probe_template("{{ strftime_now('%Y-%m-%d') }}|{{ datetime }}")
    assert render({"messages": [user()]}, template=tpl, engine="llama.cpp", today=TODAY) == "2026-12-02|Dec 02 2026"


# ------------------------------------------------------------------ prefill (oaicompat_chat_params_parse, generate_parser)

def test_trailing_assistant_is_left_open_without_generation_prompt():
    out = llama({"messages": [user(), {"role": "assistant", "content": "Sure"}]})
    assert out.endswith("Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nSure")


def test_no_prefill_assistant_closes_the_turn_and_adds_the_generation_prompt():
    out = llama({"messages": [user(), {"role": "assistant", "content": "Sure"}]}, engine_args="--no-prefill-assistant")
    assert out.endswith("Sure<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")


def test_prefilled_parts_are_joined_with_a_blank_line():
    # common_chat_msg::render_content's default delimiter is "\n\n"
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert llama({"messages": [user(), {"role": "assistant", "content": parts}]}).endswith("\n\na\n\nb")


def test_two_trailing_assistants_and_continue_with_generation_prompt_are_rejected():
    two = {"messages": [user(), {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}
    with pytest.raises(EngineRejected, match="Cannot have 2 or more assistant messages at the end of the list."):
        llama(two)
    with pytest.raises(EngineRejected, match="Cannot set both add_generation_prompt and continue_final_message"):
        llama({"messages": [user(), {"role": "assistant", "content": "a"}], "continue_final_message": True})
    out = llama({"messages": [user(), {"role": "assistant", "content": "a"}], "continue_final_message": True,
                 "add_generation_prompt": False})
    assert out.endswith("<|end_header_id|>\n\na")


def test_add_generation_prompt_is_defined_only_when_true():
    tpl = probe_template("{{ add_generation_prompt is defined }}")
    assert render({"messages": [user()], "add_generation_prompt": False}, template=tpl, engine="llama.cpp") == "False"
    assert render({"messages": [user()]}, template=tpl, engine="llama.cpp") == "True"


# ------------------------------------------------------------------ content (normalizer, msgs_parse)

def test_text_parts_joined_with_newline_and_null_content_is_empty():
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert "<|end_header_id|>\n\na\nb<|eot_id|>" in llama({"messages": [{"role": "user", "content": parts}]})
    tpl = probe_template("{{ messages[0].content | tojson }}")
    assert render({"messages": [{"role": "user", "content": None}]}, template=tpl, engine="llama.cpp") == '""'


def test_developer_becomes_system():
    out = llama({"messages": [{"role": "developer", "content": "Be brief."}, user()]})
    assert "Today Date: 02 Dec 2026\n\nBe brief.<|eot_id|>" in out


def test_string_content_becomes_text_parts_when_the_string_probe_fails():
    out = llama({"messages": [user("Hello")]}, template="official:3.2-vision")
    assert "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>" in out


@pytest.mark.parametrize(("message", "path", "reason"), [
    ({"role": "tool", "tool_call_id": "c1", "content": {"temp": 21}}, "messages[1].content",
     "Expected 'content' to be a string or an array"),
    ({"role": "user", "content": [{"type": "image"}]}, "messages[1].content[0].type", "unsupported content[].type"),
    ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}, "messages[1].content[0]",
     "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"),
    ({"role": "user"}, "messages[1]", "All non-assistant messages must contain 'content'"),
    ({"role": "assistant"}, "messages[1]", "Assistant message must contain either 'content' or 'tool_calls'!"),
])
def test_rejections_use_llamacpps_wording(message, path, reason):
    with pytest.raises(EngineRejected) as info:
        llama({"messages": [user(), message]})
    assert info.value.message == f"conversation: llama.cpp rejects {path}: {reason}"


# ------------------------------------------------------------------ tool calls (func_args_not_string, msgs_parse)

def tool_turn(arguments, template="official:3.1"):
    call = {**CALL, "function": {"name": "get_weather", "arguments": arguments}}
    return llama({"messages": [user(), {"role": "assistant", "content": None, "tool_calls": [call]}], "tools": [TOOL],
                  "add_generation_prompt": False}, template=template, engine_args="--no-prefill-assistant")


def test_json_text_arguments_are_parsed_when_the_template_reads_objects():
    assert '{"name": "get_weather", "parameters": {"city": "Rome"}}' in tool_turn('{"city": "Rome"}')
    assert '{"name": "get_weather", "parameters": {"city": "Rome"}}' in tool_turn({"city": "Rome"})


def test_malformed_arguments_are_rejected_when_parsed():
    with pytest.raises(EngineRejected, match="Failed to parse tool call arguments as JSON"):
        tool_turn("{not json")


def test_object_arguments_reach_a_string_template_as_compact_json():
    tpl = probe_template("{% for m in messages %}{% for c in m.tool_calls or [] %}[{{ c.function.arguments }}]"
                         "{% endfor %}{% endfor %}")
    assert tool_turn({"city": "Rome", "n": 1}, template=tpl) == '[{"city":"Rome","n":1}]'
    assert tool_turn("{not json", template=tpl) == "[{not json]"


def test_tool_calls_need_a_type():
    call = {"function": {"name": "f", "arguments": "{}"}}
    with pytest.raises(EngineRejected, match="Missing tool call type"):
        llama({"messages": [user(), {"role": "assistant", "tool_calls": [call]}, user()]})


def test_empty_tool_calls_are_dropped():
    tpl = probe_template("{{ messages[1].tool_calls is defined }}")
    body = {"messages": [user(), {"role": "assistant", "content": "x", "tool_calls": []}, user()]}
    assert render(body, template=tpl, engine="llama.cpp") == "False"


# ------------------------------------------------------------------ tools and documents (tools_parse, direct_apply)

def test_tools_rebuilt_documents_dropped_and_tools_undefined_when_absent():
    tpl = probe_template("{{ tools | tojson }}|{{ documents is defined }}")
    tool = {"type": "function", "extra": 1, "function": {"name": "f", "strict": True}}
    out = render({"messages": [user()], "tools": [tool], "documents": [{"text": "d"}]}, template=tpl, engine="llama.cpp")
    assert out == '[{"type": "function", "function": {"name": "f", "description": "", "parameters": {}}}]|False'
    undefined = probe_template("{{ tools is defined }}")
    for body in ({"messages": [user()]}, {"messages": [user()], "tools": []}):
        assert render(body, template=undefined, engine="llama.cpp") == "False"


# ------------------------------------------------------------------ flags, limits

def test_flags_are_checked():
    with pytest.raises(UsageError):
        get_engine("llama.cpp", engine_args="--chat-template-kwargs '[1]'")
    with pytest.raises(UsageError, match="--no-jinja"):
        get_engine("llama.cpp", engine_args="--no-jinja")
    assert get_engine("llama.cpp").release == "b10573"


def test_reasoning_flag_sets_enable_thinking():
    tpl = probe_template("{{ enable_thinking }}")
    assert render({"messages": [user()]}, template=tpl, engine="llama.cpp") == "False"
    assert render({"messages": [user()]}, template=tpl, engine="llama.cpp", engine_args="--reasoning on") == "True"


FIXTURES = sorted((Path(__file__).parent.parent / "fixtures").glob("*.json"))


@pytest.mark.parametrize("name", ["official:3.0", "official:3.1", "official:3.2", "official:3.2-vision", "tuned:3.1"])
def test_fixtures_render_or_are_rejected_with_a_reason(name):
    tpl = resolve_template(name)
    rejected = []
    for path in FIXTURES:
        try:
            out = render(json.loads(path.read_text()), template=tpl, engine="llama.cpp", today=TODAY)
        except EngineRejected as exc:
            rejected.append(exc.message.split(" rejects ")[1])
            continue
        assert out.startswith("<|begin_of_text|>")
    # object tool results, a `continue_final_message` with the default add_generation_prompt, image parts
    assert len(rejected) == 5, rejected


@pytest.mark.parametrize("snippet", [
    # runtime.cpp member_expression::execute_impl: a static member is looked up as a builtin first
    "{% set fns = namespace(items=[]) %}{% set fns.items = fns.items + [1] %}{{ fns.items }}",
    # value.cpp selectattr: two arguments are (test, value); "function.arguments" is no test
    "{{ calls | selectattr('function.arguments', 'string') | list }}",
    # value.cpp selectattr: input must be an array
    "{{ 'text' | rejectattr('type', 'defined') | list }}",
])
def test_constructs_that_fail_on_llamacpps_jinja(snippet):
    with pytest.raises(RenderError):
        render_variables(snippet, {"calls": [{"function": {"arguments": "{}"}}]}, flavour="llama.cpp")
    render_variables(snippet, {"calls": [{"function": {"arguments": "{}"}}]})  # jinja2 renders them


@pytest.mark.parametrize("name", ["tuned:3.1", "tuned:3.2", "tuned:3.2-vision"])
def test_tuned_templates_render_every_fixture_llamacpp_accepts(name):
    for path in FIXTURES:
        try:
            out = render(json.loads(path.read_text()), template=name, engine="llama.cpp", today=TODAY)
        except EngineRejected:
            continue
        assert out.startswith("<|begin_of_text|>")


def test_lists_print_as_llamacpp_writes_them():
    # value.cpp:value_to_string_repr: single quotes without escapes, JSON when the string holds a quote
    text = "{{ x|trim }}|{{ y }}"
    out = render_variables(text, {"x": [{"type": "text", "text": "a\nb"}], "y": {"k": "it's"}}, flavour="llama.cpp")
    assert out == "[{'type': 'text', 'text': 'a\nb'}]|{'k': \"it's\"}"
    system = llama({"messages": [{"role": "system", "content": "One\nTwo"}, user()]}, template="official:3.2-vision")
    assert "[{'type': 'text', 'text': 'One\nTwo'}]<|eot_id|>" in system


def test_system_message_merged_when_the_template_never_reads_it():
    # caps.cpp system probe fails -> chat.cpp workaround::system_message_not_supported
    tpl = probe_template("{% for m in messages %}{% if m.role == 'user' %}[{{ m.content }}]{% endif %}{% endfor %}")
    body = {"messages": [{"role": "system", "content": "Sys"}, user("Hi")]}
    assert render(body, template=tpl, engine="llama.cpp") == "[Sys\nHi]"


def test_empty_trailing_assistant_adds_nothing():
    # generate_parser only appends the generation prompt when the continued message is not empty()
    out = llama({"messages": [user(), {"role": "assistant", "content": ""}]})
    assert out.endswith("Hi<|eot_id|>")


@pytest.mark.parametrize(("extra", "reason"), [
    ({"tool_choice": "sometimes"}, "Invalid tool_choice: sometimes"),
    ({"tools": [TOOL], "grammar": "root ::= x"}, "Cannot use custom grammar constraints with tools."),
    ({"json_schema": {}, "grammar": "root ::= x"}, "Cannot use both json_schema and grammar"),
    ({"top_logprobs": 2}, "top_logprobs requires logprobs to be set to true"),
])
def test_option_rejections(extra, reason):
    # tools/server/server-common.cpp:oaicompat_chat_params_parse; common/chat.cpp:common_chat_tool_choice_parse_oaicompat
    with pytest.raises(EngineRejected, match=reason.replace("(", r"\(")):
        llama({"messages": [user()], **extra})
