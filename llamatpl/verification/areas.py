"""Feature areas: one hypothesis strategy per thing a template must get right, searched on its own.

Each area's conversations always exercise its feature and little else, so a failure in one area
does not hide the others and each gets its own shrunk counterexample. ``combined`` is the general
strategy (features together), for faults that only show in combination. :func:`without_feature`
gives the same conversation without the feature, to tell a template that ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ..errors import UsageError
from ..rendering.conversation import Conversation
from .strategies import (BUILTIN_TOOLS, _arguments, _builtin_call, _call, _parts, _results, _tool_lists, contents,
                         conversations, finish)

TEXT = ("3.1", "3.2", "3.2-vision")
ALL = ("3.0", *TEXT)


@dataclass(frozen=True)
class Area:
    name: str
    title: str
    versions: tuple[str, ...] = ALL


AREAS = (
    Area("plain-chat", "plain chat"),
    Area("system-message", "system message"),
    Area("multi-turn", "multi-turn"),
    Area("tools-in-system", "tools in the system message", TEXT),
    Area("tools-in-user", "tools in the first user message", TEXT),
    Area("custom-tool-call", "custom tool call", TEXT),
    Area("arguments-json-text", "arguments as JSON text", TEXT),
    Area("builtin-tool-call", "built-in tool call", ("3.1",)),
    Area("parallel-calls", "parallel calls", TEXT),
    Area("tool-result-text", "tool result as text", TEXT),
    Area("tool-result-object", "tool result as an object", TEXT),
    Area("tool-result-json-text", "tool result as JSON text", TEXT),
    Area("content-parts", "content parts", TEXT),
    Area("images", "images", ("3.2-vision",)),
    Area("continue-final-message", "continue_final_message"),
    Area("prefill", "prefill (a closed final assistant turn)"),
    Area("combined", "features combined"),
)
BY_NAME = {a.name: a for a in AREAS}


def areas_for(version: str, only: list[str] | None = None) -> list[Area]:
    """The areas Llama ``version`` has, in order; ``only`` restricts them (unknown names are a usage error)."""
    if only:
        unknown = [n for n in only if n not in BY_NAME]
        if unknown:
            raise UsageError(f"--features: unknown feature area {unknown[0]!r}; use: {', '.join(BY_NAME)}")
    return [a for a in AREAS if version in a.versions and (not only or a.name in only)]


def _text(draw: st.DrawFn) -> str:
    return draw(contents())


def _said(draw: st.DrawFn) -> str:
    """Text with something in it, for a message that is continued."""
    text = draw(contents())
    return text if text.strip() else "ok" + text


def _user(draw: st.DrawFn) -> dict[str, Any]:
    return {"role": "user", "content": _text(draw)}


def _tool_round(draw: st.DrawFn, data: dict[str, Any], *, as_text: bool | None = False, calls: int = 1,
                result: Any = None) -> None:
    """Tools, a user question, an assistant turn with ``calls`` custom calls and (optionally) its result."""
    tools = draw(_tool_lists())
    names = [t["function"]["name"] for t in tools]
    data["tools"] = tools
    chosen = [draw(st.sampled_from(names)) for _ in range(calls)]
    text = [draw(st.booleans()) if as_text is None else as_text for _ in chosen]
    data["messages"] += [_user(draw), {"role": "assistant", "tool_calls": [
        _call(n, draw(_arguments()), t) for n, t in zip(chosen, text)]}]
    if result is not None:
        data["messages"].append({"role": draw(st.sampled_from(["tool", "ipython"])), "content": draw(result)})


def _json_text() -> st.SearchStrategy[str]:
    return st.dictionaries(st.sampled_from(["t", "city", "ok"]), st.integers(-9, 99), max_size=2).map(json.dumps)


_BUILD: dict[str, Callable[[st.DrawFn, dict[str, Any]], str | None]] = {
    "plain-chat": lambda draw, d: d["messages"].extend(
        [_user(draw)] + ([{"role": "assistant", "content": _text(draw)}] if draw(st.booleans()) else [])),
    "system-message": lambda draw, d: d["messages"].extend(
        [{"role": "system", "content": _text(draw)}, _user(draw)]),
    "multi-turn": lambda draw, d: d["messages"].extend(
        m for _ in range(draw(st.integers(2, 3))) for m in (_user(draw), {"role": "assistant", "content": _text(draw)})),
    "tools-in-system": lambda draw, d: d.update(tools=draw(_tool_lists()), tools_in_user_message=False,
                                                messages=[_user(draw)]),
    "tools-in-user": lambda draw, d: d.update(tools=draw(_tool_lists()), tools_in_user_message=True,
                                              messages=[_user(draw)]),
    "custom-tool-call": lambda draw, d: _tool_round(draw, d),
    "arguments-json-text": lambda draw, d: _tool_round(draw, d, as_text=True),
    "parallel-calls": lambda draw, d: _tool_round(draw, d, as_text=None, calls=draw(st.integers(2, 3))),
    "tool-result-text": lambda draw, d: _tool_round(draw, d, result=contents()),
    "tool-result-object": lambda draw, d: _tool_round(draw, d, result=_results().filter(lambda r: not isinstance(r, str))),
    "tool-result-json-text": lambda draw, d: _tool_round(draw, d, result=_json_text()),
    "content-parts": lambda draw, d: d["messages"].append({"role": "user", "content": [
        {"type": "text", "text": t} for t in draw(st.lists(contents(), min_size=1, max_size=3))]}),
    "images": lambda draw, d: d["messages"].append({"role": "user", "content": draw(
        _parts().filter(lambda p: any(x["type"] == "image" for x in p)))}),
    "continue-final-message": lambda draw, d: d["messages"].extend(
        [_user(draw), {"role": "assistant", "content": _said(draw)}]) or "continue",
    "prefill": lambda draw, d: d["messages"].extend(
        [_user(draw), {"role": "assistant", "content": _text(draw)}]) or "prefill",
}


@st.composite
def _area(draw: st.DrawFn, name: str, version: str) -> Conversation:
    data: dict[str, Any] = {"messages": []}
    if name == "builtin-tool-call":
        builtins = sorted(draw(st.sets(st.sampled_from(BUILTIN_TOOLS), min_size=1)))
        data.update(builtin_tools=builtins, messages=[_user(draw), {"role": "assistant", "tool_calls": [
            _builtin_call(draw, draw(st.sampled_from(builtins)))]}])
        force = None
    else:
        force = _BUILD[name](draw, data)
    finish(draw, data, False, force=force)
    return Conversation.from_data(data, name=name)


def area_conversations(name: str, version: str, *, max_tool_calls: int = 1) -> st.SearchStrategy[Conversation]:
    """Conversations that exercise feature area ``name`` under Llama ``version``."""
    if name == "combined":
        return conversations(version=version, max_tool_calls=max_tool_calls)
    return _area(name, version)


_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
_ASK = {"role": "user", "content": "What is the weather in Paris?"}
#: one plain conversation per area that can be ignored, to test with and without its feature
SAMPLES: dict[str, dict[str, Any]] = {
    "system-message": {"messages": [{"role": "system", "content": "Answer in French."}, _ASK]},
    "tools-in-system": {"messages": [_ASK], "tools": [_WEATHER], "tools_in_user_message": False},
    "tools-in-user": {"messages": [_ASK], "tools": [_WEATHER], "tools_in_user_message": True},
    "builtin-tool-call": {"messages": [_ASK], "builtin_tools": ["brave_search"]},
    "images": {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]}]},
}


def ignored_pair(name: str) -> tuple[Conversation, Conversation] | None:
    """A sample conversation of area ``name`` with and without its feature, or None for areas that cannot
    be ignored. A template that renders both the same ignores the feature."""
    if name not in SAMPLES:
        return None
    sample = Conversation.from_data(SAMPLES[name], name=name)
    plain = without_feature(name, sample)
    return None if plain is None else (sample, plain)


def without_feature(name: str, conversation: Conversation) -> Conversation | None:
    """The conversation without the area's feature (None where that means nothing)."""
    data = conversation.to_data()
    if name in ("tools-in-system", "tools-in-user"):
        data.pop("tools", None)
        data.pop("tools_in_user_message", None)
    elif name == "builtin-tool-call":
        data.pop("builtin_tools", None)
    elif name == "system-message":
        data["messages"] = [m for m in data["messages"] if m.get("role") != "system"]
    elif name == "images":
        data["messages"] = [{**m, "content": [p for p in m["content"] if p.get("type") != "image"]}
                            if isinstance(m.get("content"), list) else m for m in data["messages"]]
    else:
        return None
    return Conversation.from_data(data, name=conversation.name)


