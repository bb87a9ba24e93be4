"""llamatpl renders exactly what transformers' apply_chat_template renders, raises included."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES, OFFICIAL, hf_render, official_text
from llamatpl import render
from llamatpl.errors import LlamatplError
from llamatpl.strategies import conversations


def _both(hf_tokenizer, template: str, data: dict):
    try:
        expected = ("ok", hf_render(hf_tokenizer, template, data))
    except Exception as exc:  # noqa: BLE001 - any failure of the oracle is what we compare
        expected = ("raises", type(exc).__name__)
    try:
        actual = ("ok", _render(template, data))
    except LlamatplError as exc:
        actual = ("raises", exc.message)
    return expected, actual


def _render(template: str, data: dict) -> str:
    import transformers

    from llamatpl.rendering.conversation import Conversation
    from llamatpl.rendering.renderer import render_text
    from llamatpl.rendering.templates import DEFAULT_SPECIAL_TOKENS

    # match the installed release: its input rules changed in 5.21 and 5.23
    return render_text(template, Conversation.from_data(data), special_tokens=DEFAULT_SPECIAL_TOKENS,
                       transformers=transformers.__version__)


def _assert_same(expected, actual):
    assert expected[0] == actual[0], f"transformers {expected} vs llamatpl {actual}"
    if expected[0] == "ok":
        assert actual[1] == expected[1]


@pytest.mark.parametrize("version", OFFICIAL)
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_fixture_renders_like_transformers(hf_tokenizer, fixture, version):
    data = json.loads(fixture.read_text(encoding="utf-8"))
    _assert_same(*_both(hf_tokenizer, official_text(version), data))


@pytest.mark.parametrize("version", OFFICIAL)
@given(data=st.data())
def test_generated_conversations_render_like_transformers(hf_tokenizer, version, data):
    conversation = data.draw(conversations(version=version))
    _assert_same(*_both(hf_tokenizer, official_text(version), conversation.to_data()))


def test_public_render_uses_official_template_by_version():
    prompt = render({"messages": [{"role": "user", "content": "Hello!"}]}, version="3.0")
    assert prompt == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                      "<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_today_pins_the_clock_of_32():
    prompt = render({"messages": [{"role": "user", "content": "hi"}]}, version="3.2", today="2024-07-26")
    assert "Today Date: 26 Jul 2024\n" in prompt


def test_template_that_raises_is_one_clear_error():
    conv = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": []}]}
    with pytest.raises(LlamatplError, match="only supports single tool-calls"):
        render(conv, version="3.1")


def test_render_never_changes_the_callers_conversation():
    import copy

    data = {"messages": [{"role": "user", "content": "Write a haiku."},
                         {"role": "assistant", "content": "Autumn moonlight", "tool_calls": None}],
            "continue_final_message": True}
    before = copy.deepcopy(data)
    for version in OFFICIAL:
        render(data, version=version)
    assert data == before


def test_null_content_follows_the_matched_transformers_release():
    data = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}],
            "add_generation_prompt": False}
    assert "\n\nNone<|eot_id|>" in render(data, version="3.0", transformers="5.20")
    assert "\n\n<|eot_id|>" in render(data, version="3.0", transformers="5.23")
