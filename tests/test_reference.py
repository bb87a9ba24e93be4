"""The reference encoder against Meta's own ChatFormat (llama-models) and the published golden."""

import json
from dataclasses import replace

from hypothesis import given

from llamatpl.rendering.conversation import Conversation
from llamatpl.verification.reference import encode
from llamatpl.strategies import conversations
from llamatpl.tokens import get_tokenizer
from test_tokens import GOLDEN_31_HELLO


def _chat_format():
    from llama_models.llama3.chat_format import ChatFormat
    from llama_models.llama3.tokenizer import Tokenizer

    return ChatFormat(Tokenizer.get_instance())


def _meta_messages(conv: Conversation, expected, strip: bool = False):
    """The same conversation as Meta's RawMessages; the 3.1 system block comes from our reference
    (ChatFormat leaves composing it to the caller) and everything else from the conversation."""
    from llama_models.datatypes import RawMessage, StopReason, ToolCall

    out = []
    messages = conv.messages
    if any(p.label == "system-block" for p in expected.pieces):
        first_turn = []
        for piece in expected.pieces[5:]:  # after BOS and the system header
            if piece.special:
                break
            first_turn.append(piece.text)
        out.append(RawMessage(role="system", content="".join(first_turn)))
        messages = messages[1:] if messages[0]["role"] == "system" else messages
    for m in messages:
        calls = m.get("tool_calls") or []
        if calls:
            fn = calls[0]["function"]
            args = json.loads(fn["arguments"]) if isinstance(fn["arguments"], str) else fn["arguments"]
            builtin = fn["name"] in (conv.variables.get("builtin_tools") or [])
            out.append(RawMessage(role="assistant", content="", stop_reason=StopReason.end_of_message if builtin
                                  else StopReason.end_of_turn,
                                  tool_calls=[ToolCall(call_id="1", tool_name=fn["name"], arguments=args)]))
        elif m["role"] in ("tool", "ipython"):
            content = m["content"]
            out.append(RawMessage(role="tool", content=content if isinstance(content, str) else
                                  json.dumps(content, ensure_ascii=False)))
        else:
            out.append(RawMessage(role=m["role"], content=m["content"].strip() if strip else m["content"]))
    return out


@given(conversations(version="3.0"))
def test_30_reference_equals_chat_format(conv):
    # Llama 3.0's own ChatFormat (meta-llama/llama3 llama/tokenizer.py:216-222 at 0053e6b) is llama-models'
    # header/content/eot layout with the content stripped: strip it, then let llama-models encode.
    conv = replace(conv, add_generation_prompt=True, continue_final_message=False)
    expected = encode(conv, version="3.0")
    meta = _chat_format().encode_dialog_prompt(_meta_messages(conv, expected, strip=True)).tokens
    assert expected.ids(get_tokenizer("3.0")) == meta


@given(conversations(version="3.1", tools=False))
def test_31_meta_dialect_equals_chat_format_with_builtin_calls(conv):
    conv = replace(conv, add_generation_prompt=True, continue_final_message=False)
    if conv.variables.get("builtin_tools") is None:
        return  # without built-ins every tool call is custom; covered below
    expected = encode(conv, version="3.1", dialect="meta")
    meta = _chat_format().encode_dialog_prompt(_meta_messages(conv, expected)).tokens
    assert expected.ids(get_tokenizer("3.1")) == meta


@given(conversations(version="3.1", builtin_tools=False))
def test_31_meta_dialect_equals_chat_format_with_custom_calls(conv):
    conv = replace(conv, add_generation_prompt=True, continue_final_message=False, variables={**conv.variables, "tools_in_user_message": False})
    expected = encode(conv, version="3.1", dialect="meta")
    meta = _chat_format().encode_dialog_prompt(_meta_messages(conv, expected)).tokens
    assert expected.ids(get_tokenizer("3.1")) == meta


def test_reference_matches_published_golden():
    conv = Conversation.from_data({"messages": [{"role": "user", "content": "Hello!"}], "date_string": "26 Jul 2024"})
    assert encode(conv, version="3.1").ids(get_tokenizer("3.1")) == GOLDEN_31_HELLO


def test_reference_keeps_content_verbatim_and_special_text_as_text():
    conv = Conversation.from_data([{"role": "user", "content": " <|eot_id|>\n"}])
    ids = encode(conv, version="3.1").ids(get_tokenizer("3.1"))
    assert ids.count(128009) == 2  # the system block's and the real end of turn
    assert " <|eot_id|>\n<|eot_id|>" in encode(conv, version="3.1").prompt
    assert "\n\n<|eot_id|><|eot_id|>" in encode(conv, version="3.0").prompt  # 3.0 strips
