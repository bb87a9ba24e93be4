"""Render a conversation through a chat template, byte-identical to transformers' ``apply_chat_template``.

What transformers does around the Jinja call is mirrored too, since it changes the bytes: the
tokenizer's special tokens are passed as variables and the conversation's own variables override
them, and ``continue_final_message`` renders the last message open by cutting the output at a
marker. Two input rules depend on the transformers release being matched (``transformers=``):
from 5.21 reasoning fields are aliased (``thinking`` / ``reasoning_content``); from 5.23 message
keys whose value is ``None`` are dropped (so ``"content": null`` reads as undefined, not ``None``).
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from collections.abc import Mapping
from datetime import date
from types import TracebackType
from typing import Any

import jinja2

from . import backend as _backend
from . import fast as _fast
from . import fastscan as _fastscan
from . import limits as _limits
from . import messages as _messages
from . import llama_flavour  # noqa: F401 - registers the llama.cpp flavour of the environment
from .conversation import Conversation
from .environment import RaisedByTemplate, compile_template, pinned_today, restore_today
from ..errors import InputError, InvalidTemplate, LimitExceeded, RenderError, SandboxViolation, TemplateRaised
from .templates import ChatTemplate, resolve_template

_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "
TRANSFORMERS = "5.23"  # the transformers release whose apply_chat_template is matched by default


def render(
    conversation: Conversation | Mapping[str, Any] | list[Any],
    *,
    version: str | None = None,
    template: str | ChatTemplate | None = None,
    today: date | str | None = None,
    limits: _limits.Limits = _limits.DEFAULT_LIMITS,
    transformers: str = TRANSFORMERS,
) -> str:
    """Render ``conversation`` to the exact prompt text a server would tokenize.

    ``template`` is a name (``official:3.1``, ``tuned:3.2``), a path, or a resolved
    :class:`~llamatpl.templates.ChatTemplate`; ``version`` alone means the official template of that
    version. ``today`` pins ``strftime_now`` (a ``date`` or ``"YYYY-MM-DD"``); by default the clock
    is read, as transformers does. ``transformers`` names the release whose
    ``apply_chat_template`` to match byte for byte (its input rules changed in 5.21 and 5.23).
    Raises :class:`~llamatpl.errors.RenderError` when the template raises,
    :class:`~llamatpl.errors.LimitExceeded` when it passes ``limits``.
    """
    conv = Conversation.from_data(conversation)
    tpl = template if isinstance(template, ChatTemplate) else resolve_template(template, version=version)
    return render_text(tpl.text_for(has_tools=conv.tools is not None), conv,
                       special_tokens=tpl.special_tokens, today=parse_today(today), limits=limits,
                       name=tpl.name, transformers=transformers)


def parse_today(today: date | str | None) -> date | None:
    """Accept a ``date`` or an ISO ``YYYY-MM-DD`` string."""
    if today is None or isinstance(today, date):
        return today
    try:
        return date.fromisoformat(today)
    except ValueError:
        form = re.fullmatch(r"\d{4}-\d{2}-\d{2}", today.strip()) is not None
        raise InputError(f"--today: {today!r} is not a real day" if form
                         else f"--today: {today!r} is not a date in the form YYYY-MM-DD") from None


def render_text(
    template_text: str,
    conversation: Conversation,
    *,
    special_tokens: Mapping[str, str],
    today: date | None = None,
    limits: _limits.Limits = _limits.DEFAULT_LIMITS,
    name: str = "template",
    trace: list[tuple[int, int]] | None = None,
    transformers: str = TRANSFORMERS,
) -> str:
    """Render raw template text; the engine under :func:`render`, used by verify, lint and diff.

    With ``trace`` (a list), each output chunk appends ``(end offset, template line)`` to it.
    """
    context, scanned = _messages.prepared(conversation, transformers, special_tokens)
    cfm = conversation.continue_final_message
    if cfm and conversation.add_generation_prompt:
        raise InputError(f"{conversation.name}: continue_final_message and add_generation_prompt "
                         "cannot both be true")
    field, last_text = "", ""
    if cfm:  # the final message is replaced by a marked copy, in a list and variables of this render's own
        messages = list(context["messages"])
        field, last_text = _mark_final_message(messages, cfm, template_text, conversation.name)
        context = {**context, "messages": messages}
    out = render_variables(template_text, context, today=today, limits=limits, name=name, trace=trace,
                           scanned=scanned, scope=(_scope_label(transformers), (
                               render_text, template_text, special_tokens, limits, name, transformers)))
    return _cut_at_marker(out, last_text, conversation.name) if field else out


@functools.lru_cache(maxsize=16)
def _scope_label(transformers: str) -> str:
    return f"transformers {transformers}"


def render_variables(
    template_text: str,
    variables: Mapping[str, Any],
    *,
    today: date | None = None,
    limits: _limits.Limits = _limits.DEFAULT_LIMITS,
    name: str = "template",
    trace: list[tuple[int, int]] | None = None,
    flavour: str = "transformers",
    scanned: int | None = None,
    scope: tuple[str, tuple[Any, ...]] | None = None,
) -> str:
    """Render raw template text with exactly ``variables`` (an absent key is undefined), in the
    sandbox, within ``limits``; every error the template causes becomes one located line.

    The shared core of every engine that renders with jinja2: :func:`render_text` builds the
    variables as transformers does; other engines build their own (``llamatpl.engines``).
    ``flavour`` picks the Jinja environment (``transformers``, or ``llama.cpp``: see
    :mod:`llamatpl.rendering.llama_flavour`). The backend is
    :func:`llamatpl.rendering.backend.choose`'s: minijinja where a differential check showed it
    writes these same bytes (for this flavour), jinja2 otherwise (and for every render that fails
    on minijinja, so errors read the same on both paths, and for every input holding a number
    minijinja prints otherwise). ``scanned`` holds :func:`.fastscan.scan`'s flags for
    ``variables``: walked here unless given, as :func:`render_text` gives them from the
    conversation it prepared once.
    """
    choice = _backend.choose(template_text, variables, tracing=trace is not None,
                             flavour="" if flavour == "transformers" else flavour, scope=scope)
    _backend.LAST.set(choice)
    if choice.backend == _backend.MINIJINJA:
        if scanned is None:
            scanned = _fastscan.scan(variables)
        odd = scanned & _fastscan.JINJA2_ONLY
        fast = None if odd else _render_fast(template_text, variables, today, limits, scanned)
        recording = _backend.recording()
        if recording is None:
            if fast is not None:
                return fast
            if odd:
                _backend.LAST.set(_jinja2_only(odd))
        else:
            return _differential(template_text, variables, fast, recording, today=today, limits=limits, name=name,
                                 flavour=flavour)
    try:
        compiled = compile_template(template_text, flavour)
    except InvalidTemplate as exc:
        raise InvalidTemplate(f"{name}: {exc.message}", line=exc.line) from None
    context = {**compiled.environment.globals, **variables}
    today_token = pinned_today(today) if today is not None else None
    budget_token = _limits.start(limits)
    try:
        return _generate(compiled, context, limits.max_chars, trace)
    except RenderError as exc:
        line = exc.line or template_line(exc.__traceback__)
        where = f"{name} line {line}" if line else name
        raise type(exc)(f"{where}: {exc.message}", line=line, reason=exc.reason) from None
    except jinja2.exceptions.SecurityError as exc:
        raise _located(SandboxViolation, name, "sandbox violation", exc) from None
    except RaisedByTemplate as exc:
        raise _located(TemplateRaised, name, "template error", exc) from None
    except jinja2.exceptions.TemplateError as exc:
        raise _located(RenderError, name, "template error", exc) from None
    except RecursionError as exc:
        raise _located(LimitExceeded, name, "recursion limit", exc, reason="recursed too deep") from None
    except MemoryError as exc:
        raise _located(LimitExceeded, name, "memory limit", exc, reason="ran out of memory") from None
    except Exception as exc:  # noqa: BLE001 - any error a template causes is the template's
        raise _located(RenderError, name, type(exc).__name__, exc) from None
    finally:
        _limits.stop(budget_token)
        if today_token is not None:
            restore_today(today_token)


def _jinja2_only(flags: int) -> _backend.Choice:
    what = ("a number minijinja prints otherwise (such as 1e-05)" if flags & _fastscan.ODD_NUMBER else
            "a message without content (undefined: minijinja reads it otherwise)" if flags & _fastscan.MISSING_VALUE
            else "a lone surrogate (minijinja's strings are UTF-8)")
    return _backend.Choice(_backend.JINJA2, f"the input holds {what}; this render is jinja2's")


def _render_fast(template_text: str, variables: Mapping[str, Any], today: date | None,
                 limits: _limits.Limits, scanned: int, found: _fast.Ready | None = None) -> str | None:
    """minijinja's output, or ``None`` (render on jinja2). ``found``: the template as
    :func:`.fast.ready` looked it up for this text, limits and ``scanned``, when a caller renders it
    several times (a conversation's prefixes)."""
    # with the default limits no budget is needed: minijinja's fuel keeps time, and the limits the
    # Python filters read (tojson's indent) are the defaults when no budget is set
    if today is None and limits is _limits.DEFAULT_LIMITS:
        return _fast_once(template_text, variables, limits, scanned, found)
    today_token = pinned_today(today) if today is not None else None
    budget_token = None if limits is _limits.DEFAULT_LIMITS else _limits.start(limits)
    try:
        return _fast_once(template_text, variables, limits, scanned, found)
    finally:
        if budget_token is not None:
            _limits.stop(budget_token)
        if today_token is not None:
            restore_today(today_token)


def _fast_once(template_text: str, variables: Mapping[str, Any], limits: _limits.Limits, scanned: int,
               found: _fast.Ready | None) -> str | None:
    if found is not None:
        return _fast.run(found, variables, limits.max_chars)
    return _fast.render(template_text, variables, limits, scanned & _fastscan.TRIM_CHARS)


def _differential(template_text: str, variables: Mapping[str, Any], fast: str | None, recording: Any, *,
                  today: date | None, limits: _limits.Limits, name: str, flavour: str) -> str:
    """A render of the differential check: jinja2's result is returned (or raised), minijinja's compared.

    ``fast`` is ``None`` when minijinja gave up, and then the fast path renders on jinja2 too: only
    an output of minijinja's that is not jinja2's (or where jinja2 raises) is a difference."""
    key = "" if flavour == "transformers" else flavour
    with _backend.forced(_backend.JINJA2):
        try:
            out = render_variables(template_text, variables, today=today, limits=limits, name=name,
                                   flavour=flavour)
        except LimitExceeded:
            recording.limit_hit = True
            raise
        except RenderError:
            recording.note(template_text, key, None if fast is None else "minijinja renders where jinja2 raises")
            raise
    if fast is None:
        recording.fallbacks += 1
    recording.note(template_text, key, None if fast is None or fast == out else
                   f"outputs differ at offset {_first_difference(out, fast)}")
    return out


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


_CHUNKS = 16  # output chunks taken at a time; each chunk's own size was checked when it was built


def _generate(compiled: jinja2.Template, context: dict[str, Any], max_chars: int,
              trace: list[tuple[int, int]] | None) -> str:
    parts: list[str] = []
    total = 0
    try:
        # the context already holds the globals (see render_variables), so Jinja need not copy it
        generator = compiled.root_render_func(compiled.new_context(context, shared=True))
        if trace is None:
            while batch := list(itertools.islice(generator, _CHUNKS)):
                total += sum(map(len, batch))
                if total > max_chars:
                    _limits.check_size(total, "output")
                parts += batch
        else:
            for chunk in generator:
                total += len(chunk)
                if total > max_chars:
                    _limits.check_size(total, "output")
                parts.append(chunk)
                trace.append((total, _current_line(compiled, generator)))
    except Exception:
        compiled.environment.handle_exception()  # re-raises with template line numbers
    return "".join(parts)


def template_context(conversation: Conversation, special_tokens: Mapping[str, str],
                     messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The variables a template is rendered with, exactly as transformers passes them."""
    return _messages.context(conversation, special_tokens,
                             _messages.template_messages(conversation) if messages is None else messages)


def _current_line(compiled: jinja2.Template, generator: Any) -> int:
    """The template line a suspended render generator stands at (following ``yield from``)."""
    inner = generator
    while getattr(inner, "gi_yieldfrom", None) is not None and hasattr(inner.gi_yieldfrom, "gi_frame"):
        inner = inner.gi_yieldfrom
    frame = getattr(inner, "gi_frame", None)
    return compiled.get_corresponding_lineno(frame.f_lineno) if frame is not None else 1


def _mark_final_message(messages: list[dict[str, Any]], cfm: bool | str, template_text: str,
                        name: str) -> tuple[str, str]:
    """Append the continue marker to the last message, as transformers does; return (field, text)."""
    field = cfm if isinstance(cfm, str) else "content"
    last = messages[-1] = dict(messages[-1])  # never mark the caller's own message
    final = last.get(field)
    if final is None:
        raise InputError(f"{name}: continue_final_message: the last message has no {field!r} to continue")
    fields = [field]
    if field in _messages.REASONING_FIELDS:
        fields = [f for f in _messages.REASONING_FIELDS if last.get(f) == final]
    if not any(f in template_text for f in fields):
        raise InputError(f"{name}: continue_final_message: the template never reads {field!r}")
    if isinstance(final, (list, tuple)):
        parts = copy.deepcopy(list(final))
        for part in reversed(parts):
            if isinstance(part, dict) and "text" in part:
                final = part["text"]
                part["text"] = part["text"] + _CONTINUE_TAG
                break
        else:
            raise InputError(f"{name}: continue_final_message: the last message has no text to continue")
        last[field] = parts
    else:
        for f in fields:
            last[f] = last[f] + _CONTINUE_TAG
    return field, final


def _cut_at_marker(out: str, final: str, name: str) -> str:
    marker = _CONTINUE_TAG.strip()
    if final.strip() not in out or marker not in out:
        raise RenderError(f"{name}: continue_final_message: the template does not write the final "
                          "message out unchanged, so it cannot be continued")
    at = out.rindex(marker)
    if out[at:at + len(_CONTINUE_TAG)] == _CONTINUE_TAG:
        return out[:at]
    return out[:at].rstrip()


def template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost frame Jinja attributes to template source."""
    line = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _located(kind: type[RenderError], name: str, label: str, exc: BaseException, *,
             reason: str = "") -> RenderError:
    """``official:3.1 line 71: template error: <what the template said>``."""
    line = template_line(exc.__traceback__)
    where = f"{name} line {line}" if line else name
    reason = reason or str(exc) or label
    return kind(f"{where}: {label}: {reason}", line=line, reason=reason)
