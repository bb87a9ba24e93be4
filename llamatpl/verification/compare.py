"""Compare one rendered conversation with Meta's reference, in two steps that classify the failure.

1. **Text.** The rendered text against the reference text. A difference is the template's fault,
   named by the reference piece where it starts: ``bos``, ``header``, ``end-token``,
   ``generation-prompt``, ``trimmed-content``, ``untrimmed-content`` (Llama 3.0's reference strips
   content), ``content-mismatch``, ``system-block``, ``tool-call``,
   ``tool-output``, or ``raises`` when the template raised on a conversation the version supports.
2. **Tokens.** Equal text but different tokens is inherent to string templates: ``boundary-merge``
   (a header's ``\\n\\n`` merging with content that starts with a newline) or
   ``special-token-injection`` (special-token text in content becoming a control token).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ..engines.base import Engine
from ..errors import EngineRejected, LimitExceeded, RenderError, TemplateRaised
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from .reference import Dialect, Expected, encode, get_dialect
from .reference.disputes import Reason, explain, resolve_dialect
from ..rendering.renderer import render_text
from ..rendering.templates import ChatTemplate, resolve_template
from ..tokens.tokenizer import get_tokenizer

CATEGORIES = ("bos", "header", "end-token", "generation-prompt", "trimmed-content", "untrimmed-content",
              "content-mismatch",
              "system-block", "tool-call", "tool-output", "raises")
INHERENT = ("boundary-merge", "special-token-injection")
REJECTED = "rejected"  # the serving engine refused the request: counted, never a pass
END_TOKENS = ("<|eot_id|>", "<|eom_id|>")
VERIFY_TODAY = date(2024, 7, 26)


@dataclass(frozen=True)
class Verdict:
    """The outcome for one conversation. ``ok`` is false only for a template fault (``category``)."""

    conversation: Conversation
    category: str | None = None
    inherent: str | None = None
    rendered: str | None = None
    expected: str = ""
    error: str | None = None
    text_divergence: int | None = None
    first_divergence: int | None = None
    expected_ids: list[int] = field(default_factory=list)
    actual_ids: list[int] = field(default_factory=list)
    limited: bool = False  # the template ran into a time, size or recursion limit
    deliberate: bool = False  # the template refused the conversation with raise_exception
    #: the disputed points (or the template's declared departures) this failure rests on, if any
    reasons: tuple[Reason, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.category == REJECTED

    @property
    def ok(self) -> bool:
        return self.category is None

    def passes(self, *, strict: bool = False) -> bool:
        return self.ok and not (strict and self.inherent)


def verify_conversation(template: str | ChatTemplate, conversation: Conversation | dict[str, Any] | list[Any], *,
           version: str | None = None, dialect: str | Dialect | None = None,
           today: date = VERIFY_TODAY, tokenizer: Any = None, timings: dict[str, float] | None = None,
           limits: Limits = DEFAULT_LIMITS, engine: Engine | None = None, reasons: bool = True) -> Verdict:
    """Check one conversation: render it with ``template`` and compare with Meta's reference.

    ``dialect`` defaults to the one the template declares (``{#- llamatpl: dialect=tuned -#}``),
    else ``official``. ``today`` pins the clock for both sides. With a serving ``engine`` the
    conversation is sent in that engine's accepted shapes (:meth:`Engine.as_request`) through its
    request handling; the reference encodes the conversation as sent, and a request the engine
    refuses gives a ``rejected`` verdict (never a pass). A text difference is explained (``reasons``:
    the disputed points it rests on) unless ``reasons`` is false.
    """
    tpl = template if isinstance(template, ChatTemplate) else resolve_template(template, version=version)
    v = version or tpl.version
    request = None if engine is None or engine.name == "transformers" else engine.as_request(
        Conversation.from_request(conversation))
    conv = Conversation.from_data(conversation if request is None else request)
    if request is not None and engine is not None:
        conv = engine.meaning(replace(conv, request=request.request))
    clock = _Clock(timings)
    declared = declared_dialect(tpl.text)
    chosen = resolve_dialect(dialect, v, declared)
    expected = encode(conv, version=v, dialect=chosen, today=today)
    clock.lap("reference")
    try:
        if engine is not None:
            rendered = engine.render(request or conv, tpl, today=today, limits=limits)
        else:
            rendered = render_text(tpl.text_for(has_tools=conv.tools is not None), conv,
                                   special_tokens=tpl.special_tokens, today=today, name=tpl.name, limits=limits)
    except EngineRejected as exc:
        if exc.template_error is not None:  # the engine answered the template raising with a refusal
            return Verdict(conv, category="raises", expected=expected.prompt, error=exc.template_error.message,
                           limited=isinstance(exc.template_error, LimitExceeded),
                           deliberate=isinstance(exc.template_error, TemplateRaised))
        return Verdict(conv, category=REJECTED, expected=expected.prompt, error=exc.message)
    except RenderError as exc:
        return Verdict(conv, category="raises", expected=expected.prompt, error=exc.message,
                       limited=isinstance(exc, LimitExceeded), deliberate=isinstance(exc, TemplateRaised))
    finally:
        clock.lap("render")
    verdict = compare(conv, rendered, expected, version=v, tokenizer=tokenizer, timings=timings)
    return explained(verdict, version=v, dialect=chosen, declared=declared, today=today) if reasons else verdict


def explained(verdict: Verdict, *, version: str, dialect: Dialect, declared: str, today: date = VERIFY_TODAY) -> Verdict:
    """``verdict`` with the disputed points (or declared departures) its text difference rests on."""
    rendered = verdict.rendered
    if verdict.text_divergence is None or rendered is None:
        return verdict

    def differs_at(d: Dialect) -> int | None:
        return first_difference(encode(verdict.conversation, version=version, dialect=d, today=today).prompt, rendered)

    return replace(verdict, reasons=explain(differs_at, version, dialect, get_dialect(declared)))


class _Clock:
    """Adds the time since the previous lap to ``timings[stage]``; does nothing without a dict."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter() if timings is not None else 0.0

    def lap(self, stage: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
            self.last = now


def declared_dialect(template_text: str) -> str:
    """The reference dialect a template declares in a comment, else ``official``."""
    marker = "llamatpl: dialect="
    at = template_text.find(marker)
    if at < 0:
        return "official"
    rest = template_text[at + len(marker):]
    return rest.split()[0].rstrip("-#}") if rest.split() else "official"


def compare(conv: Conversation, rendered: str, expected: Expected, *, version: str, tokenizer: Any = None,
            timings: dict[str, float] | None = None, tokens: bool = True) -> Verdict:
    """Compare a rendered prompt with the reference pieces; classify the first difference.

    Expected ids always come from Meta's tokenizer; the rendered prompt is tokenized by
    ``tokenizer`` when given (a user's own), else by Meta's, as a server would. With
    ``tokens=False`` only the text is compared (no tokenizer is loaded; inherent differences are
    not looked for).
    """
    if not tokens:
        at = first_difference(expected.prompt, rendered)
        base = Verdict(conv, rendered=rendered, expected=expected.prompt)
        return base if at is None else replace(base, category=_classify_text(rendered, expected, at),
                                               text_divergence=at)
    clock = _Clock(timings)
    meta = get_tokenizer(version)
    server = tokenizer or meta
    want = expected.prompt
    expected_ids = expected.ids(meta)
    actual_ids = server.encode_prompt(rendered)
    clock.lap("tokenize")
    try:
        return _verdict(conv, rendered, expected, want, expected_ids, actual_ids, meta, server)
    finally:
        clock.lap("compare")


def _verdict(conv: Conversation, rendered: str, expected: Expected, want: str, expected_ids: list[int],
             actual_ids: list[int], meta: Any, server: Any) -> Verdict:
    base = Verdict(conv, rendered=rendered, expected=want, expected_ids=expected_ids, actual_ids=actual_ids)
    token_at = first_difference(expected_ids, actual_ids)
    at = first_difference(want, rendered)
    if at is not None:
        return replace(base, category=_classify_text(rendered, expected, at), text_divergence=at,
                       first_divergence=token_at)
    if token_at is None:
        return base
    injected = sum(map(server.is_special, actual_ids)) > sum(map(meta.is_special, expected_ids))
    inherent = "special-token-injection" if injected else "boundary-merge"
    return replace(base, inherent=inherent, first_divergence=token_at)


def first_difference(a: Any, b: Any) -> int | None:
    """The first index where two sequences differ (the shorter length if one is a prefix), or None."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _classify_text(rendered: str, expected: Expected, at: int) -> str:
    at = _token_start(rendered, at)
    got = rendered[at:]
    if got.startswith("<|begin_of_text|>"):
        return "bos"
    wrote_text = bool(got) and not got.startswith("<|")
    piece, start = expected.piece_at(at, prefer_empty=wrote_text)
    if piece is None:  # the rendered prompt goes on where the reference has ended
        if got.startswith("<|start_header_id|>assistant<|end_header_id|>"):
            return "generation-prompt"
        return "end-token" if got.startswith(END_TOKENS) else "content-mismatch"
    if _kept_whitespace(expected, rendered, at):
        return "untrimmed-content"
    if piece.label == "content" and piece.content is not None:
        return "trimmed-content" if _was_trimmed(piece.content, rendered, start) else "content-mismatch"
    if piece.label == "end-token":
        return "content-mismatch" if wrote_text else "end-token"
    if piece.text == "<|start_header_id|>" and got.startswith(END_TOKENS):
        return "end-token"  # an extra end token where the next turn should begin
    return piece.label


def _token_start(text: str, at: int) -> int:
    """Move ``at`` back to the start of the special-token text it falls inside, if any."""
    start = text.rfind("<|", 0, at)
    return start if start >= 0 and "|>" not in text[start:at] else at


def _kept_whitespace(expected: Expected, rendered: str, at: int) -> bool:
    """The reference strips a content (Llama 3.0) that the rendered prompt keeps, around ``at``."""
    position = 0
    for piece in expected.pieces:
        end = position + len(piece.text)
        if (piece.label == "content" and piece.content is not None and piece.text != piece.content
                and position <= at <= end):
            kept = (piece.content, piece.content.rstrip(), piece.content.lstrip())
            if any(form != piece.text and rendered.startswith(form, position) for form in kept):
                return True
        position = end
    return False


def _was_trimmed(content: str, rendered: str, start: int) -> bool:
    stripped = content.strip()
    if stripped == content:
        return False
    return any(rendered.startswith(form, start) for form in (stripped, content.lstrip(), content.rstrip()))


__all__ = ["CATEGORIES", "INHERENT", "Verdict", "compare", "declared_dialect", "explained", "first_difference", "verify"]
