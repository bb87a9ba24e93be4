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


class TemplateFormat(NamedTuple):
    """A template's prompt format: ``family`` (``llama3``, ``llama4``, ``chatml``, ``mistral``,
    ``gemma``, ``phi``, ``alpaca``, ``other``), a label to show, the Llama 3.x version when it is one, and the evidence."""

    family: str
    label: str
    version: str | None
    reason: str

    @property
    def is_llama3(self) -> bool:
        return self.family == "llama3"

    def describe(self) -> str:
        """``Llama 3.1 (evidence)`` or ``ChatML, not Llama 3.x (evidence)``: for every command's output."""
        if self.is_llama3:
            return f"Llama {self.version} ({self.reason})"
        return f"{self.label}, not Llama 3.x ({self.reason})"

    def as_json(self) -> dict[str, str | None]:
        return {"family": self.family, "label": self.label, "llama_version": self.version, "evidence": self.reason}


# Other formats' own structure tokens, checked in this order when a template has no Llama 3 headers.
_OTHER_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("llama4", "Llama 4", "<|header_start|>"),
    ("chatml", "ChatML", "<|im_start|>"),
    ("gemma", "Gemma", "<start_of_turn>"),
    ("mistral", "Mistral", "[INST]"),
    ("phi", "Phi", "<|end|>"),
    ("alpaca", "Alpaca", "### Instruction"),
)


def detect_format(template_text: str) -> TemplateFormat:
    """Find a template's format first: Llama 3 headers (and then which 3.x version), or another format.

    Llama 3 format means the template writes ``<|start_header_id|>``/``<|end_header_id|>`` (or, for a
    template that misspells them, Llama 3's ``<|eot_id|>``). Llama 4 has its own header tokens, so it is
    another format even though its templates also handle images.
    """
    llama3 = ("<|start_header_id|>" in template_text or "<|end_header_id|>" in template_text
              or "<|eot_id|>" in template_text)
    if llama3 and "<|header_start|>" not in template_text:
        version, reason = _llama3_version(template_text)
        return TemplateFormat("llama3", "Llama 3", version, reason)
    for family, label, token in _OTHER_FORMATS:
        if token in template_text:
            return TemplateFormat(family, label, None, f"it writes {token}")
    return TemplateFormat("other", "an unknown format", None, "no Llama 3 header tokens")


def detect_version(template_text: str) -> Detection:
    """The Llama 3.x version a template is checked as, with the evidence (see :func:`detect_format`).

    A template in another format is checked as the default version for what needs one (rendering),
    and the reason says it is not Llama 3.x.
    """
    found = detect_format(template_text)
    if found.version is None:
        return Detection(DEFAULT_VERSION, f"{found.label}, not Llama 3.x: {found.reason}")
    return Detection(found.version, found.reason)


def _llama3_version(template_text: str) -> tuple[str, str]:
    """Which Llama 3.x version a Llama-format template was written for, from the markers it contains.

    Image parts mean 3.2-vision; a clock-read date beside the knowledge-date lines means 3.2; the
    knowledge-date lines alone mean 3.1; Llama 3 headers without them mean 3.0 (or a fine-tune
    that dropped them: the reason says so).
    """
    has_headers = "<|start_header_id|>" in template_text
    has_dates = "Cutting Knowledge Date" in template_text
    if "<|image|>" in template_text or re.search(r"has_images|'image'|\"image\"", template_text):
        return ("3.2-vision", "it writes <|image|> for image parts")
    if has_dates and "strftime_now" in template_text:
        return ("3.2", "it has the knowledge-date lines and reads the clock (strftime_now)")
    if has_dates or "<|python_tag|>" in template_text or "<|eom_id|>" in template_text:
        return ("3.1", "it has the knowledge-date lines or 3.1 tool tokens")
    if has_headers:
        return ("3.0", "Llama 3 headers without the knowledge-date lines (3.0, or a fine-tune that dropped them)")
    return DEFAULT_VERSION, "no Llama 3 markers found; assumed the default"
