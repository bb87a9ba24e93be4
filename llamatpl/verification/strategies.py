"""Hypothesis strategies for Llama 3.x conversations (private; the public names are in ``strategies``)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from ..rendering.conversation import Conversation
from ..versions import normalize_version

BUILTIN_TOOLS = ("brave_search", "wolfram_alpha", "code_interpreter")

# Pieces that break careless templates: whitespace at the edges, special-token text, Jinja and JSON
# look-alikes, quotes, non-ASCII. They shrink towards the plain words at the front of each list.
_TRICKY = [
    "", " ", "\n", "\n\n", "\t", "  ", " \n ",
    "<|eot_id|>", "<|start_header_id|>", "<|eom_id|>", "<|python_tag|>", "<|begin_of_text|>", "<|image|>",
    "{{ x }}", "{% if %}", "{#", "{\"a\": 1}", "[1, 2]", "\"", "'", "\\", "None", "é", "日本", "🌸", "\u00a0",
]
_WORDS = ["hi", "Hello", "the", "weather", "Paris", "42", "ok", "What", "is", "?", ".", ","]
_NAMES = st.sampled_from(["get_weather", "search", "lookup_order", "send_email", "convert"])
_KEYS = st.sampled_from(["city", "query", "id", "unit", "n"])


def contents(*, tricky: bool = True, max_pieces: int = 8) -> st.SearchStrategy[str]:
    """Message text built from words and (with ``tricky``) troublesome pieces: edge whitespace,
    special-token text, Jinja/JSON look-alikes, unicode. Shrinks towards shorter, plainer text."""
    return _contents(tricky, max_pieces)


@lru_cache(maxsize=None)  # building a strategy costs far more than drawing from it
def _contents(tricky: bool, max_pieces: int) -> st.SearchStrategy[str]:
    pieces = st.sampled_from(_WORDS + _TRICKY) if tricky else st.sampled_from(_WORDS)
    joined = st.lists(pieces, max_size=max_pieces).map(" ".join)
    raw = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
    return st.one_of(joined, raw) if tricky else joined


@lru_cache(maxsize=None)
def _json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(-1000, 1000), st.booleans(), contents(tricky=False, max_pieces=3))


def tools(*, names: st.SearchStrategy[str] = _NAMES) -> st.SearchStrategy[dict[str, Any]]:
    """An OpenAI-style function tool definition with a small JSON-schema parameters object."""
    props = st.dictionaries(_KEYS, st.sampled_from([{"type": "string"}, {"type": "integer"}]), max_size=3)
    return st.builds(
        lambda name, p, desc: {"type": "function", "function": {
            "name": name, "description": desc,
            "parameters": {"type": "object", "properties": p, "required": sorted(p)[:1]}}},
        names, props, contents(tricky=False, max_pieces=4),
    )


def tool_calls(*, names: st.SearchStrategy[str] = _NAMES, string_arguments: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """An OpenAI-style tool call; ``arguments`` is an object or (``string_arguments``) its JSON text."""
    as_text = st.booleans() if string_arguments else st.just(False)
    return st.builds(_call, names, _arguments(), as_text)


@lru_cache(maxsize=None)
def _arguments() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_KEYS, _json_scalars(), max_size=3)


def _call(name: str, arguments: dict[str, Any], as_text: bool) -> dict[str, Any]:
    return {"id": "call_1", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments) if as_text else arguments}}


def _draw_call(draw: st.DrawFn, name: str) -> dict[str, Any]:
    return _call(name, draw(_arguments()), draw(st.booleans()))


def _builtin_call(draw: st.DrawFn, name: str) -> dict[str, Any]:
    key = "code" if name == "code_interpreter" else "query"
    return _call(name, {key: draw(contents(tricky=False, max_pieces=4))}, False)


def messages(*, version: str = "3.1", roles: tuple[str, ...] = ("user", "assistant")) -> st.SearchStrategy[dict[str, Any]]:
    """A single plain text message of one of ``roles``."""
    normalize_version(version)
    return st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(roles), contents())


@lru_cache(maxsize=None)
def _tool_lists() -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(tools(), min_size=1, max_size=2)


@st.composite
def _conversation(draw: st.DrawFn, version: str, max_turns: int, with_tools: bool, with_builtins: bool,
                  images: bool, max_calls: int, continue_final: bool = True) -> Conversation:
    msgs: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    if draw(st.booleans()):
        msgs.append({"role": "system", "content": draw(contents())})
    tool_defs = draw(_tool_lists()) if with_tools and draw(st.booleans()) else None
    builtins = sorted(draw(st.sets(st.sampled_from(BUILTIN_TOOLS), min_size=1))) if with_builtins and draw(st.booleans()) else None
    if tool_defs is not None:
        data["tools"] = tool_defs
        if draw(st.booleans()):
            data["tools_in_user_message"] = draw(st.booleans())
    if builtins is not None:
        data["builtin_tools"] = builtins
    if version != "3.0" and draw(st.booleans()):
        data["date_string"] = draw(st.sampled_from(["26 Jul 2024", "21 Sep 2024", "1 Jan 2025"]))
    images = images and tool_defs is None  # the vision models call tools on text-only prompts
    for _ in range(draw(st.integers(1, max_turns))):
        msgs.append(_user_message(draw, images))
        callable_names = [t["function"]["name"] for t in tool_defs or []] + list(builtins or [])
        if bool(callable_names) and draw(st.booleans()):
            name = draw(st.sampled_from(callable_names))
            if name in BUILTIN_TOOLS:
                calls = [_builtin_call(draw, name)]
            else:
                custom = [n for n in callable_names if n not in BUILTIN_TOOLS]
                extra = draw(st.integers(0, max_calls - 1))
                calls = [_draw_call(draw, n) for n in [name, *(draw(st.sampled_from(custom)) for _ in range(extra))]]
            msgs.append({"role": "assistant", "tool_calls": calls})
            result = draw(_results())
            msgs.append({"role": draw(st.sampled_from(["tool", "ipython"])), "content": result})
        if draw(st.booleans()):
            msgs.append({"role": "assistant", "content": draw(contents())})
    data["messages"] = msgs
    finish(draw, data, continue_final)
    return Conversation.from_data(data, name="generated")


def finish(draw: st.DrawFn, data: dict[str, Any], continue_final: bool = True, *,
           force: str | None = None) -> None:
    """How the conversation ends: a generation prompt, a closed assistant turn (a prefill), or
    ``continue_final_message`` (the last assistant text left open). ``force`` picks one of the last two."""
    last = data["messages"][-1]
    # only text to continue: a blank prefill under a trimming template loses the header's "\n\n" in
    # transformers' own cut (renderer._cut_at_marker), which is about transformers, not the template
    open_text = (last["role"] == "assistant" and isinstance(last.get("content"), str)
                 and bool(last["content"].strip()) and not last.get("tool_calls"))
    if force == "continue" or (force is None and continue_final and open_text and draw(st.booleans())):
        data["add_generation_prompt"] = False
        data["continue_final_message"] = True
    elif force == "prefill":
        data["add_generation_prompt"] = False
    else:
        data["add_generation_prompt"] = last["role"] != "assistant" or draw(st.booleans())


@lru_cache(maxsize=None)
def _results() -> st.SearchStrategy[Any]:
    return st.one_of(contents(), st.dictionaries(_KEYS, _json_scalars(), max_size=2))


@lru_cache(maxsize=None)
def _parts() -> st.SearchStrategy[list[dict[str, Any]]]:
    text = contents().map(lambda t: {"type": "text", "text": t})
    return st.lists(st.one_of(st.just({"type": "image"}), text), min_size=1, max_size=3)


def _user_message(draw: st.DrawFn, images: bool) -> dict[str, Any]:
    if images and draw(st.booleans()):
        return {"role": "user", "content": draw(_parts())}
    return {"role": "user", "content": draw(contents())}


def conversations(*, version: str = "3.1", max_turns: int = 3, tools: bool | None = None,
                  builtin_tools: bool | None = None, images: bool | None = None,
                  max_tool_calls: int = 1, continue_final_message: bool = True) -> st.SearchStrategy[Conversation]:
    """Conversations within what Llama ``version`` supports.

    3.0: optional system message, then user/assistant text turns. 3.1: plus tool definitions (in
    the first user message or the system message), one tool call per assistant turn (arguments as
    an object or JSON text), tool results as text or an object under ``tool`` or ``ipython``,
    built-in tools and ``date_string``. 3.2: tools but no built-ins. 3.2-vision: plus image parts
    (in conversations without tools, as Meta's vision models take tools on text-only prompts).
    ``max_tool_calls`` above 1 adds parallel calls (the official templates accept one). A conversation
    ending in assistant text is sometimes left open (``continue_final_message``) unless
    ``continue_final_message=False``. Each option left as ``None`` follows the version. Examples shrink towards fewer turns, no tools, one call
    and short plain content.
    """
    v = normalize_version(version)
    return _conversation(
        v, max_turns,
        with_tools=v != "3.0" if tools is None else tools,
        with_builtins=v == "3.1" if builtin_tools is None else builtin_tools,
        images=v == "3.2-vision" if images is None else images,
        max_calls=max(1, max_tool_calls), continue_final=continue_final_message,
    )
