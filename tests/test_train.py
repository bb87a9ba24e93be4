"""Training masks: read off the rendered template, checked against Meta's reference pieces and against
transformers' own ``return_assistant_tokens_mask`` on the exported ``{% generation %}`` template."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from llamatpl.errors import RenderError
from llamatpl.rendering.conversation import Conversation, load_conversation
from llamatpl.rendering.templates import resolve_template
from llamatpl.strategies import conversations
from llamatpl.tokens.tokenizer import get_tokenizer
from llamatpl.train.check import check_mask
from llamatpl.train.generation_tags import with_generation_tags
from llamatpl.train.masks import IGNORE_INDEX, MaskError, MaskJob
from llamatpl.verification.compare import VERIFY_TODAY

from conftest import FIXTURES, hf_render

TEMPLATES = ["official:3.0", "official:3.1", "official:3.2", "official:3.2-vision", "tuned:3.1", "tuned:3.2",
             "tuned:3.2-vision"]


def _job(name: str) -> MaskJob:
    return MaskJob(resolve_template(name), today=VERIFY_TODAY)


def _targets(job: MaskJob, conv: Conversation) -> str:
    """The masked tokens' text, each run of unmasked tokens shown as one '|'."""
    encoded = job.encode(conv)
    tokenizer = get_tokenizer(job.template.version)
    out = ""
    for token, mask in zip(encoded.input_ids, encoded.assistant_mask):
        out += tokenizer.token_text(token) if mask else ("" if out.endswith("|") else "|")
    return out


def test_mask_covers_content_tool_calls_python_tag_and_end_tokens():
    # Meta's format (llama-models chat_format.py): the assistant writes the call after its header,
    # <|python_tag|> before a built-in call, and <|eom_id|> after it; <|eot_id|> closes other turns
    job = _job("official:3.1")
    assert _targets(job, load_conversation("fixtures/tool-round-trip.json")) == (
        '|{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}<|eot_id|>'
        "|Yes, it is 24 °C and sunny in Paris.<|eot_id|>|")  # then the generation prompt
    assert _targets(job, load_conversation("fixtures/builtin-brave-search.json")) == (
        '|<|python_tag|>brave_search.call(query="latest price of 1oz gold")<|eom_id|>|')


def test_labels_are_ids_where_the_mask_is_one():
    encoded = _job("official:3.1").encode(load_conversation("fixtures/multi-turn.json"))
    assert encoded.assistant_mask[0] == 0 and encoded.input_ids[0] == 128000  # BOS
    assert encoded.assistant_mask[-4:] == [0, 0, 0, 0]  # the generation prompt
    assert encoded.labels == [t if m else IGNORE_INDEX for t, m in zip(encoded.input_ids, encoded.assistant_mask)]


@pytest.mark.parametrize("name", TEMPLATES)
def test_mask_equals_reference_pieces_wherever_token_exact(name):
    job = _job(name)
    seen = {"exact": 0, "differs": 0}

    @given(conversations(version=job.template.version))
    def check(conv: Conversation) -> None:
        try:
            result = check_mask(job, conv)
        except RenderError:  # a conversation the template refuses has no mask to check
            return
        if result.token_exact:
            seen["exact"] += 1
            assert result.agrees, result.difference
        else:
            seen["differs"] += 1
            assert result.difference and result.difference.startswith("token ")

    check()
    assert seen["exact"] > 0


def test_a_template_that_rewrites_earlier_turns_is_named(tmp_path):
    # the last assistant message is shown differently from earlier ones: no prefix of the prompt is stable
    path = tmp_path / "rewrites.jinja"
    path.write_text("{% for m in messages %}{{ m.role }}{% if loop.last %}!{% endif %}: {{ m.content }};"
                    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
    job = MaskJob(resolve_template(str(path), version="3.1"), today=date(2024, 7, 26))
    conv = Conversation.from_data({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                                {"role": "user", "content": "c"}]})
    with pytest.raises(MaskError, match=r"messages\[1\]: the template is not prefix-stable"):
        job.encode(conv)


