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
        return False, run.rejected.split(": ", 1)[-1]
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
    "generation_prompt": ("plain", lambda r: _check(
        r, bool(r.text and r.text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")),
        "assistant header added", "no assistant header")),
    "continue_final_message": ("continue-final", lambda r: _check(r, bool(r.text and r.text.endswith("Autumn moonlight")),
                                                                   "last message left open", "last message closed")),
}
NAMES = (*_BY_SHAPES, *_CHECKS)


def capabilities(template: ChatTemplate, *, engine: Engine | None = None) -> list[Capability]:
    """Probe ``template`` for each capability; every render runs in the sandbox, under limits.

    With a serving ``engine`` the probes go through its request handling, in the shapes it accepts
    (a capability whose probe the engine refuses is reported unsupported, with the engine's reason).
    """
    probes = ProbeSet(template.text, template.version, special_tokens=dict(template.special_tokens), engine=engine)
    found = {name: Capability(name, *_any_shape(probes, *spec)) for name, spec in _BY_SHAPES.items()}
    found.update((name, Capability(name, *check(probes.get(probe)))) for name, (probe, check) in _CHECKS.items())
    return [found[name] for name in _ORDER]


_ORDER = ("system_role", "tools", "tool_calls", "object_arguments", "string_arguments", "parallel_tool_calls",
          "tool_responses", "tool_call_id", "typed_content", "null_content", "generation_prompt",
          "continue_final_message")
