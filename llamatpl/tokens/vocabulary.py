"""The special tokens a model's own tokenizer defines, and which tokenizer family a token belongs to.

A template is judged against its model's tokenizer when one comes with it: a ``tokenizer_config.json``
(its ``added_tokens_decoder`` and named tokens), a model folder (that file and ``tokenizer.json``'s
``added_tokens``) or a GGUF file (its control and user-defined tokens). A bare ``.jinja`` has none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Structure tokens of other tokenizer families: the family that defines them, for a bare template's warning.
TOKEN_FAMILIES: dict[str, str] = {
    "<|im_start|>": "ChatML tokenizers (Qwen, Hermes, Yi, ...)",
    "<|im_end|>": "ChatML tokenizers (Qwen, Hermes, Yi, ...)",
    "<|im_sep|>": "Phi-4's tokenizer",
    "<|header_start|>": "Llama 4's tokenizer",
    "<|header_end|>": "Llama 4's tokenizer",
    "<|eot|>": "Llama 4's tokenizer",
    "<|eom|>": "Llama 4's tokenizer",
    "<|start_of_role|>": "Granite's tokenizer",
    "<|end_of_role|>": "Granite's tokenizer",
    "<|end_of_text|>": "Granite's and Llama 3's tokenizers",
    "<|user|>": "Phi-3's or GLM's tokenizer",
    "<|assistant|>": "Phi-3's or GLM's tokenizer",
    "<|system|>": "Phi-3's or GLM's tokenizer",
    "<|end|>": "Phi-3's tokenizer",
    "<|tool_call|>": "Phi-4-mini's tokenizer",
    "<|START_OF_TURN_TOKEN|>": "Command-R's tokenizer",
    "<|END_OF_TURN_TOKEN|>": "Command-R's tokenizer",
}

_NAMED = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")
_GGUF_CONTROL, _GGUF_USER_DEFINED = 3, 4


def token_family(token: str) -> str:
    """Which tokenizer family defines ``token``, or a generic hint when it is none of the known ones."""
    return TOKEN_FAMILIES.get(token, "the model's own tokenizer (an added token)")


def _content(value: Any) -> str | None:
    if isinstance(value, Mapping):  # an AddedToken written out as {"content": ...}
        value = value.get("content")
    return value if isinstance(value, str) else None


def tokens_of_config(config: Any) -> set[str]:
    """The added and named tokens of a ``tokenizer_config.json`` (or ``tokenizer.json``) document."""
    found: set[str] = set()
    if not isinstance(config, Mapping):
        return found
    decoder = config.get("added_tokens_decoder")
    if isinstance(decoder, Mapping):
        found.update(c for c in map(_content, decoder.values()) if c)
    added = config.get("added_tokens")
    if isinstance(added, list):
        found.update(c for c in map(_content, added) if c)
    extra = config.get("additional_special_tokens")
    if isinstance(extra, list):
        found.update(c for c in map(_content, extra) if c)
    found.update(c for c in (_content(config.get(k)) for k in _NAMED) if c)
    return found


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def tokens_beside(path: Path) -> frozenset[str] | None:
    """The tokens a model folder's tokenizer defines (``path`` is the folder or a file in it), or None."""
    folder = path if path.is_dir() else path.parent
    found: set[str] = set()
    known = False
    for name in ("tokenizer_config.json", "tokenizer.json"):
        config = _read(folder / name)
        if isinstance(config, Mapping) and (config.get("added_tokens_decoder") or config.get("added_tokens")):
            found |= tokens_of_config(config)
            known = True
    return frozenset(found) if known else None


def tokens_of_gguf(reader: Any) -> frozenset[str] | None:
    """The control and user-defined tokens of an open ``gguf.GGUFReader``, or None when it lists none."""
    try:
        tokens = reader.fields["tokenizer.ggml.tokens"].contents()
        types = reader.fields["tokenizer.ggml.token_type"].contents()
    except Exception:  # noqa: BLE001 - a GGUF without a token list has no tokenizer to judge by
        return None
    return frozenset(t for t, kind in zip(tokens, types) if kind in (_GGUF_CONTROL, _GGUF_USER_DEFINED))


def tokens_in_gguf_file(path: Path) -> frozenset[str] | None:
    """:func:`tokens_of_gguf` of the file at ``path`` (None without the optional ``gguf`` package)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    try:
        return tokens_of_gguf(GGUFReader(str(path)))
    except Exception:  # noqa: BLE001 - the template loader reports a damaged file; here it has no tokens
        return None
