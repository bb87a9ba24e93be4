"""Conversations of one shape encoded from one set of renders (``llamatpl.train.shapes``): each prompt
checked against transformers' own ``apply_chat_template``, each span against rendering that
conversation's own prefixes; and the opacity check (``llamatpl.rendering.opacity``) that decides
where the shortcut applies, refusing every template that looks into a content, with the proof that
such a template still gets each conversation's own render."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamatpl.errors import LlamatplError
from llamatpl.rendering.conversation import parse_line
from llamatpl.rendering.limits import Limits
from llamatpl.rendering.opacity import content_is_opaque
from llamatpl.rendering.templates import ChatTemplate, resolve_template
from llamatpl.strategies import contents, conversations
from llamatpl.train.masks import MaskJob
from llamatpl.verification.compare import VERIFY_TODAY

from conftest import hf_render

# texts that a stand-in must not be confused with, and that trim and tojson treat apart
AWKWARD = st.sampled_from([
    "  padded both ends \n", "\ttab first", "last newline\n", 'a "quoted" \\ backslash', "line\nbreak",
    "\u2029paragraph\u2029", "\ue000\\0\ue001", '"\u2029\ue000\\\\1\ue001\u2029"', "\u3000wide space\u3000",
    "\x1cfile sep\x1f", "<|eot_id|> in the text", "\u00e9\u00e8 \U0001f600", " ", "",
])


def _with_contents(data: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """``data`` with every text content that is not blank replaced by another that is not blank."""
    out = json.loads(json.dumps(data))
    for message in out["messages"]:
        content = message.get("content")
        if isinstance(content, str) and content.strip():
            new = draw(st.one_of(contents(), AWKWARD))
            message["content"] = new if new.strip() else new + "x"
    return out


def _line(data: dict[str, Any], number: int) -> Any:
    return parse_line(f"shapes.jsonl:{number}", json.dumps(data).encode())


def _outcome(job: MaskJob, conversation: Any) -> Any:
    """(prompt, spans, ids, mask), or the error's type and message."""
    try:
        encoded = job.encode(conversation)
    except LlamatplError as exc:
        return type(exc).__name__, str(exc)
    return encoded.prompt, encoded.spans, encoded.input_ids, encoded.assistant_mask


@pytest.mark.parametrize("name", ["official:3.0", "official:3.1", "official:3.2", "tuned:3.1", "tuned:3.2",
                                  "tuned:3.2-vision"])
@given(data=st.data())
def test_conversations_of_one_shape_encode_as_their_own_renders(name, data, hf_tokenizer):
    template = resolve_template(name)
    version = template.version
    assert content_is_opaque(template.text)
    base = data.draw(conversations(version=version)).to_data()
    base.setdefault("date_string", "26 Jul 2024")  # transformers would read its own clock
    rows = [base, *(_with_contents(base, data.draw) for _ in range(3))]
    shaped = MaskJob(template, today=VERIFY_TODAY)
    for number, row in enumerate(rows):
        alone = MaskJob(template, today=VERIFY_TODAY)  # a fresh job renders this row for itself
        outcome = _outcome(shaped, _line(row, number))
        assert outcome == _outcome(alone, _line(row, number)), f"row {number}"
        if isinstance(outcome[0], str) and len(outcome) == 4:
            assert outcome[0] == hf_render(hf_tokenizer, template.text_for(has_tools="tools" in row), row)
    if not base.get("continue_final_message") and len(outcome) == 4:  # the shortcut was taken, not skipped
        assert [shape for shape in shaped._shape_store.kept.values() if shape is not None]


