"""llama.cpp's capability probes (release b10573, ``common/jinja/caps.cpp:caps_get``), rendered in jinja2.

llama.cpp renders each probe conversation with ``ctx.is_get_stats`` on: every value the template
touches is marked *used* (an identifier or member read, a filter or method applied to it, a
``for`` over it; ``tojson`` and ``string`` mark the whole value deeply) and the operations applied
to it are recorded (``array_access``, ``object_access``, a filter's name). The verdicts come from
those marks and from whether the render succeeded (``caps_try_execute``): some decide by what the
template *reads*, not what it prints. Defaults are ``common/jinja/caps.h``: tools, tool_calls,
system_role, parallel_tool_calls and string_content true; typed_content and object_arguments false.

Here the probe values are wrapped in tracked ``dict``/``list``/``str`` subclasses and rendered in
the ``llama.cpp-probe`` environment, whose item/attribute reads, filters and output mark them the
same way. A ``for`` over a string raises, as llama.cpp's engine does ("Expected iterable or object
type in for loop"). Hostile templates stay inside the sandbox and its limits (a limit error is
raised, not read as a failed probe).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import jinja2

from ..errors import LimitExceeded, RenderError
from ..rendering.environment import FLAVOURS, LlamaSandbox
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.llama_flavour import LlamaCppSandbox, build_llama_environment, llama_finalize
from ..rendering.renderer import render_variables

PROBE_FLAVOUR = "llama.cpp-probe"
VERDICTS = "llama.cpp b10573 common/jinja/caps.cpp"
NAMES = ("system_role", "tools", "tool_calls", "parallel_tool_calls", "object_arguments",
         "string_content", "typed_content")
MEANING = {
    "system_role": "the system probe's messages[0].content is read (else the system message is merged "
                   "into the next one)",
    "tools": "tools[0].function.name is read in the tool-call probe",
    "tool_calls": "messages[1].tool_calls is read in the tool-call probe",
    "parallel_tool_calls": "the two-call probe renders and reads tool_calls[1].function",
    "object_arguments": "arguments.arg of an object-arguments call is read (then JSON-text arguments "
                        "are parsed into objects)",
    "string_content": "a string content renders (and, when read as an array, is printed); else every "
                      "string content becomes a list of text parts",
    "typed_content": "content is read as an array (a for loop, an index or selectattr)",
}
_MARKER = "STRING_MARKER"


@dataclass
class _Stats:
    """What one probe render touched: ids of used values and the operations applied to each."""

    used: set[int] = field(default_factory=set)
    ops: dict[int, set[str]] = field(default_factory=dict)

    def mark(self, value: Any, op: str | None = None, deep: bool = False) -> None:
        if isinstance(value, _TRACKED):
            self.used.add(id(value))
            if op:
                self.ops.setdefault(id(value), set()).add(op)
        if deep:  # plain containers built by the template still hold the probe's own values
            for child in _children(value):
                self.mark(child, deep=True)

    def is_used(self, value: Any) -> bool:
        return id(value) in self.used

    def has_op(self, value: Any, op: str) -> bool:
        return op in self.ops.get(id(value), ())


def _children(value: Any) -> list[Any]:
    """A container's members, read without the tracked types' own marking iteration."""
    if isinstance(value, dict):
        return list(dict.values(value))
    if isinstance(value, list):
        return list(list.__iter__(value))
    return list(value) if isinstance(value, tuple) else []


_STATS: contextvars.ContextVar[_Stats | None] = contextvars.ContextVar("llamacpp_probe_stats", default=None)


def _mark(value: Any, op: str | None = None, deep: bool = False) -> None:
    stats = _STATS.get()
    if stats is not None:
        stats.mark(value, op, deep)


class _TStr(str):
    def __iter__(self) -> Any:
        _mark(self, "array_access")
        raise TypeError("Expected iterable or object type in for loop: got String")


class _TList(list):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        _mark(self, "array_access")
        return list.__iter__(self)


class _TDict(dict):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        _mark(self, "object_access")
        return dict.__iter__(self)


_TRACKED = (_TStr, _TList, _TDict)


def _track(value: Any) -> Any:
    """A JSON value rebuilt from tracked types (every node its own object, so marks are per node)."""
    if isinstance(value, str):
        return _TStr(value)
    if isinstance(value, list):
        return _TList(_track(v) for v in value)
    if isinstance(value, dict):
        return _TDict((k, _track(v)) for k, v in value.items())
    return value


class _ProbeSandbox(LlamaCppSandbox):
    """The llama.cpp flavour whose reads mark the tracked probe values (``runtime.cpp``
    ``member_expression::execute_impl`` and ``try_builtin_func``)."""

    def getitem(self, obj: Any, argument: Any) -> Any:
        result = super().getitem(obj, argument)
        _mark(obj, "array_access" if isinstance(argument, int) else "object_access")
        _mark(result)
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        result = super().getattr(obj, attribute)
        _mark(obj, attribute if callable(result) else "object_access")
        _mark(result)
        return result


def _marking_filter(name: str, filter_: Callable[..., Any]) -> Callable[..., Any]:
    passes_arg = jinja2.utils._PassArg.from_obj(filter_) is not None
    deep = name in ("tojson", "string")

    @functools.wraps(filter_)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = args[1] if passes_arg and len(args) > 1 else (args[0] if args else None)
        _mark(value, name, deep)
        return filter_(*args, **kwargs)

    return wrapper


def _finalize(value: Any) -> Any:
    _mark(value)  # an identifier printed is an identifier read
    return llama_finalize(value)


def _build_probe_environment() -> LlamaSandbox:
    env = build_llama_environment(_ProbeSandbox)
    for name, filter_ in list(env.filters.items()):
        env.filters[name] = _marking_filter(name, filter_)
    plain_iterable = cast(Callable[[Any], bool], env.tests["iterable"])
    env.tests["iterable"] = lambda value: isinstance(value, str) or plain_iterable(value)
    env.finalize = _finalize
    return env


FLAVOURS[PROBE_FLAVOUR] = _build_probe_environment()


@dataclass(frozen=True)
class LlamaCaps:
    """llama.cpp's verdicts for one template (``common/jinja/caps.h`` ``struct caps``)."""

    system_role: bool = True
    tools: bool = True
    tool_calls: bool = True
    parallel_tool_calls: bool = True
    object_arguments: bool = False
    string_content: bool = True
    typed_content: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in NAMES}