def test_mask_read_off_any_template_not_a_known_format(tmp_path):
    path = tmp_path / "chatml.jinja"
    path.write_text("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    job = MaskJob(resolve_template(str(path), version="3.1"), today=date(2024, 7, 26))
    conv = Conversation.from_data({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                                   "add_generation_prompt": False})
    encoded = job.encode(conv)
    assert encoded.prompt[slice(*encoded.spans[0])] == "yo<|im_end|>\n"


# --------------------------------------------------------------- the exported {% generation %} template


def _hf_tokenizer(version: str, tmp_path_factory: Any) -> Any:
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from llamatpl.tokens.export import export_tokenizer

    folder = export_tokenizer(version, tmp_path_factory.mktemp(f"llama{version}"))
    return AutoTokenizer.from_pretrained(str(folder))


def _hf_mask(tokenizer: Any, template: str, conv: Conversation) -> tuple[list[int], list[int]]:
    data = json.loads(json.dumps(conv.to_data()))
    messages, tools = data.pop("messages"), data.pop("tools", None)
    out = tokenizer.apply_chat_template(messages, tools=tools, chat_template=template, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True,
                                        add_generation_prompt=data.pop("add_generation_prompt"), **data)
    return list(out["input_ids"]), list(out["assistant_masks"])


@pytest.mark.parametrize("name", TEMPLATES)
def test_exported_template_is_byte_identical_and_transformers_masks_as_llamatpl(name, tmp_path_factory):
    job = _job(name)
    tpl = job.template
    tagged = with_generation_tags(tpl.text)
    tokenizer = _hf_tokenizer(tpl.version, tmp_path_factory)

    @given(conversations(version=tpl.version, max_turns=2))
    def check(conv: Conversation) -> None:
        data = {"date_string": "26 Jul 2024", **conv.to_data()}  # transformers reads the clock itself
        conv = Conversation.from_data(data)
        try:
            original = hf_render(tokenizer, tpl.text, data)
        except Exception:  # noqa: BLE001 - the template refuses it: so must the exported one
            with pytest.raises(Exception):  # noqa: B017
                hf_render(tokenizer, tagged, data)
            return
        assert hf_render(tokenizer, tagged, data) == original
        if conv.continue_final_message:  # transformers gives no assistant mask for a prefill
            return
        ids, mask = _hf_mask(tokenizer, tagged, conv)
        encoded = job.encode(conv)
        assert ids == encoded.input_ids
        assert mask == encoded.assistant_mask

    check()


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_exported_template_renders_every_fixture_byte_identically(fixture: Path):
    from llamatpl.rendering.renderer import render_text

    conv = load_conversation(str(fixture))
    for name in TEMPLATES:
        tpl = resolve_template(name)
        try:
            want = render_text(tpl.text, conv, special_tokens=tpl.special_tokens, today=VERIFY_TODAY)
        except RenderError:
            continue
        assert render_text(with_generation_tags(tpl.text), conv, special_tokens=tpl.special_tokens,
                           today=VERIFY_TODAY) == want


# --------------------------------------------------------------- the prefix property (verify --prefix)


@pytest.mark.parametrize("name", [t for t in TEMPLATES if "vision" not in t])
def test_bundled_text_templates_are_prefix_stable(name):
    from llamatpl.verification.search import verify_template

    report = verify_template(resolve_template(name), examples=30, prefix=True)
    assert report.ok, report.failure and report.failure.error


@pytest.mark.parametrize("name", ["official:3.2-vision", "tuned:3.2-vision"])
def test_vision_templates_drop_the_system_block_when_a_later_turn_brings_an_image(name):
    # the vision templates leave the default system message out when images are present (as
    # llamatpl's reference does; docs/reference.md gives Meta's sources): an image arriving later
    # rewrites the start of the prompt, so a KV cache of the earlier turns cannot be reused
    from llamatpl.verification.search import verify_template

    report = verify_template(resolve_template(name), examples=60, prefix=True)
    assert report.failure is not None and report.failure.category == "not-prefix-stable"
    messages = report.failure.conversation.messages
    assert any(isinstance(m.get("content"), list) for m in messages[1:])
    assert report.failure.expected.startswith("<|begin_of_text|><|start_header_id|>system")


def test_verify_prefix_names_the_smallest_breaking_conversation(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "rewrites.jinja"  # marks the latest message: a later turn rewrites an earlier one
    path.write_text("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
                    "{{ m.content if m.content is string }}{% if loop.last %} (latest){% endif %}<|eot_id|>"
                    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n"
                    "{% endif %}")
    done = subprocess.run([sys.executable, "-m", "llamatpl", "verify", str(path), "--version", "3.0", "--prefix"],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "not-prefix-stable" in done.stdout
    assert "messages[:1] rendered closed is not a prefix of the whole conversation" in done.stdout


def test_export_cli_writes_stdout_or_a_file(tmp_path):
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "llamatpl", "export", *args], capture_output=True, text=True)

    shown = run("official:3.2", "--generation-tags")
    assert shown.returncode == 0
    assert shown.stdout == with_generation_tags(resolve_template("official:3.2").text)
    out = tmp_path / "tagged.jinja"
    assert run("official:3.2", "--generation-tags", "-o", str(out)).returncode == 0
    assert out.read_text(encoding="utf-8") == shown.stdout
    again = tmp_path / "again.jinja"
    assert run(str(out), "--version", "3.2", "--generation-tags", "-o", str(again)).returncode == 2  # already tagged
    assert run("official:3.2").returncode == 2
