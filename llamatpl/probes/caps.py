"""What a template supports, found by rendering probe conversations (never by reading its name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..engines.base import Engine
from ..rendering.templates import ChatTemplate
from .run import ProbeRun, ProbeSet


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


_CHECKS: dict[str, tuple[str, Callable[[ProbeRun], tuple[bool, str]]]] = {
    "system_role": ("system", lambda r: _check(r, _has(r, "You are terse."), "system message rendered", "system message dropped")),
    "tools": ("tool-call", lambda r: _check(r, _has(r, '"get_weather"', "Current weather"),
                                             "tool definitions rendered", "tool definitions not rendered")),
    "tool_calls": ("tool-call", lambda r: _check(r, _has(r, "get_weather", "Paris"), "tool call rendered", "tool call dropped")),
    "object_arguments": ("tool-call", lambda r: _check(r, _has(r, '"city": "Paris"'), "written as JSON",
                                                        "not written as JSON")),
    "string_arguments": ("string-arguments", lambda r: _check(
        r, _has(r, '"city": "Paris"') and not _has(r, '\\"city\\"'), "JSON text written once",
        "JSON text encoded again" if _has(r, '\\"city\\"') else "arguments dropped")),
    "parallel_tool_calls": ("two-calls", lambda r: _check(r, _has(r, "Paris", "Rome"), "both calls rendered",
                                                           "a call is dropped")),
    "tool_responses": ("tool-call", lambda r: _check(r, _has(r, "sunny"), "tool result rendered", "tool result dropped")),
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
NAMES = tuple(_CHECKS)


def capabilities(template: ChatTemplate, *, engine: Engine | None = None) -> list[Capability]:
    """Probe ``template`` for each capability; every render runs in the sandbox, under limits.

    With a serving ``engine`` the probes go through its request handling, in the shapes it accepts
    (a capability whose probe the engine refuses is reported unsupported, with the engine's reason).
    """
    probes = ProbeSet(template.text, template.version, special_tokens=dict(template.special_tokens), engine=engine)
    return [Capability(name, *check(probes.get(probe))) for name, (probe, check) in _CHECKS.items()]
