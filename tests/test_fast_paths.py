"""The shortcuts ``prepare`` takes, each against the slow way it stands for: the input scan read while
parsing JSON (against the walk over the parsed values), prefixes rendered straight on minijinja
(against the general path on jinja2), and special tokens cut by one split (against tiktoken)."""

from __future__ import annotations

import json
import threading
from array import array
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llamatpl.errors import LlamatplError
from llamatpl.rendering import backend, fastscan
from llamatpl.rendering.conversation import Conversation, parse_line
from llamatpl.rendering.templates import resolve_template
from llamatpl.strategies import conversations
from llamatpl.tokens.tokenizer import get_tokenizer
from llamatpl.train.masks import MaskJob

_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e-05, 1e16, -0.0, 0.0, 2125999773484071.2])
            | st.text(st.characters(codec=None, categories=None), max_size=6)
            | st.sampled_from(["\x1c", "\x1f", "\ud800", "\udfff", "\ud83d\ude00", "é", "<|eot_id|>"]))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=4) | st.sampled_from(["\x1d", "\udc00"]), inner, max_size=4),
                     max_leaves=12)


@given(_JSON, st.booleans())
def test_flags_read_while_parsing_are_the_walks(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assume(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == text)  # its input is decoded UTF-8
    parsed, flags = fastscan.loads_scanned(text)
    assert json.dumps(parsed, ensure_ascii=ascii_only) == text  # parsed as json.loads parses
    if flags is None:
        assert "\\u" in text  # only an escaped control character or surrogate sends it to the walk
    else:
        assert flags == fastscan.scan(None, parsed)


def test_number_flags_stay_in_their_thread():
    odd, plain = '{"x": 1e-05}', '{"x": 12}'
    wrong: list[str] = []

    def read(text: str, expected: int) -> None:
        for _ in range(2000):
            if fastscan.loads_scanned(text)[1] != expected:
                wrong.append(text)

    threads = [threading.Thread(target=read, args=(odd, fastscan.ODD_NUMBER)), threading.Thread(target=read, args=(plain, 0))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def _fresh(conversation: Conversation) -> Conversation:
    """The same conversation parsed again from its JSON (a new object: nothing prepared on it)."""
    return parse_line("x:1", json.dumps(conversation.to_data()).encode())


@pytest.mark.parametrize("name", ["official:3.0", "official:3.1", "official:3.2", "tuned:3.1"])
def test_prefixes_on_the_fast_road_are_the_general_paths_on_jinja2(name):
    template = resolve_template(name)
    job = MaskJob(template, today=date(2024, 7, 26))

    @given(conversations(version=template.version, continue_final_message=False))
    def check(conversation: Conversation) -> None:
        fast = _fresh(conversation)
        try:
            job.render(fast)
        except LlamatplError:
            return
        prefixes = job._prefixes(fast)
        with backend.forced(backend.JINJA2):
            slow = _fresh(conversation)
            for count in range(len(slow.messages) + 1):
                for generation_prompt in (False, True):
                    try:
                        want = job.prefix(slow, count, generation_prompt)
                    except LlamatplError:
                        continue
                    assert prefixes(count, generation_prompt) == want, (count, generation_prompt)
            try:
                reference = job.encode(_fresh(conversation))
            except LlamatplError:
                return
        got = job.encode(_fresh(conversation))
        assert (got.prompt, got.input_ids, got.assistant_mask) == (reference.prompt, reference.input_ids,
                                                                   reference.assistant_mask)

    check()


_PIECES = st.lists(st.sampled_from(["<|<|eot_id|>", "<|eot_id|><|", "<|x|>", "<||>", "<|" + "a" * 70 + "|>",
                                    "<|reserved_special_token_247|>", "<|eom_id|>", "<|python_tag|>", "<|image|>",
                                    "|>", "<|", "<|eot_id", "\ud800", "\n\n", " x"]) | st.text(max_size=12),
                   max_size=24).map("".join)


@given(_PIECES)
def test_the_cut_by_one_split_is_tiktokens(text):
    for version in ("3.0", "3.1", "3.2-vision"):
        tokenizer = get_tokenizer(version)
        assert "".join(tokenizer.cut(text)) == text
        assert tokenizer.encode_prompt(text) == tokenizer._encoding.encode(text, allowed_special="all")


@given(_PIECES)
def test_packed_ids_are_tiktokens_through_its_buffer_or_its_list(text):
    from llamatpl.tokens.tokenizer import LlamaTokenizer

    listed = LlamaTokenizer("3.1")
    listed._ordinary_packed = listed._packed  # a tiktoken without encode_to_tiktoken_buffer
    expected = get_tokenizer("3.1")._encoding.encode(text, allowed_special="all")
    for tokenizer in (get_tokenizer("3.1"), listed):
        for _ in range(2):  # encoded, then remembered
            pieces, parts = tokenizer.encode_packed(text)
            assert array("i", b"".join(parts)).tolist() == expected
            assert [len(p) // 4 for p in parts[1::2]] == [1] * (len(pieces) // 2)


def test_remembered_pieces_are_not_shared_with_callers():
    tokenizer = get_tokenizer("3.1")
    text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    first = tokenizer.encode_prompt(text)
    first.append(-1)
    first[1] = -1
    assert tokenizer.encode_prompt(text) == tokenizer._encoding.encode(text, allowed_special="all")
