"""Whitespace made visible in one-line snippets: ``↵`` newline, ``→`` tab, ``·`` space."""

from __future__ import annotations

_MAP = str.maketrans({"\n": "↵", "\t": "→", " ": "·", "\r": "␍"})


def visible(text: str) -> str:
    return text.translate(_MAP)


def snippet(text: str, at: int, *, before: int = 48, after: int = 32) -> str:
    """``text`` around offset ``at`` on one line, whitespace visible, ``…`` where it was cut."""
    start = max(0, at - before)
    end = min(len(text), at + after)
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    return head + visible(text[start:end]) + tail
