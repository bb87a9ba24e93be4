"""Template resolution: names, versions, files, tokenizer_config.json, model folders and GGUF."""

import json

import pytest

from conftest import official_text
from llamatpl import render, resolve_template
from llamatpl.errors import InvalidTemplate, LlamatplError, TemplateNotFound
from llamatpl.versions import detect_version

HELLO = {"messages": [{"role": "user", "content": "Hello!"}]}


@pytest.mark.parametrize("version", ["3.0", "3.1", "3.2", "3.2-vision"])
def test_official_templates_are_detected_as_their_version(version):
    assert detect_version(official_text(version)).version == version


def test_version_alone_means_official_and_33_is_31():
    assert resolve_template(version="3.3").name == "official:3.1"
    assert resolve_template("3.0").text == official_text("3.0")
    assert resolve_template("official:3.2").version == "3.2"


def test_unknown_names_fail_clearly():
    with pytest.raises(LlamatplError, match="unknown Llama version '3.9'"):
        resolve_template(version="3.9")
    with pytest.raises(TemplateNotFound, match="no such file"):
        resolve_template("missing/template.jinja")


def test_jinja_file_with_detected_version(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text(official_text("3.0"))
    tpl = resolve_template(str(path))
    assert tpl.version == "3.0" and tpl.version_reason.startswith("detected")
    assert resolve_template(str(path), version="3.1").version == "3.1"


def test_tokenizer_config_named_list_picks_tool_use_with_tools(tmp_path):
    config = {"bos_token": {"content": "<BOS>"}, "chat_template": [
        {"name": "default", "template": "{{ bos_token }}plain"},
        {"name": "tool_use", "template": "{{ bos_token }}tools:{{ tools|length }}"}]}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    tpl = resolve_template(str(tmp_path))  # a model folder
    assert render(HELLO, template=tpl) == "<BOS>plain"
    assert render({**HELLO, "tools": [{"type": "function"}]}, template=tpl) == "<BOS>tools:1"


def test_model_folder_prefers_chat_template_jinja(tmp_path):
    (tmp_path / "chat_template.jinja").write_text("from-jinja {{ bos_token }}")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "from-config", "bos_token": "<s>"}))
    assert render(HELLO, template=str(tmp_path)) == "from-jinja <s>"


def test_tokenizer_config_without_template(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text("{}")
    with pytest.raises(TemplateNotFound, match="has no \"chat_template\""):
        resolve_template(str(tmp_path / "tokenizer_config.json"))


def test_gguf_chat_template_metadata(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(official_text("3.1"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tpl = resolve_template(str(path))
    assert tpl.text == official_text("3.1") and tpl.version == "3.1"


def test_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.jinja"
    path.write_text("ok\n{% if x %}\nno end")
    with pytest.raises(InvalidTemplate) as info:
        render(HELLO, template=str(path))
    assert info.value.line is not None and str(path) in info.value.message
