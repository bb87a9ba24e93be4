"""The Llama 3.x versions llamatpl knows, and how to tell a template's version from its text."""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import LlamatplError

VERSIONS: tuple[str, ...] = ("3.0", "3.1", "3.2", "3.2-vision")
DEFAULT_VERSION = "3.1"

_ALIASES = {
    "3": "3.0",
    "3.0": "3.0",
    "3.1": "3.1",
    "3.2": "3.2",
    "3.3": "3.1",  # Llama 3.3 ships the 3.1 template byte for byte
    "3.2-vision": "3.2-vision",
    "3.2v": "3.2-vision",
    "vision": "3.2-vision",
}


def normalize_version(text: str) -> str:
    """Return the canonical version name for ``text`` (``"3.3"`` is ``"3.1"``), or raise."""
    key = text.strip().lower()
    if key.startswith("llama"):
        key = key[5:].lstrip("-_ ")
    try:
        return _ALIASES[key]
    except KeyError:
        raise LlamatplError(
            f"unknown Llama version {text!r}: use one of {', '.join(VERSIONS)}"
        ) from None


class Detection(NamedTuple):
    """A version read off a template's text, with the evidence for it."""

    version: str
    reason: str


def detect_version(template_text: str) -> Detection:
    """Guess which Llama 3.x version a template was written for, from the markers it contains.

    Image parts mean 3.2-vision; a clock-read date beside the knowledge-date lines means 3.2; the
    knowledge-date lines alone mean 3.1; Llama 3 headers without them mean 3.0. A template with no
    Llama 3 markers at all is assumed to be 3.1, and the reason says so.
    """
    has_headers = "<|start_header_id|>" in template_text
    has_dates = "Cutting Knowledge Date" in template_text
    if "<|image|>" in template_text or re.search(r"has_images|'image'|\"image\"", template_text):
        return Detection("3.2-vision", "it writes <|image|> for image parts")
    if has_dates and "strftime_now" in template_text:
        return Detection("3.2", "it has the knowledge-date lines and reads the clock (strftime_now)")
    if has_dates or "<|python_tag|>" in template_text or "<|eom_id|>" in template_text:
        return Detection("3.1", "it has the knowledge-date lines or 3.1 tool tokens")
    if has_headers:
        return Detection("3.0", "it has Llama 3 headers but no knowledge-date lines")
    return Detection(DEFAULT_VERSION, "no Llama 3 markers found; assumed the default")
