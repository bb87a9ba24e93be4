"""Hypothesis strategies for model outputs with tool calls, in every form the readers meet."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

TAG = "<|python_tag|>"
SAFE_TEXT = "abcxyz ABC019-_.,!?"

names = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True)
strings = st.text(alphabet=SAFE_TEXT, max_size=8)
primitives = st.one_of(st.none(), st.booleans(), st.integers(-10_000, 10_000),
                       st.floats(-1e6, 1e6, allow_nan=False, width=32), strings)
flat_values = st.one_of(primitives, st.lists(primitives, max_size=3))
one_level = st.one_of(flat_values, st.dictionaries(names, primitives, max_size=3))
any_values = st.recursive(primitives, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(names, inner, max_size=3)), max_leaves=8)


def python_literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(v) for v in value) + "]"
    return repr(value)


def json_call(name: str, arguments: dict, key: str = "parameters") -> str:
    return json.dumps({"name": name, key: arguments})


def pythonic_call(name: str, arguments: dict) -> str:
    return f"{name}({', '.join(f'{k}={python_literal(v)}' for k, v in arguments.items())})"


@st.composite
def meta_outputs(draw: Any) -> str:
    """Outputs inside the domain where llamatpl's strict reading must equal Meta's decoder: one
    call, arguments at most one level deep, ``<function=>`` arguments on one line without ``'``
    or ``}`` in them."""
    name = draw(names)
    form = draw(st.sampled_from(["json", "json-typed", "function", "pythonic", "builtin", "code", "text"]))
    if form == "json":
        body = json_call(name, draw(st.dictionaries(names, one_level, max_size=3)))
    elif form == "json-typed":
        body = json.dumps({"type": "function", "name": name, "parameters": draw(st.dictionaries(names, one_level, max_size=3))})
    elif form == "function":
        body = f"<function={name}>{json.dumps(draw(st.dictionaries(names, flat_values, max_size=3)))}</function>"
    elif form == "pythonic":
        body = f"[{pythonic_call(name, draw(st.dictionaries(names, one_level, max_size=3)))}]"
    elif form == "builtin":
        body = TAG + f'{draw(st.sampled_from(["brave_search", "wolfram_alpha", "photogen"]))}.call(query="{draw(strings)}")'
    elif form == "code":
        body = TAG + draw(st.sampled_from(["print(1)", "x = 2\nprint(x)", "import math"]))
    else:
        body = draw(st.text(alphabet=SAFE_TEXT + '{}[]":\n', max_size=30))
    if form in ("json", "json-typed") and draw(st.booleans()):
        body = TAG + body
    return body + draw(st.sampled_from(["", "<|eot_id|>", "<|eom_id|>"]))


@st.composite
def noisy_outputs(draw: Any) -> str:
    """Anything a model might emit around calls: prose, several calls in either family, separators,
    wrong keys, deep values, JSON literals in pythonic calls, truncation."""
    calls = []
    for _ in range(draw(st.integers(1, 3))):
        name, arguments = draw(names), draw(st.dictionaries(names, any_values, max_size=3))
        style = draw(st.sampled_from(["json", "arguments", "pythonic", "pythonic-json", "nameless"]))
        if style == "json":
            calls.append(json_call(name, arguments))
        elif style == "arguments":
            calls.append(json_call(name, arguments, "arguments"))
        elif style == "nameless":
            calls.append(json.dumps({"parameters": arguments}))
        else:
            text = pythonic_call(name, arguments)
            calls.append(text.replace("None", "null").replace("True", "true") if style == "pythonic-json" else text)
    separator = draw(st.sampled_from(["; ", "\n", ", ", "", " "]))
    body = separator.join(calls)
    if draw(st.booleans()):
        body = f"[{body}]"
    prefix = draw(st.sampled_from(["", "", TAG, "<|python_start|>", "Sure: ", " ", "{x} "]))
    suffix = draw(st.sampled_from(["", "", "<|eom_id|>", "<|python_end|>", " done", " {", "]"]))
    text = prefix + body + suffix
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text
