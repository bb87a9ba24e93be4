"""Check a mask against Meta's reference: its pieces say which tokens the assistant generates.

Meta's ``ChatFormat`` writes an assistant message as header pieces, then content (or
``<|python_tag|>`` and the tool call), then ``<|eot_id|>`` / ``<|eom_id|>``; every piece of an
assistant message except its header is a target. Where the template is token-exact (its ids are
the reference's), the mask read off the template must be the reference's mask; where it is not,
the first token that differs is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..rendering.conversation import Conversation
from ..tokens.tokenizer import get_tokenizer
from ..verification.compare import VERIFY_TODAY, declared_dialect
from ..verification.reference import Expected, encode
from .masks import MaskJob


@dataclass(frozen=True)
class MaskCheck:
    """The outcome for one conversation: ``agrees`` when the ids are the reference's and so is the mask."""

    token_exact: bool
    agrees: bool
    difference: str | None = None  # the first difference, named


def reference_mask(expected: Expected, conversation: Conversation, version: str) -> tuple[list[int], list[int]]:
    """Meta's ids for ``expected`` and 1 on the pieces of assistant messages other than their header."""
    tokenizer = get_tokenizer(version)
    ids: list[int] = []
    mask: list[int] = []
    pending: list[str] = []
    target = 0
    unit = None

    def flush() -> None:
        if pending:
            encoded = tokenizer.encode_text("".join(pending))
            ids.extend(encoded)
            mask.extend([target] * len(encoded))
            pending.clear()

    for piece in expected.pieces:
        is_target = int(piece.message is not None and piece.label != "header"
                        and conversation.messages[piece.message].get("role") == "assistant")
        if piece.special or piece.unit != unit:
            flush()
            unit = None
        if piece.special:
            ids.append(tokenizer.special_tokens[piece.text])
            mask.append(is_target)
        else:
            pending.append(piece.text)
            unit, target = piece.unit, is_target
    flush()
    return ids, mask


def check_mask(job: MaskJob, conversation: Conversation | Any, *, version: str | None = None,
               today: date = VERIFY_TODAY) -> MaskCheck:
    """Compare ``job``'s mask for one conversation with the reference's (``job.today`` should be ``today``)."""
    conv = Conversation.from_data(conversation)
    v = version or job.template.version
    expected = encode(conv, version=v, dialect=declared_dialect(job.template.text), today=today)
    want_ids, want_mask = reference_mask(expected, conv, v)
    got = job.encode(conv)
    tokenizer = get_tokenizer(v)
    at = _first(got.input_ids, want_ids)
    if at is not None:
        return MaskCheck(False, False, f"token {at}: the template gives {_show(tokenizer, got.input_ids, at)}, "
                                       f"the reference {_show(tokenizer, want_ids, at)}")
    at = _first(got.assistant_mask, want_mask)
    if at is None:
        return MaskCheck(True, True)
    piece, _ = expected.piece_at(len(tokenizer.decode(want_ids[:at])))
    where = f" (reference piece: {piece.label}, message {piece.message})" if piece is not None else ""
    return MaskCheck(True, False, f"token {at} {_show(tokenizer, want_ids, at)}: mask {got.assistant_mask[at]}, "
                                  f"reference {want_mask[at]}{where}")


def _first(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _show(tokenizer: Any, ids: list[int], at: int) -> str:
    return repr(tokenizer.token_text(ids[at])) if at < len(ids) else "the end"
