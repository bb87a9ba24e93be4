"""What changes between two templates: features found by probing, then text and tokens per conversation.

    from llamatpl import diff_templates
    report = diff_templates("3.0", "3.1")
    report.changed_features, [c.token_delta for c in report.conversations]
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ..verification.compare import VERIFY_TODAY, first_difference
from ..rendering.conversation import Conversation, load_conversation
from ..engines.base import Engine
from ..errors import EngineRejected, InputError, RenderError
from ..probes.features import features
from ..rendering.renderer import render_text
from ..rendering.templates import ChatTemplate, resolve_template
from ..resources import bundled_dir
from ..tokens.tokenizer import get_tokenizer


@dataclass(frozen=True)
class ConversationDiff:
    name: str
    a: str | None  # rendered prompt, or None when the template raised
    b: str | None
    a_error: str | None = None
    b_error: str | None = None
    token_delta: dict[str, int] | None = None
    a_rejected: bool = False  # the error is the serving engine refusing the request
    b_rejected: bool = False

    @property
    def identical(self) -> bool:
        return self.a == self.b and self.a_error == self.b_error

    def unified(self, a_name: str, b_name: str) -> str:
        """A unified diff of the two prompts, split after each newline and each end token."""
        if self.identical:
            return ""
        left = _lines(self.a, self.a_error, self.a_rejected)
        right = _lines(self.b, self.b_error, self.b_rejected)
        return "".join(difflib.unified_diff(left, right, a_name, b_name, n=2))


@dataclass
class DiffReport:
    a: ChatTemplate
    b: ChatTemplate
    features: dict[str, dict[str, str]] = field(default_factory=dict)
    conversations: list[ConversationDiff] = field(default_factory=list)
    engine_a: str = "transformers"
    engine_b: str = "transformers"

    @property
    def a_name(self) -> str:
        """The side's label: the template, and its engine when the sides' engines differ."""
        return self.a.name if self.engine_a == self.engine_b else f"{self.a.name} ({self.engine_a})"

    @property
    def b_name(self) -> str:
        return self.b.name if self.engine_a == self.engine_b else f"{self.b.name} ({self.engine_b})"

    @property
    def changed_features(self) -> dict[str, dict[str, str]]:
        return {k: v for k, v in self.features.items() if v["a"] != v["b"]}

    @property
    def differs(self) -> bool:
        return bool(self.changed_features) or any(not c.identical for c in self.conversations)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.name, "b": self.b.name, "engine_a": self.engine_a, "engine_b": self.engine_b,
            "format_a": self.a.format.as_json(), "format_b": self.b.format.as_json(),
            "features": self.features,
            "conversations": [{"name": c.name, "identical": c.identical, "token_delta": c.token_delta,
                               "a_error": c.a_error, "b_error": c.b_error,
                               "a_rejected": c.a_rejected, "b_rejected": c.b_rejected,
                               "diff": c.unified(self.a_name, self.b_name)} for c in self.conversations],
        }


_LINE = re.compile(r".*?(?:\n|<\|eot_id\|>|<\|eom_id\|>)|.+", re.S)


def _lines(text: str | None, error: str | None, rejected: bool = False) -> list[str]:
    """Diff lines: the prompt split after each newline and each end token (a newline added for display)."""
    if text is None:
        return [f"({error})\n" if rejected else f"(template raised: {error})\n"]
    return [m.group() if m.group().endswith("\n") else m.group() + "\n" for m in _LINE.finditer(text)]


def fixture_battery() -> list[Conversation]:
    """The bundled fixture conversations, by name."""
    folder = bundled_dir("fixtures")
    return [replace(load_conversation(str(p)), name=p.stem) for p in sorted(folder.glob("*.json"))]


def diff_templates(a: str | ChatTemplate, b: str | ChatTemplate, *, conversations: Iterable[Conversation] | None = None,
                   engine_a: Engine | None = None, engine_b: Engine | None = None,
                   today: date | None = None) -> DiffReport:
    """Compare two templates (versions, names or paths) by feature, then per conversation.

    ``today`` pins ``strftime_now``; without it, given ``conversations`` render with the real clock,
    as ``render`` does (so 3.2's date line shows today), and the built-in fixtures with 26 Jul 2024.

    ``engine_a`` / ``engine_b`` build each side's prompt as that serving engine does (the same
    template on two engines is a diff of the engines); a conversation an engine refuses is a row
    that says so, with the engine's reason.
    """
    ta = a if isinstance(a, ChatTemplate) else resolve_template(a)
    tb = b if isinstance(b, ChatTemplate) else resolve_template(b)
    report = DiffReport(ta, tb, engine_a=engine_a.name if engine_a else "transformers",
                        engine_b=engine_b.name if engine_b else "transformers")
    fa, fb = features(ta, engine=engine_a), features(tb, engine=engine_b)
    # the prompt format is found first: a Llama 3 template against a ChatML one differs in kind
    report.features = {"format": {"a": _format_label(ta), "b": _format_label(tb)},
                       **{k: {"a": fa[k], "b": fb[k]} for k in fa}}
    day = today if today is not None else (VERIFY_TODAY if conversations is None else None)
    for conv in (fixture_battery() if conversations is None else conversations):
        report.conversations.append(_compare(ta, tb, conv, engine_a, engine_b, day))
    return report


def _format_label(template: ChatTemplate) -> str:
    found = template.format
    return "Llama 3 headers" if found.is_llama3 else f"{found.label} ({found.reason})"


def _render(template: ChatTemplate, conv: Conversation, engine: Engine | None,
            today: date | None) -> tuple[str | None, str | None, bool]:
    try:
        if engine is not None:
            return engine.render(Conversation.from_request(conv), template, today=today), None, False
        return render_text(template.text_for(has_tools=conv.tools is not None), conv,
                           special_tokens=template.special_tokens, today=today, name=template.name), None, False
    except EngineRejected as exc:
        if exc.template_error is not None:
            return None, exc.template_error.reason, False
        return None, exc.reason, True
    except (RenderError, InputError) as exc:
        return None, exc.reason if isinstance(exc, RenderError) else exc.message, False


def _compare(ta: ChatTemplate, tb: ChatTemplate, conv: Conversation, engine_a: Engine | None = None,
             engine_b: Engine | None = None, today: date | None = VERIFY_TODAY) -> ConversationDiff:
    a, a_error, a_rejected = _render(ta, conv, engine_a, today)
    b, b_error, b_rejected = _render(tb, conv, engine_b, today)
    delta = None
    if a is not None and b is not None and a != b:
        ids_a = get_tokenizer(ta.version).encode_prompt(a)
        ids_b = get_tokenizer(tb.version).encode_prompt(b)
        delta = token_delta(ids_a, ids_b)
    return ConversationDiff(conv.name, a, b, a_error, b_error, delta, a_rejected, b_rejected)


def token_delta(a: list[int], b: list[int]) -> dict[str, int] | None:
    """How two token sequences differ: lengths, first divergence, tokens added and removed."""
    first = first_difference(a, b)
    if first is None:
        return None
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed += i2 - i1
        if op in ("replace", "insert"):
            added += j2 - j1
    return {"a_tokens": len(a), "b_tokens": len(b), "first_divergence": first, "added": added, "removed": removed}