def areas_of(conversation: Conversation) -> list[str]:
    """The feature areas a given conversation exercises (for ``--conversation`` files)."""
    messages = conversation.messages
    calls = [c for m in messages for c in (m.get("tool_calls") or [])]
    results = [m.get("content") for m in messages if m.get("role") in ("tool", "ipython")]
    v = conversation.variables
    tools_user = v.get("tools_in_user_message", True)
    found = {
        "system-message": any(m.get("role") == "system" for m in messages),
        "multi-turn": sum(m.get("role") == "user" for m in messages) > 1,
        "tools-in-system": bool(conversation.tools) and not tools_user,
        "tools-in-user": bool(conversation.tools) and bool(tools_user),
        "custom-tool-call": any(c.get("function", {}).get("name") not in (v.get("builtin_tools") or []) for c in calls),
        "arguments-json-text": any(isinstance(c.get("function", {}).get("arguments"), str) for c in calls),
        "builtin-tool-call": any(c.get("function", {}).get("name") in (v.get("builtin_tools") or []) for c in calls),
        "parallel-calls": any(len(m.get("tool_calls") or []) > 1 for m in messages),
        "tool-result-text": any(isinstance(r, str) and not _is_json(r) for r in results),
        "tool-result-object": any(isinstance(r, (dict, list)) for r in results),
        "tool-result-json-text": any(isinstance(r, str) and _is_json(r) for r in results),
        "content-parts": any(isinstance(m.get("content"), list) for m in messages),
        "images": any(isinstance(m.get("content"), list) and any(isinstance(p, dict) and p.get("type") == "image"
                                                                 for p in m["content"]) for m in messages),
        "continue-final-message": bool(conversation.continue_final_message),
        "prefill": (bool(messages) and messages[-1].get("role") == "assistant" and not conversation.add_generation_prompt
                    and not conversation.continue_final_message),
    }
    named = [name for name, hit in found.items() if hit]
    return named or ["plain-chat"]


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False
