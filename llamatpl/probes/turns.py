"""Split a rendered Llama 3 prompt into turns: header role, body, and the end token that closes it."""

from __future__ import annotations

import re
from typing import NamedTuple

_TURN = re.compile(r"<\|start_header_id\|>(.*?)<\|end_header_id\|>(.*?)(<\|eot_id\|>|<\|eom_id\|>|(?=<\|start_header_id\|>)|$)",
                   re.S)


class Turn(NamedTuple):
    role: str
    body: str
    end: str  # the end token, or "" when the turn is not closed
    start: int  # offset of the turn's header in the prompt
    end_at: int  # offset of the end token (or of where it is missing)


def turns(prompt: str) -> list[Turn]:
    return [Turn(m.group(1), m.group(2), m.group(3), m.start(), m.start(3)) for m in _TURN.finditer(prompt)]
