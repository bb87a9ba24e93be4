"""LL109 judges special tokens by the model's own tokenizer when one comes with the template."""

import json

from llamatpl.lint import lint_paths

TEMPLATE = ("{{- bos_token }}{%- for m in messages %}{{- '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n'"
            " + m.content | trim + '<|eot_id|><|im_start|>' }}{%- endfor %}{%- if add_generation_prompt %}"
            "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}")
LLAMA = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]


def _config(tokens):
    return {"chat_template": TEMPLATE, "bos_token": "<|begin_of_text|>",
            "added_tokens_decoder": {str(128000 + i): {"content": t, "special": True} for i, t in enumerate(tokens)}}


def _ll109(path):
    return [(f.severity, f.message) for f in lint_paths([str(path)], select=["LL109"])]


def test_a_bare_template_gets_a_warning_naming_the_tokenizer_family(tmp_path):
    (tmp_path / "t.jinja").write_text(TEMPLATE)
    [(severity, message)] = _ll109(tmp_path / "t.jinja")
    assert severity == "warning" and "<|im_start|>" in message and "ChatML" in message


def test_the_tokenizer_config_that_defines_the_token_clears_it(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(_config([*LLAMA, "<|im_start|>"])))
    assert _ll109(tmp_path / "tokenizer_config.json") == []
    (tmp_path / "chat_template.jinja").write_text(TEMPLATE)  # a model folder: the .jinja beside its tokenizer
    assert _ll109(tmp_path / "chat_template.jinja") == []


def test_a_tokenizer_that_lacks_the_token_makes_it_an_error(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(_config(LLAMA)))
    [(severity, message)] = _ll109(tmp_path / "tokenizer_config.json")
    assert severity == "error" and "not a special token of the model's tokenizer" in message


def test_a_llama3_token_of_another_version_stays_an_error(tmp_path):
    (tmp_path / "t.jinja").write_text(TEMPLATE.replace("<|im_start|>", "<|python_tag|>"))
    found = [(f.severity, f.message) for f in lint_paths([str(tmp_path / "t.jinja")], select=["LL109"], version="3.0")]
    assert found == [("error", "<|python_tag|> is not a special token of Llama 3.0")]
