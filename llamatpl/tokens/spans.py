"""A prompt's token ids with a 0/1 mask over character spans of it, in one pass.

A token is marked when any of its bytes lies in a span, as transformers counts the tokens of a
``{% generation %}`` block for ``return_assistant_tokens_mask``. The prompt is tokenized as a server
does (:meth:`~llamatpl.tokens.tokenizer.LlamaTokenizer.encode_prompt`), keeping where each of its
cuts at special tokens starts, in characters and in tokens; each span's first and last token are
then found from those, walking token by token (in bytes) only inside the ordinary piece a span
starts or ends in. The ids stay packed (native int32 bytes) until a caller wants a list.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from .tokenizer import ID_BYTES, LlamaTokenizer, UserTokenizer, pack_ids, unpack_ids

Spans = Sequence[tuple[int, int]]  # sorted, non-overlapping character spans [start, end)


def encode_with_spans(tokenizer: LlamaTokenizer | UserTokenizer, text: str,
                      spans: Spans) -> tuple[list[int], list[int]]:
    """``(ids, mask)``: ``text`` tokenized as a server does and 1 on each token a span touches."""
    ids, mask = encode_with_mask(tokenizer, text, spans)
    return unpack_ids(ids), list(mask)


def encode_with_mask(tokenizer: LlamaTokenizer | UserTokenizer, text: str,
                     spans: Spans) -> tuple[bytes, bytearray]:
    """:func:`encode_with_spans` as training rows store it: the ids packed as native int32 bytes
    (:meth:`~llamatpl.tokens.tokenizer.LlamaTokenizer.encode_packed`), the mask one byte (0 or 1) a token."""
    if isinstance(tokenizer, UserTokenizer):
        ids, mask = _by_offsets(tokenizer, text, spans)
        return pack_ids(ids), mask
    pieces, parts = tokenizer.encode_packed(text)
    packed = b"".join(parts)
    mask = bytearray(len(packed) // ID_BYTES)
    if not spans:
        return packed, mask
    char_at = [0, *itertools.accumulate(map(len, pieces))]  # where each piece starts, in characters
    byte_at = [0, *itertools.accumulate(map(len, parts))]  # and in the packed ids
    view = memoryview(packed).cast("i")
    for start, end in spans:
        if start >= end:
            continue
        first = _token_of(tokenizer, pieces, char_at, byte_at, view, start, last_byte=False)
        last = _token_of(tokenizer, pieces, char_at, byte_at, view, end - 1, last_byte=True)
        mask[first:last + 1] = b"\x01" * (last + 1 - first)
    return packed, mask


def _token_of(tokenizer: LlamaTokenizer, pieces: list[str], char_at: list[int], byte_at: list[int],
              ids: memoryview, char: int, *, last_byte: bool) -> int:
    """The index of the token holding the first (or last) byte of character ``char``."""
    place = bisect.bisect_right(char_at, char) - 1
    while not pieces[place]:  # an empty ordinary piece holds nothing: the next special token does
        place += 1
    token = byte_at[place] // ID_BYTES
    if place & 1:
        return token
    inside = len(pieces[place][: char - char_at[place] + last_byte].encode("utf-8", "surrogatepass")) - last_byte
    lengths = tokenizer.byte_lengths()
    walked = 0
    end = byte_at[place + 1] // ID_BYTES
    while token < end - 1:
        walked += lengths[ids[token]]
        if walked > inside:
            break
        token += 1
    return token


def _by_offsets(tokenizer: UserTokenizer, text: str, spans: Spans) -> tuple[list[int], bytearray]:
    """A user's tokenizer (through transformers): each token's character span from its offsets, as
    transformers' ``return_assistant_tokens_mask`` reads them."""
    ids, offsets = tokenizer.encode_with_offsets(text)
    return ids, bytearray(any(a < hi and lo < b for a, b in spans) for lo, hi in offsets)
