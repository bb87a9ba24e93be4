"""The expected prompt as labelled pieces: special tokens and text, each text unit tokenized alone.

Meta's ``ChatFormat`` tokenizes every piece of a prompt on its own (the role, the ``\\n\\n`` after a
header, each content) and never lets special-token text in content become a control token. A
:class:`Piece` records one such piece and the part of the prompt it belongs to (its ``label``), so a
difference found at some character can be named (``header``, ``tool-call``, ...). Consecutive text
pieces with the same ``unit`` are one string to Meta's encoder (a system block is one content).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...tokens.tokenizer import LlamaTokenizer

LABELS = ("bos", "header", "end-token", "generation-prompt", "content", "system-block", "tool-call",
          "tool-output")


@dataclass(frozen=True)
class Piece:
    """One special token (``special=True``) or run of text, with what it is for."""

    text: str
    label: str
    special: bool = False
    unit: int = -1  # text pieces sharing a unit (>= 0) are encoded together
    message: int | None = None  # index of the message this piece renders, if any
    content: str | None = None  # for content pieces: the message's original content


@dataclass
class Expected:
    """The reference prompt: pieces in order, their text, and their tokens for one version."""

    pieces: list[Piece] = field(default_factory=list)
    _units: int = 0

    def special(self, token: str, label: str, message: int | None = None) -> None:
        self.pieces.append(Piece(token, label, special=True, message=message))

    def text(self, text: str, label: str, *, message: int | None = None, content: str | None = None,
             same_unit: bool = False) -> None:
        """Append text; ``same_unit`` joins it to the previous text piece for tokenization."""
        if not same_unit:
            self._units += 1
        self.pieces.append(Piece(text, label, unit=self._units, message=message, content=content))

    def header(self, role: str, label: str = "header", message: int | None = None) -> None:
        self.special("<|start_header_id|>", label, message)
        self.text(role, label, message=message)
        self.special("<|end_header_id|>", label, message)
        self.text("\n\n", label, message=message)

    @property
    def prompt(self) -> str:
        return "".join(p.text for p in self.pieces)

    def ids(self, tokenizer: LlamaTokenizer) -> list[int]:
        """Tokens exactly as Meta's encoder makes them: specials by id, each text unit on its own."""
        out: list[int] = []
        pending: list[str] = []
        unit = None
        for piece in self.pieces:
            if piece.special or piece.unit != unit:
                if pending:
                    out.extend(tokenizer.encode_text("".join(pending)))
                pending = []
                unit = None
            if piece.special:
                out.append(tokenizer.special_tokens[piece.text])
            else:
                pending.append(piece.text)
                unit = piece.unit
        if pending:
            out.extend(tokenizer.encode_text("".join(pending)))
        return out

    def piece_at(self, offset: int, *, prefer_empty: bool = False) -> tuple[Piece | None, int]:
        """The piece covering character ``offset`` of :attr:`prompt`, and where that piece starts.

        With ``prefer_empty``, an empty text piece (empty content) standing at ``offset`` owns it.
        """
        position = 0
        for piece in self.pieces:
            if prefer_empty and position == offset and not piece.text and not piece.special:
                return piece, position
            if position <= offset < position + len(piece.text):
                return piece, position
            position += len(piece.text)
        return None, position
