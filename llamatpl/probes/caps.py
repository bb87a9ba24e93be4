"""What a template supports, found by rendering probe conversations (never by reading its name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..engines.base import Engine
from ..rendering.templates import ChatTemplate
from .run import ProbeRun, ProbeSet
from .shapes import CALL_VALUE, FUNCTION, RESULT, SECOND_VALUE, SYSTEM, shapes_of


@dataclass(frozen=True)
class Capability:
    name: str
    supported: bool
    detail: str


def _has(run: ProbeRun, *needles: str) -> bool:
    return run.text is not None and all(n in run.text for n in needles)


def _check(run: ProbeRun, ok: bool, yes: str, no: str) -> tuple[bool, str]:
    if run.rejected is not None:
        return False, run.rejected
    if run.error is not None:
        return False, f"raises: {run.error.reason}"
    return (True, yes) if ok else (False, no)


# Capabilities probed on their own, in several shapes, by markers (llamatpl/probes/shapes.py).
_BY_SHAPES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "system_role": ("caps-system", (SYSTEM,), "system message rendered", "system message dropped"),
    "tools": ("caps-tools", (FUNCTION,), "tool definitions rendered", "tool definitions not rendered"),
    "tool_calls": ("caps-call-", (CALL_VALUE,), "tool call rendered", "tool call dropped"),
    "parallel_tool_calls": ("caps-parallel-", (CALL_VALUE, SECOND_VALUE), "both calls rendered", "a call is dropped"),
    "tool_responses": ("caps-result-", (RESULT,), "tool result rendered", "tool result dropped"),
}


def _any_shape(probes: ProbeSet, prefix: str, needles: tuple[str, ...], yes: str, no: str) -> tuple[bool, str]:
    """Supported when any shape's render shows every marker; otherwise the first shape's reason."""
    reasons: list[str] = []
    names = shapes_of(prefix)
    for name in names:
        run = probes.get(name)
        ok, detail = _check(run, _has(run, *needles), yes, no)
        if ok:
            return True, f"{yes} ({name.removeprefix('caps-')})"
        reasons.append(detail)
    return False, reasons[0] if len(set(reasons)) == 1 else f"{reasons[0]} (and {len(names) - 1} other shapes fail)"


_CHECKS: dict[str, tuple[str, Callable[[ProbeRun], tuple[bool, str]]]] = {
    "object_arguments": ("tool-call", lambda r: _check(r, _has(r, '"city": "Paris"'), "written as JSON",
                                                        "not written as JSON")),
    "string_arguments": ("string-arguments", lambda r: _check(
        r, _has(r, '"city": "Paris"') and not _has(r, '\\"city\\"'), "JSON text written once",
        "JSON text encoded again" if _has(r, '\\"city\\"') else "arguments dropped")),
    "tool_call_id": ("tool-call", lambda r: _check(r, _has(r, "call_1"), "ids rendered", "ids not used")),
    "typed_content": ("list-content", lambda r: _check(r, _has(r, "Hello there") and not _has(r, "{'type'"),
                                                        "text parts rendered", "rendered as a Python repr")),
    "null_content": ("null-content", lambda r: _check(r, not _has(r, "None"), "renders empty", "renders None")),
    "continue_final_message": ("continue-final", lambda r: _check(r, bool(r.text and r.text.endswith("Autumn moonlight")),
                                                                   "last message left open", "last message closed")),
}
NAMES = (*_BY_SHAPES, *_CHECKS, "generation_prompt")


def _generation_prompt(probes: ProbeSet) -> tuple[bool, str]:
    """In any format: the prompt with ``add_generation_prompt`` minus the one without is text that ends
    it; or, when both are the same (an engine that always adds it, a format with no assistant header),
    the prompt ends with what the template writes between a user's text and the assistant's reply."""
    on, off, opened = probes.get("plain"), probes.get("plain-no-generation-prompt"), probes.get("assistant-opener")
    for run in (on, off):
        if run.text is None:
            return _check(run, False, "", "")
    assert on.text is not None and off.text is not None
    if on.text != off.text:
        if on.text.startswith(off.text):
            return True, f"{on.text[len(off.text):]!r} added"
        return False, "add_generation_prompt changes earlier text, not the end"
    text = opened.text or ""
    reply = text.rfind("mk reply 6607")
    opener = text[text.rfind("Hello there", 0, max(reply, 0)) + len("Hello there"):reply] if reply > 0 else ""
    # the opener's trailing space may belong to the reply (Mistral's "[/INST] " + content), and its start
    # may close the user's turn in other whitespace than the prompt's end (ChatML's newline after endfor)
    ends = max((_common_end(on.text, o) for o in (opener, opener.rstrip())), key=len)
    if ends.strip():
        return True, f"always ends with the reply opener {ends!r}"
    return False, "nothing added"


def _common_end(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return a[len(a) - n:]


def capabilities(template: ChatTemplate, *, engine: Engine | None = None) -> list[Capability]:
    """Probe ``template`` for each capability; every render runs in the sandbox, under limits.

    With a serving ``engine`` the probes go through its request handling, in the shapes it accepts
    (a capability whose probe the engine refuses is reported unsupported, with the engine's reason).
    """
    probes = ProbeSet(template.text, template.version, special_tokens=dict(template.special_tokens), engine=engine)
    found = {name: Capability(name, *_any_shape(probes, *spec)) for name, spec in _BY_SHAPES.items()}
    found.update((name, Capability(name, *check(probes.get(probe)))) for name, (probe, check) in _CHECKS.items())
    found["generation_prompt"] = Capability("generation_prompt", *_generation_prompt(probes))
    return [found[name] for name in _ORDER]


_ORDER = ("system_role", "tools", "tool_calls", "object_arguments", "string_arguments", "parallel_tool_calls",
          "tool_responses", "tool_call_id", "typed_content", "null_content", "generation_prompt",
          "continue_final_message")