def test_a_repeated_shape_renders_nothing_after_the_second_time(monkeypatch):
    template = resolve_template("official:3.1")
    job = MaskJob(template, today=VERIFY_TODAY)
    rows = [{"messages": [{"role": "system", "content": f" system {n} "}, {"role": "user", "content": f"q{n}"},
                          {"role": "assistant", "content": f"answer\n{n}\n"}], "add_generation_prompt": False}
            for n in range(5)]
    renders = []
    original = MaskJob._render_spans
    monkeypatch.setattr(MaskJob, "_render_spans", lambda self, c: renders.append(c) or original(self, c))
    prompts = [job.encode(_line(row, n)).prompt for n, row in enumerate(rows)]
    assert len(renders) == 4  # row 0; row 1, its shape and the probe; rows 2-4 none
    assert prompts[4] == ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
                          "December 2023\nToday Date: 26 Jul 2024\n\nsystem 4<|eot_id|><|start_header_id|>user"
                          "<|end_header_id|>\n\nq4<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                          "answer\n4<|eot_id|>")


def test_a_row_past_the_length_limit_fails_as_its_own_render_does():
    template = resolve_template("official:3.1")
    limits = Limits(max_chars=400)
    rows = [[{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]
            for text in ("one", "two", "x" * 500)]
    shaped = MaskJob(template, today=VERIFY_TODAY, limits=limits)
    outcomes = [_outcome(shaped, _line({"messages": row}, n)) for n, row in enumerate(rows)]
    alone = _outcome(MaskJob(template, today=VERIFY_TODAY, limits=limits), _line({"messages": rows[2]}, 2))
    assert outcomes[2] == alone and len(alone) == 2  # an error, the same one


HEAD = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
TAIL = "<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"

# each writes something that depends on what a content holds, not only on whether it is there
LOOKING = {
    "length": "{% if m.content|length > 4 %}LONG {% endif %}{{ m.content }}",
    "comparison": "{% if m.content == 'hi' %}HELLO {% endif %}{{ m.content }}",
    "membership": "{% if 'x' in m.content %}X {% endif %}{{ m.content }}",
    "slice": "{{ m.content[:2] }}",
    "index": "{{ m.content[0] }}{{ m.content }}",
    "iteration": "{% for c in m.content %}{{ c }}.{% endfor %}",
    "method": "{% if m.content.startswith('x') %}X {% endif %}{{ m.content }}",
    "filter": "{{ m.content|upper }}",
    "joined then trimmed": "{{ (m.content ~ ' ')|trim }}",
    "trimmed after a join": "{{ ('  ' + m.content)|trim }}",
    "message as JSON": "{{ m|tojson }}",
    "message written": "{{ m }}",
    "computed key": "{{ m['con' ~ 'tent']|length }}",
    "items": "{% for k, v in m.items() %}{{ v|length }}{% endfor %}",
    "map": "{{ messages|map(attribute='content')|join('|')|length }}",
    "previous item": "{% if loop.previtem is defined %}{{ loop.previtem.content|length }}{% endif %}{{ m.content }}",
    "loop passed on": "{% macro p(l) %}{{ l.nextitem.content|length if l.nextitem else '' }}{% endmacro %}"
                      "{{ p(loop) }}{{ m.content }}",
    "macro default": "{% macro d(t=messages[0].content) %}{{ t|length }}{% endmacro %}{{ d() }}{{ m.content }}",
    "set then compared": "{% set c = m.content %}{% if c < 'm' %}EARLY {% endif %}{{ c }}",
    "namespace": "{% set ns = namespace(c='') %}{% set ns.c = m.content %}{{ ns.c|length }}",
    "macro": "{% macro w(t) %}{% if t|length > 3 %}L{% endif %}{{ t }}{% endmacro %}{{ w(m.content) }}",
    "format": "{{ '%-8s|'|format(m.content) }}",
    "repeat": "{{ m.content * 2 }}",
    "string then length": "{{ m.content|string|length }}",
    "test": "{% if m.content is eq('hi') %}HELLO {% endif %}{{ m.content }}",
    "dict literal": "{{ {'c': m.content}|tojson|length }}",
    "reassigned where known": "{% for x in messages %}{% if x.content is not string %}{% set x = m %}"
                              "{{ x.content|length }}{% endif %}{% endfor %}{{ m.content|length }}",
    "known on the wrong side": "{% if m.content is string %}{{ m.content|length }}{% endif %}",
}


@pytest.mark.parametrize("look", sorted(LOOKING))
def test_a_template_that_looks_into_content_is_not_read_off_a_shape(look, hf_tokenizer):
    text = HEAD + LOOKING[look] + TAIL
    assert not content_is_opaque(text)
    template = ChatTemplate(name=f"looking-{look}", text=text, version="3.1", version_reason="test")
    job = MaskJob(template, today=VERIFY_TODAY)
    for number, answer in enumerate(["hi", "hello there", "xylophone", "m", "zebra crossing"]):
        row = {"messages": [{"role": "user", "content": answer}, {"role": "assistant", "content": answer}],
               "add_generation_prompt": False}
        outcome = _outcome(job, _line(row, number))
        if len(outcome) == 4:
            assert outcome[0] == hf_render(hf_tokenizer, text, row), (look, answer)


@pytest.mark.parametrize("body", [
    "{{ m.content }}", "{{ m.content|trim }}", "{{ '[' + m.content|trim + ']' }}", "{{ m['content']|tojson }}",
    "{% if m.content %}{{ m.content ~ '!' }}{% endif %}", "{% set t = m.content|trim %}{{ t|tojson }}",
    "{% if m.content is string %}{{ m.content }}{% else %}{{ m.content|tojson }}{% endif %}",
    "{% macro w(t) %}<{{ t }}>{% endmacro %}{{ w(m.content|trim) }}",
    "{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{{ p.text|length }}{% endfor %}"
    "{% endif %}",
    "{% if m.content is mapping %}{{ m.content.text }}{% elif m.content is string %}{{ m.content }}"
    "{% else %}{{ m.content|length }}{% endif %}",
    "{{ m.content|length if m.content is not string else m.content }}",
])
def test_a_template_that_only_writes_content_is_read_off_a_shape(body, hf_tokenizer):
    text = HEAD + body + TAIL
    assert content_is_opaque(text)
    template = ChatTemplate(name="writing", text=text, version="3.1", version_reason="test")
    job = MaskJob(template, today=VERIFY_TODAY)
    for number, answer in enumerate(["hi", "  spaced out  ", 'say "\\n"\n', "\u2029\ue000\\7\ue001\u2029", "last"]):
        row = {"messages": [{"role": "user", "content": answer}, {"role": "assistant", "content": answer}],
               "add_generation_prompt": False}
        assert _outcome(job, _line(row, number))[0] == hf_render(hf_tokenizer, text, row), answer
    assert any(shape is not None for shape in job._shape_store.kept.values())


def test_a_template_that_writes_the_stand_ins_own_characters_still_gets_each_conversations_render(hf_tokenizer):
    # the content trimmed between two U+2029 looks like a stand-in written untrimmed; rows whose
    # contents are themselves padded so come first, where the shape is learnt (the probe tells)
    text = HEAD + "{{ '\\u2029' ~ m.content|trim ~ '\\u2029' }}" + TAIL
    template = ChatTemplate(name="padding", text=text, version="3.1", version_reason="test")
    job = MaskJob(template, today=VERIFY_TODAY)
    for number, answer in enumerate(["\u2029hi\u2029", "\u2029yo\u2029", "plain", "  spaced  "]):
        row = {"messages": [{"role": "user", "content": answer}, {"role": "assistant", "content": answer}],
               "add_generation_prompt": False}
        assert _outcome(job, _line(row, number))[0] == hf_render(hf_tokenizer, text, row), answer


def test_a_template_that_writes_a_stand_in_of_its_own_still_gets_each_conversations_render(hf_tokenizer):
    text = HEAD + "{{ m.content }}{{ '\\u2029\\ue000\\\\7\\ue001\\u2029' }}" + TAIL
    template = ChatTemplate(name="forging", text=text, version="3.1", version_reason="test")
    job = MaskJob(template, today=VERIFY_TODAY)
    for number, answer in enumerate(["one", "two", "three"]):
        row = {"messages": [{"role": "user", "content": answer}, {"role": "assistant", "content": answer}],
               "add_generation_prompt": False}
        assert _outcome(job, _line(row, number))[0] == hf_render(hf_tokenizer, text, row), answer
