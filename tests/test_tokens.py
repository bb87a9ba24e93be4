"""The Llama 3 tokenizer: the published golden, Meta's own Tokenizer, per-version special tokens."""

from hypothesis import given
from hypothesis import strategies as st

from llamatpl import render
from llamatpl.tokens import get_tokenizer

# Llama-3.1-8B-Instruct model card discussion 97 (../shared/FACTS.md)
GOLDEN_31_HELLO = [128000, 128006, 9125, 128007, 271, 38766, 1303, 33025, 2696, 25, 6790, 220, 2366, 18, 198,
                   15724, 2696, 25, 220, 1627, 10263, 220, 2366, 19, 271, 128009, 128006, 882, 128007, 271, 9906,
                   0, 128009, 128006, 78191, 128007, 271]


def test_published_golden_for_31_hello():
    prompt = render({"messages": [{"role": "user", "content": "Hello!"}], "date_string": "26 Jul 2024"}, version="3.1")
    assert get_tokenizer("3.1").encode_prompt(prompt) == GOLDEN_31_HELLO


def _meta():
    from llama_models.llama3.tokenizer import Tokenizer

    return Tokenizer.get_instance()


def test_special_token_ids_match_metas_tokenizer():
    meta = _meta().special_tokens
    ours = get_tokenizer("3.1").special_tokens
    for name in ("<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>", "<|start_header_id|>",
                 "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"):
        assert ours[name] == meta[name]


def test_30_treats_31_tokens_as_plain_text():
    t30, t31 = get_tokenizer("3.0"), get_tokenizer("3.1")
    assert t31.encode_prompt("<|eom_id|>") == [128008]
    assert 128008 not in t30.encode_prompt("<|eom_id|>")
    assert t30.encode_prompt("<|eot_id|>") == [128009]
    assert "<|image|>" not in t31.special_tokens and get_tokenizer("3.2-vision").special_tokens["<|image|>"] == 128256


@given(st.text(max_size=200) | st.sampled_from(["<|eot_id|> x", " " * 30000 + "a", "a" * 30000]))
def test_plain_text_encoding_matches_metas_encode(text):
    assert get_tokenizer("3.1").encode_text(text) == _meta().encode(text, bos=False, eos=False)


_SPECIAL_HEAVY = st.lists(st.sampled_from(["<|eot_id|>", "<|start_header_id|>", "<|python_tag|>", "<|image|>",
                                           "<|reserved_special_token_1|>", "<|reserved_special_token_10|>",
                                           "<|eot_id", "|>", "<|", "\n\n", "  ", " x", "assistant", "é", "\ud800",
                                           "\U0001f600"])
                          | st.text(max_size=20), max_size=30).map("".join)


@given(_SPECIAL_HEAVY)
def test_prompt_encoding_equals_tiktokens_own_special_token_encoding(text):
    """Our cut-at-special-tokens encoding against tiktoken's encode(allowed_special="all") itself."""
    for version in ("3.0", "3.1", "3.2-vision"):
        tokenizer = get_tokenizer(version)
        assert tokenizer.encode_prompt(text) == tokenizer._encoding.encode(text, allowed_special="all")
        assert "".join(tokenizer.cut(text)) == text


@given(_SPECIAL_HEAVY, st.lists(st.integers(0, 400), max_size=8))
def test_span_mask_marks_each_token_with_a_byte_in_a_span(text, cuts):
    """Against a brute-force definition: each token's byte range from tiktoken's own per-token bytes."""
    from llamatpl.tokens.spans import encode_with_spans

    bounds = sorted({min(c, len(text)) for c in cuts})
    spans = [(a, b) for a, b in zip(bounds[::2], bounds[1::2]) if a < b]
    tokenizer = get_tokenizer("3.1")
    ids, mask = encode_with_spans(tokenizer, text, spans)
    assert ids == tokenizer._encoding.encode(text, allowed_special="all")
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # what tiktoken encodes
    byte_spans = [(len(fixed[:a].encode()), len(fixed[:b].encode())) for a, b in spans]
    expected, at = [], 0
    for token in ids:
        size = len(tokenizer.token_bytes(token))
        expected.append(int(any(lo < at + size and at < hi for lo, hi in byte_spans)))
        at += size
    assert mask == expected
