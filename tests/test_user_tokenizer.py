"""A user's own tokenizer (through transformers): same ids as Meta's, double BOS shown when added again."""

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, hf_render
from llamatpl.strategies import conversations
from llamatpl.tokens import UserTokenizer, get_tokenizer


def test_exported_tokenizer_agrees_with_meta_and_apply_chat_template(hf_llama_folder):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(hf_llama_folder), local_files_only=True)
    data = {"messages": [{"role": "user", "content": "Hello!"}], "date_string": "26 Jul 2024"}
    ids = hf.apply_chat_template(data["messages"], add_generation_prompt=True, tokenize=True,
                                 date_string="26 Jul 2024", return_dict=False)
    from llamatpl import render

    assert ids == get_tokenizer("3.1").encode_prompt(render(data, version="3.1"))
    assert hf_render(hf, hf.chat_template, data) == render(data, version="3.1")


@settings(max_examples=40)
@given(text=st.text(max_size=80) | conversations(version="3.1").map(lambda c: json.dumps(c.to_data())))
def test_user_tokenizer_parses_prompts_like_meta(hf_llama_folder, text):
    user = _user(hf_llama_folder)
    assert user.encode_prompt(text) == get_tokenizer("3.1").encode_prompt(text)


_CACHE = {}


def _user(folder):
    if folder not in _CACHE:
        _CACHE[folder] = UserTokenizer(str(folder))
    return _CACHE[folder]


def test_render_with_own_tokenizer_and_double_bos_warning(hf_llama_folder):
    fixture = str(ROOT / "fixtures" / "plain-chat.json")

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "llamatpl", "render", fixture, "-V", "3.1", "-f", "ids",
                               "--tokenizer", str(hf_llama_folder), *extra], capture_output=True, text=True, timeout=120)

    plain = run()
    assert json.loads(plain.stdout)[:2] == [128000, 128006] and plain.stderr == ""
    doubled = run("--add-special-tokens")
    assert json.loads(doubled.stdout)[:2] == [128000, 128000]
    assert "twice" in doubled.stderr
