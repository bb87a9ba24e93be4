"""Features of a template, read off its renders of probe conversations (never off its name or version).

Every value is a short phrase a person can read ("first user message", "clock", "trims content"),
so two arbitrary templates compare as well as two official versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from ..rendering.conversation import Conversation
from ..engines.base import Engine
from .run import ProbeRun, ProbeSet
from ..rendering.renderer import render_text
from ..rendering.templates import ChatTemplate
from .turns import turns

_TODAY = re.compile(r"Today Date: ([^\n]*)\n")


def _raised(run: ProbeRun) -> str:
    """The feature value of a probe that did not render: the template raised, or the engine refused it."""
    if run.rejected is not None:
        return f"refused ({run.rejected})"
    return f"raises ({run.error.reason if run.error else 'no output'})"


def _where(get: Callable[[str], ProbeRun], cases: tuple[tuple[str, str], ...], shows: Callable[[str], bool],
           prefix: str) -> str:
    """``prefix`` and the labels of the probes whose output ``shows`` the feature, else ``never``."""
    hits = [label for probe, label in cases if shows(get(probe).text or "")]
    return f"{prefix} " + ", ".join(hits) if hits else "never"


def _bos(get: Callable[[str], ProbeRun]) -> str:
    run = get("plain")
    if run.text is None:
        return _raised(run)
    n = run.text.count("<|begin_of_text|>")
    return {0: "missing", 1: "once, at the start" if run.text.startswith("<|begin_of_text|>") else "once, not first"}.get(
        n, f"written {n} times")


def _today_default(template: ChatTemplate, engine: Engine | None = None) -> str:
    dates = []
    for day in (date(2024, 7, 26), date(2025, 1, 2)):
        try:
            hi = [{"role": "user", "content": "Hi"}]
            text = (engine.render(Conversation.from_request(hi), template, today=day) if engine is not None else
                    render_text(template.text, Conversation.from_data(hi), special_tokens=template.special_tokens,
                                today=day))
        except Exception as exc:  # noqa: BLE001 - a raising template has no default date
            return f"raises ({exc})"
        match = _TODAY.search(text)
        dates.append(match.group(1) if match else None)
    if dates[0] is None:
        return "none"
    return "clock (strftime_now)" if dates[0] != dates[1] else f"fixed ({dates[0]})"


def _environment(get: Callable[[str], ProbeRun]) -> str:
    cases = (("tool-call", "tools"), ("builtin-call", "built-in tools"), ("empty-tools", "tools=[]"),
             ("plain", "no tools"))
    return _where(get, cases, lambda text: "Environment: ipython" in text, "with")


def _tools_placement(get: Callable[[str], ProbeRun]) -> str:
    run = get("tool-call")
    if run.text is None:
        return _raised(run)
    for turn in turns(run.text):
        if '"get_weather"' in turn.body:
            return "system message" if turn.role == "system" else f"first {turn.role} message"
    return "none"


def _tool_role(get: Callable[[str], ProbeRun]) -> str:
    """The header of a tool result, read from a text result (what every template can write)."""
    run = get("text-result")
    if run.text is None:
        return _raised(run)
    roles = [t.role for t in turns(run.text) if "sunny, 21C" in t.body and t.role != "assistant"]
    if roles:
        return roles[0]
    return "no Llama 3 header" if "sunny, 21C" in run.text else "dropped"


def _object_result(get: Callable[[str], ProbeRun]) -> str:
    """What becomes of a tool result given as an object (``{"temperature": 21, "condition": "sunny"}``)."""
    run = get("tool-call")
    if run.text is None:
        return _raised(run)
    if '"condition": "sunny"' in run.text:
        return "written as JSON"
    if '\\"condition\\": \\"sunny\\"' in run.text:
        return "written as JSON text, encoded again"
    if "'condition': 'sunny'" in run.text:
        return "written as a Python repr"
    return "partly written" if "sunny" in run.text.replace("It is 21 degrees and sunny.", "") else "dropped"


def _call_format(get: Callable[[str], ProbeRun]) -> str:
    run = get("tool-call")
    if run.text is None:
        return _raised(run)
    body = next((t.body for t in turns(run.text) if t.role == "assistant" and "get_weather" in t.body), "")
    body = body.replace("<|python_tag|>", "").strip()
    if body.startswith('{"type": "function"'):
        return 'JSON {"type", "name", "parameters"}'
    if body.startswith('{"name"'):
        return 'JSON {"name", "parameters"}'
    if body.startswith("[get_weather("):
        return "pythonic [f(a=...)]"
    if body.startswith("<function="):
        return "<function=...> tag"
    return "none" if not body else f"other: {body[:30]}"


def _end_of_message(get: Callable[[str], ProbeRun]) -> str:
    cases = (("builtin-call", "built-in calls"), ("tool-call", "custom calls"),
             ("custom-call-with-builtins", "custom calls beside built-ins"))
    return _where(get, cases, lambda text: any(t.end == "<|eom_id|>" for t in turns(text)), "after")


def _python_tag(get: Callable[[str], ProbeRun]) -> str:
    cases = (("builtin-call", "built-in calls"), ("tool-call", "custom calls"))
    return _where(get, cases, lambda text: "<|python_tag|>" in text, "before")


def _content_trim(get: Callable[[str], ProbeRun]) -> str:
    run = get("whitespace")
    if run.text is None:
        return _raised(run)
    system = "  Be exact.\n" in run.text
    others = "\n  indented line  \n" in run.text and " answer " in run.text
    return {(True, True): "verbatim", (False, True): "trims the system message",
            (True, False): "trims messages", (False, False): "trims content"}[(system, others)]


def _generation_prompt(get: Callable[[str], ProbeRun]) -> str:
    header = "<|start_header_id|>assistant<|end_header_id|>\n\n"
    on = (get("plain").text or "").endswith(header)
    off = (get("no-generation-prompt").text or "").endswith(header)
    return {(True, False): "honoured", (True, True): "always added", (False, False): "never added"}.get((on, off), "inverted")


def _system_default(get: Callable[[str], ProbeRun]) -> str:
    run = get("plain")
    if run.text is None:
        return _raised(run)
    system = next((t.body for t in turns(run.text) if t.role == "system"), None)
    if system is None:
        return "no system message"
    rest = _TODAY.split(system)[-1] if _TODAY.search(system) else system
    rest = rest.strip()
    return f"'{rest[:60]}{'...' if len(rest) > 60 else ''}'" if rest else "none"


def _images(get: Callable[[str], ProbeRun]) -> str:
    run = get("image")
    if run.text is None:
        return _raised(run)
    if "<|image|>" in run.text:
        return "<|image|> per image part"
    return "written as a Python repr" if "{'type'" in run.text else "dropped"


def _multiple_calls(get: Callable[[str], ProbeRun]) -> str:
    run = get("two-calls")
    if run.text is None:
        return "raises"
    calls = "".join(t.body for t in turns(run.text) if t.role == "assistant")
    written = sum(city in calls for city in ("Paris", "Rome"))
    return {2: "all calls written", 1: "only the first call written"}.get(written, "calls dropped")


FEATURES: dict[str, Callable[[Callable[[str], ProbeRun]], str]] = {
    "bos": _bos,
    "environment_ipython": _environment,
    "tools_placement": _tools_placement,
    "tool_role_header": _tool_role,
    "object_tool_result": _object_result,
    "tool_call_format": _call_format,
    "end_of_message_token": _end_of_message,
    "python_tag": _python_tag,
    "content_trim": _content_trim,
    "generation_prompt": _generation_prompt,
    "system_prompt_default": _system_default,
    "images": _images,
    "multiple_tool_calls": _multiple_calls,
}


def features(template: ChatTemplate, *, engine: Engine | None = None) -> dict[str, str]:
    """Every feature of ``template`` as a readable value, found by probing (through ``engine``'s
    request handling when one is given: what that engine's users see)."""
    through = engine if engine is not None and engine.name != "transformers" else None
    get = ProbeSet(template.text, template.version, special_tokens=dict(template.special_tokens), engine=through).get
    plain = get("system")
    found = {"knowledge_date": "yes" if plain.text and "Cutting Knowledge Date:" in plain.text else "no",
             "today_date_default": _today_default(template, through)}
    for name, probe in FEATURES.items():
        found[name] = probe(get)
    order = ["bos", "knowledge_date", "today_date_default", *FEATURES]
    return {name: found[name] for name in dict.fromkeys(order)}
