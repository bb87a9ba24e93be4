"""Conversation loading: validation names the file and JSON path; nothing the template sees changes."""

import json

import pytest

from llamatpl.rendering.conversation import Conversation, iter_conversations, load_conversation
from llamatpl.errors import InputError


def _bad(tmp_path, data, name="conversation.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    with pytest.raises(InputError) as info:
        load_conversation(str(path))
    return info.value.message


def test_string_arguments_that_are_not_json_are_named_precisely(tmp_path):
    data = {"messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{not json"}}]}]}
    message = _bad(tmp_path, data)
    assert message == f"{tmp_path}/conversation.json: messages[3].tool_calls[0].function.arguments: not valid JSON"


@pytest.mark.parametrize(("data", "expected"), [
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role: 'robot' is not one of"),
    ({"messages": [{"content": "x"}]}, "messages[0].role: missing"),
    ({"messages": []}, "messages: is empty"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content: expected a string"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text: expected a string"),
    ({"messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}, "tools: expected a list"),
    ({"messages": [{"role": "user", "content": "x"}], "date_string": 5}, "date_string: expected a string"),
    ({"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": "yes"}, "add_generation_prompt: expected true"),
    ([{"role": "user", "tool_calls": []}], "[0].tool_calls: only assistant messages"),
    ("{\"messages\": [", "not valid JSON"),
])
def test_invalid_input_gives_one_line_naming_the_place(tmp_path, data, expected):
    message = _bad(tmp_path, data)
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_conversation(str(tmp_path / "nope.json"))


def test_loader_never_changes_what_the_template_sees(tmp_path):
    data = {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\": 1}"}}],
                          "x-custom": [1]}], "custom_var": {"k": None}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    conv = load_conversation(str(path))
    assert conv.messages == data["messages"]
    assert "content" not in conv.messages[0]
    assert conv.messages[0]["tool_calls"][0]["function"]["arguments"] == "{\"a\": 1}"
    assert conv.variables == {"custom_var": {"k": None}}
    assert Conversation.from_data(conv.to_data(), name=conv.name) == conv
    assert conv.add_generation_prompt is True


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "a"}]}\n\n[{"role": "bad"}]\n')
    conversations = iter_conversations(str(path))
    assert next(conversations).messages[0]["content"] == "a"
    with pytest.raises(InputError, match=r"batch.jsonl:3: \[0\].role"):
        next(conversations)


def test_continue_final_message_turns_generation_prompt_off_by_default():
    conv = Conversation.from_data({"messages": [{"role": "user", "content": "a"}], "continue_final_message": True})
    assert conv.add_generation_prompt is False
