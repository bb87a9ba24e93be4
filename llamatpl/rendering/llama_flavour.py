"""The ``llama.cpp`` flavour of the Jinja environment: jinja2 set up to behave like llama.cpp's own
C++ Jinja engine (``common/jinja/`` at release b10573) where jinja2 can.

What changes against the transformers environment (same sandbox, same limits):

* ``safe`` returns a plain string, never ``Markup`` (``common/jinja/value.cpp``: the string
  builtin ``safe`` is ``tostring``), so no HTML escaping follows from it;
* ``format`` does what llama.cpp's string builtin ``format`` does: each ``{}`` takes the next
  positional argument, every other character is literal, so ``"%s"|format(x)`` stays ``%s``;
  any other ``{...}`` field is an error ("format() only supports simple '{}' placeholders");
* a list or object turned into text (printed, ``trim``, ``string``, ``format`` arguments) is
  written as llama.cpp writes it (``value.h`` ``as_string``, ``value.cpp:value_to_string_repr``):
  strings inside in single quotes without escapes, or as JSON when they hold a quote;
* ``selectattr``/``rejectattr`` and ``select``/``reject`` (all one function in ``value.cpp:selectattr``):
  one argument is an attribute (a key, never a dotted path) whose truth selects; two are a test
  and its argument applied to the item itself; three are attribute, test and argument; items
  must be objects where an attribute is read; an unknown test raises;
* ``tojson(sort_keys=true)`` raises ("tojson sort_keys=true not implemented");
* ``ns.items`` (and ``keys``, ``values``, ``get``, ``length``) on a ``namespace()`` is the object's
  builtin function, never the namespace attribute of that name (``runtime.cpp``: a static member
  is looked up as a builtin first).

Differences jinja2 cannot mimic are reported, not rendered: see
:func:`llamatpl.engines.llamacpp_portability.portability_warnings`.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

from . import limits
from .environment import FLAVOURS, LlamaSandbox, _build_environment

FLAVOUR = "llama.cpp"


def as_llama_string(value: Any) -> str:
    """A value as llama.cpp's ``as_string`` writes it (``value.h``): a string as it is, a list or
    object with each member in :func:`llama_repr`, ``True``/``False``/``None`` as Python does."""
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    if isinstance(value, jinja2.Undefined):
        return ""
    if isinstance(value, (list, tuple, dict)):
        limits.check_written_size(value, "a printed value")
        return llama_repr(value)
    return str(value)


def llama_repr(value: Any) -> str:
    """``value.cpp:value_to_string_repr``: a string in single quotes, unescaped, or as JSON when it
    holds a single quote (Python's ``repr`` escapes newlines and picks quotes differently)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if "'" in value else f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(llama_repr(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(llama_repr(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{llama_repr(k)}: {llama_repr(v)}" for k, v in value.items()) + "}"
    return as_llama_string(value)


def llama_finalize(value: Any) -> Any:
    """``{{ value }}`` of a list or object prints llama.cpp's text for it, not Python's repr."""
    return as_llama_string(value) if isinstance(value, (list, tuple, dict)) else value


def llama_format(value: Any, *args: Any, **kwargs: Any) -> str:
    """llama.cpp's ``format`` filter (``common/jinja/value.cpp``, string builtin ``format``)."""
    if not isinstance(value, str):
        raise jinja2.exceptions.TemplateRuntimeError("format() first argument must be a string")
    limits.check_call_arguments(args, kwargs)
    out: list[str] = []
    next_arg = 0
    i = 0
    while i < len(value):
        char = value[i]
        if char != "{":
            out.append(char)
            i += 1
            continue
        if i + 1 >= len(value) or value[i + 1] != "}":
            raise jinja2.exceptions.TemplateRuntimeError("format() only supports simple '{}' placeholders")
        if next_arg >= len(args):
            raise jinja2.exceptions.TemplateRuntimeError("format(): not enough arguments for '{}'")
        out.append(as_llama_string(args[next_arg]))
        next_arg += 1
        i += 2
    text = "".join(out)
    limits.check_size(len(text), "a formatted string")
    return text


def llama_safe(value: Any) -> str:
    """llama.cpp's ``safe``: the value as a plain string (no ``Markup``, so nothing is escaped later)."""
    return as_llama_string(value)


_OBJECT_BUILTINS = frozenset({"items", "keys", "values", "get", "length"})


class LlamaCppSandbox(LlamaSandbox):
    """The sandbox, reading a namespace's builtin names as llama.cpp does."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, jinja2.utils.Namespace) and attribute in _OBJECT_BUILTINS:
            return _NamespaceBuiltin(attribute)
        return super().getattr(obj, attribute)


class _NamespaceBuiltin:
    """A builtin function value: callable, and an error in arithmetic or concatenation."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise jinja2.exceptions.TemplateRuntimeError(f"namespace builtin '{self.name}' is not modelled")

    def __str__(self) -> str:
        return f"FunctionValue<{self.name}>"


def _selectattr(reject: bool) -> Any:
    @jinja2.pass_environment
    def select(env: jinja2.Environment, value: Any, *args: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise jinja2.exceptions.TemplateRuntimeError("selectattr: expected an array")
        if not 1 <= len(args) <= 3 or not all(isinstance(a, str) for a in args[:2]):
            raise jinja2.exceptions.TemplateRuntimeError("selectattr: invalid number of arguments")
        out = []
        for item in value:
            if len(args) != 2 and not isinstance(item, dict):
                raise jinja2.exceptions.TemplateRuntimeError("selectattr: item is not an object")
            if len(args) == 1:
                chosen = bool(item.get(args[0]))
            else:
                test_name, subject = (args[0], item) if len(args) == 2 else (args[1], item.get(args[0], env.undefined()))
                if test_name not in env.tests:
                    raise jinja2.exceptions.TemplateRuntimeError(f"selectattr: unknown test '{test_name}'")
                chosen = _run_test(env.tests[test_name], subject, args[-1])
            if chosen != reject:
                out.append(item)
        return out

    return select


def _run_test(test: Any, subject: Any, argument: Any) -> bool:
    """A test with its extra argument; llama.cpp's one-argument tests ignore it."""
    try:
        return bool(test(subject, argument))
    except TypeError:
        return bool(test(subject))


def build_llama_environment(kind: type[LlamaSandbox] = LlamaCppSandbox) -> LlamaSandbox:
    """The transformers environment with llama.cpp's ``safe``, ``format``, ``selectattr`` family
    and namespace builtins."""
    env = _build_environment(kind)
    plain_tojson = env.filters["tojson"]

    def tojson(value: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("sort_keys") or (len(args) > 3 and args[3]):
            raise jinja2.exceptions.TemplateRuntimeError("tojson sort_keys=true not implemented")
        return plain_tojson(value, *args, **kwargs)

    env.filters["tojson"] = tojson
    env.filters["safe"] = llama_safe
    # filter_expression::execute_impl coerces a non-string to its text before strip/upper/...
    env.filters["trim"] = lambda value, chars=None: as_llama_string(value).strip(chars)
    env.filters["string"] = as_llama_string
    env.finalize = llama_finalize
    env.filters["format"] = llama_format
    env.filters["selectattr"] = env.filters["select"] = _selectattr(reject=False)
    env.filters["rejectattr"] = env.filters["reject"] = _selectattr(reject=True)
    return env


FLAVOURS[FLAVOUR] = build_llama_environment()
