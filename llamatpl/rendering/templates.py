"""Find a chat template: bundled names, ``.jinja`` files, ``tokenizer_config.json``, model folders, GGUF.

A template is named by

* ``official:3.1`` / ``tuned:3.1`` (the files under ``templates/``), or a bare version (``3.1``);
* a path to a ``.jinja`` (or any text) file;
* a ``tokenizer_config.json``: its ``chat_template``, a string or a list of ``{"name", "template"}``
  (the ``tool_use`` one when the conversation has tools, else ``default``, as transformers picks);
* a local model folder holding ``chat_template.jinja``, ``tokenizer_config.json`` or ``chat_template.json``;
* a ``.gguf`` file (its ``tokenizer.chat_template`` metadata; needs the optional ``gguf`` package).

Nothing is fetched from a hub. The Llama version comes from ``--version`` when given, from the name
for bundled templates, else from the template's text (:func:`llamatpl.versions.detect_version`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import TemplateNotFound
from ..resources import KINDS, bundled_template_path, read_bundled_template
from ..versions import VERSIONS, TemplateFormat, detect_format, detect_version, normalize_version

DEFAULT_SPECIAL_TOKENS: Mapping[str, str] = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}


@dataclass(frozen=True)
class ChatTemplate:
    """A resolved chat template: its text (and named variants), version and special tokens."""

    name: str
    text: str
    version: str
    version_reason: str
    special_tokens: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SPECIAL_TOKENS))
    path: Path | None = None
    variants: Mapping[str, str] = field(default_factory=dict)

    @property
    def format(self) -> TemplateFormat:
        """The template's prompt format (Llama 3 headers or another format), found from its text."""
        return detect_format(self.text)

    def text_for(self, *, has_tools: bool) -> str:
        """The text to render: the ``tool_use`` variant when there are tools, as transformers does."""
        if has_tools and "tool_use" in self.variants:
            return self.variants["tool_use"]
        return self.text


def resolve_template(spec: str | None = None, *, version: str | None = None) -> ChatTemplate:
    """Resolve ``spec`` (a name, version or path) and ``version`` into a :class:`ChatTemplate`.

    ``version`` alone means the official template of that version; with ``spec`` it sets the
    version the template is checked as. Neither means ``official:3.1``.
    """
    given = normalize_version(version) if version else None
    if spec is None:
        return _bundled("official", given or "3.1", given, "given" if given else "default")
    kind, sep, rest = spec.partition(":")
    if sep and kind in KINDS:
        return _bundled(kind, normalize_version(rest), given, "given" if given else "named")
    if not Path(spec).exists() and _looks_like_version(spec):
        v = normalize_version(spec)
        return resolve_template(f"official:{v}", version=given)
    text, variants, tokens, path = _load_path(Path(spec))
    if given:
        v, reason = given, "given"
    else:
        v, reason = detect_version(text)
        reason = f"detected: {reason}"
    return ChatTemplate(spec, text, v, reason, special_tokens=tokens, path=path, variants=variants)


@lru_cache(maxsize=None)
def _bundled(kind: str, version: str, given: str | None, reason: str) -> ChatTemplate:
    path = bundled_template_path(kind, version)
    return ChatTemplate(f"{kind}:{version}", read_bundled_template(kind, version), given or version, reason, path=path)


def _looks_like_version(spec: str) -> bool:
    return spec.lower().removeprefix("llama").lstrip("-_ ") in (*VERSIONS, "3", "3.3", "3.2v", "vision")


def _load_path(path: Path) -> tuple[str, dict[str, str], dict[str, str], Path | None]:
    if path.is_dir():
        for name in ("chat_template.jinja", "tokenizer_config.json", "chat_template.json"):
            if (path / name).is_file():
                text, variants, tokens, _ = _load_path(path / name)
                if name == "chat_template.jinja" and (path / "tokenizer_config.json").is_file():
                    tokens = _special_tokens(_read_json(path / "tokenizer_config.json"))
                return text, variants, tokens, path / name
        raise TemplateNotFound(f"{path}: no chat_template.jinja, tokenizer_config.json or chat_template.json here")
    if not path.is_file():
        raise TemplateNotFound(f"{path}: no such file (and not a template name such as official:3.1)")
    if path.suffix == ".gguf":
        return _load_gguf(path)
    if path.suffix == ".json":
        config = _read_json(path)
        text, variants = _chat_template_field(config, path)
        return text, variants, _special_tokens(config), path
    try:
        return path.read_bytes().decode("utf-8"), {}, dict(DEFAULT_SPECIAL_TOKENS), path
    except UnicodeDecodeError:
        raise TemplateNotFound(f"{path}: not UTF-8 text; is it a template?") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TemplateNotFound(f"{path}: not valid JSON ({exc})") from None


def _chat_template_field(config: Any, path: Path) -> tuple[str, dict[str, str]]:
    if not isinstance(config, Mapping) or "chat_template" not in config:
        raise TemplateNotFound(f"{path}: has no \"chat_template\"")
    value = config["chat_template"]
    if isinstance(value, str):
        return value, {}
    if isinstance(value, list):
        named = {}
        for i, item in enumerate(value):
            if not (isinstance(item, Mapping) and isinstance(item.get("name"), str)
                    and isinstance(item.get("template"), str)):
                raise TemplateNotFound(f"{path}: chat_template[{i}]: expected {{\"name\": ..., \"template\": ...}}")
            named[item["name"]] = item["template"]
        if "default" in named:
            return named["default"], named
        if len(named) == 1:
            return next(iter(named.values())), named
        raise TemplateNotFound(f"{path}: chat_template has no \"default\" among {', '.join(named)}")
    raise TemplateNotFound(f"{path}: chat_template: expected a string or a list of named templates")


def _special_tokens(config: Any) -> dict[str, str]:
    tokens = dict(DEFAULT_SPECIAL_TOKENS)
    if isinstance(config, Mapping):
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            value = config.get(key)
            if isinstance(value, Mapping):  # an AddedToken written out as {"content": ...}
                value = value.get("content")
            if isinstance(value, str):
                tokens[key] = value
    return tokens


def _load_gguf(path: Path) -> tuple[str, dict[str, str], dict[str, str], Path | None]:
    try:
        from gguf import GGUFReader
    except ImportError:
        raise TemplateNotFound(f"{path}: reading GGUF files needs the gguf package: pip install 'llamatpl[gguf]'") from None
    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # the reader raises many types on a damaged file
        raise TemplateNotFound(f"{path}: not a readable GGUF file ({exc})") from None
    strings = {}
    for key, fld in reader.fields.items():
        if key.startswith("tokenizer.chat_template") or key in ("tokenizer.ggml.bos_token_id",):
            try:
                strings[key] = fld.contents()
            except Exception:  # noqa: BLE001 - a field of an unexpected type is skipped
                continue
    text = strings.get("tokenizer.chat_template")
    if not isinstance(text, str):
        raise TemplateNotFound(f"{path}: has no tokenizer.chat_template metadata")
    variants = {k.removeprefix("tokenizer.chat_template."): v for k, v in strings.items()
                if k.startswith("tokenizer.chat_template.") and isinstance(v, str)}
    return text, variants, dict(DEFAULT_SPECIAL_TOKENS), path