def _run(text: str, messages: list[Any], tools: list[Any], limits: Limits) -> tuple[bool, str, Any, Any]:
    """``caps_try_execute``: render once with stats; (success, output, tracked messages, tracked tools)."""
    tracked_messages, tracked_tools = _track(messages), _track(tools)
    variables = {"messages": tracked_messages, "tools": tracked_tools, "bos_token": "", "eos_token": "",
                 "add_generation_prompt": True}
    try:
        output = render_variables(text, variables, limits=limits, name="caps probe", flavour=PROBE_FLAVOUR)
    except LimitExceeded:
        raise
    except RenderError:
        return False, "", tracked_messages, tracked_tools
    return True, output, tracked_messages, tracked_tools


def _tool_call(call_id: str, arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "tool1", "arguments": arguments}}


def _tool_conversation(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "User message"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "Tool response", "tool_call_id": "call00001"},
        {"role": "assistant", "content": "The tool response was 'tool response'"},
        {"role": "user", "content": "User message"},
    ]


def _probe_tools() -> list[dict[str, Any]]:
    return [{"name": "tool", "type": "function", "function": {
        "name": "tool1", "description": "Tool description",
        "parameters": {"type": "object",
                       "properties": {"arg": {"type": "string", "description": "Arg description"}},
                       "required": ["arg"]}}}]


def probe(text: str, limits: Limits = DEFAULT_LIMITS) -> LlamaCaps:
    """Run llama.cpp's probes (``caps_get``, in its order) on template text."""
    token = _STATS.set(_Stats())
    try:
        return _probe(text, limits)
    finally:
        _STATS.reset(token)


def _fresh() -> _Stats:
    stats = _Stats()
    _STATS.set(stats)
    return stats


def _probe(text: str, limits: Limits) -> LlamaCaps:
    found = LlamaCaps().as_dict()
    # typed content
    stats = _fresh()
    ok, out, msgs, _ = _run(text, [{"role": "user", "content": _MARKER}], [], limits)
    content = msgs[0]["content"]
    as_array = stats.has_op(content, "selectattr") or stats.has_op(content, "array_access")
    if as_array:
        found["typed_content"] = True
    if not ok or (as_array and _MARKER not in out):
        found["string_content"] = False
    # system prompt
    stats = _fresh()
    _, _, msgs, _ = _run(text, [{"role": "system", "content": "System message"},
                                {"role": "user", "content": "User message"}], [], limits)
    if not stats.is_used(msgs[0]["content"]):
        found["system_role"] = False
    # one call, object arguments
    stats = _fresh()
    ok, _, msgs, tools = _run(text, _tool_conversation([_tool_call("call00001", {"arg": "value"})]),
                              _probe_tools(), limits)
    if ok:
        if not stats.is_used(tools[0]["function"]["name"]):
            found["tools"] = False
        calls = msgs[1]["tool_calls"]
        if not stats.is_used(calls):
            found["tool_calls"] = False
        elif stats.is_used(calls[0]["function"]["arguments"]["arg"]):
            found["object_arguments"] = True
    # one call, string arguments (only when objects were not read)
    if not found["object_arguments"]:
        stats = _fresh()
        ok, _, msgs, tools = _run(text, _tool_conversation([_tool_call("call00001", '{"arg": "value"}')]),
                                  _probe_tools(), limits)
        if not ok:
            found["tool_calls"] = found["tools"] = False
        else:
            if not stats.is_used(tools[0]["function"]["name"]):
                found["tools"] = False
            if not stats.is_used(msgs[1]["tool_calls"]):
                found["tool_calls"] = False
    # parallel calls
    stats = _fresh()
    args: Any = {"arg": "value"} if found["object_arguments"] else '{"arg": "value"}'
    ok, _, msgs, _ = _run(text, _tool_conversation([_tool_call("call00001", args), _tool_call("call00002", args)]),
                          _probe_tools(), limits)
    if not ok or not stats.is_used(msgs[1]["tool_calls"][1]["function"]):
        found["parallel_tool_calls"] = False
    return LlamaCaps(**found)


@functools.lru_cache(maxsize=64)
def cached_probe(text: str) -> LlamaCaps:
    """:func:`probe` with the default limits, once per template text."""
    return probe(text)
