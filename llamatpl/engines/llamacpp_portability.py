"""Where llama.cpp's Jinja engine (b10573, ``common/jinja/``) reads a template differently from jinja2,
found on the template's AST: ``portability_warnings(text) -> [(line, construct, message)]``.

Each construct is one whose result the two engines disagree on and that the ``llama.cpp`` flavour
of the environment cannot (or does not) turn into llama.cpp's result in every case:

* the ``format`` filter (``value.cpp``, string builtin ``format``): only ``{}`` placeholders, so
  ``"%s"|format(x)`` stays ``%s`` on llama.cpp while every Python engine substitutes it;
* ``x.items`` (``keys``, ``values``) read without a call: llama.cpp's member access
  (``runtime.cpp:member_expression::execute_impl``) looks a builtin up first, so a namespace
  attribute named ``items`` is never read (``ns.items + [...]`` raises), while jinja2 gives the
  attribute, or a bound method printed with its memory address;
* ``selectattr`` / ``rejectattr`` with a dotted attribute or a test argument (``value.cpp:selectattr``):
  llama.cpp looks a dotted name up as one key, and reads two arguments as (test, value) on the
  item itself rather than (attribute, test);
* a ``for`` over a value the template also tests with ``is string``: llama.cpp cannot iterate a
  string ("Expected iterable or object type in for loop").
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jinja2
from jinja2 import nodes

from ..rendering.environment import environment_for

_DICT_METHODS = frozenset({"items", "keys", "values"})


class PortabilityWarning(NamedTuple):
    line: int
    construct: str
    message: str


def portability_warnings(template_text: str) -> list[PortabilityWarning]:
    """The constructs of ``template_text`` that llama.cpp renders differently, in line order; a
    template that does not parse has none (the syntax error is reported elsewhere)."""
    return list(_cached(template_text))


@functools.lru_cache(maxsize=64)
def _cached(template_text: str) -> tuple[PortabilityWarning, ...]:
    try:
        tree = environment_for("transformers").parse(template_text)
    except jinja2.TemplateSyntaxError:
        return ()
    found: list[PortabilityWarning] = []
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    for flt in tree.find_all(nodes.Filter):
        found += _filter_warnings(flt)
    for attr in tree.find_all(nodes.Getattr):
        if attr.attr in _DICT_METHODS and id(attr) not in called:
            found.append(PortabilityWarning(
                attr.lineno, f".{attr.attr}",
                f"reads '{attr.attr}' as an attribute without calling it: on llama.cpp that is always the "
                "object's builtin function, never a namespace attribute or key of that name; jinja2 gives "
                "the attribute (or a bound method)"))
    found += _string_loops(tree)
    return tuple(sorted(set(found)))


def _filter_warnings(flt: nodes.Filter) -> list[PortabilityWarning]:
    if flt.name == "format":
        fmt = flt.node.value if isinstance(flt.node, nodes.Const) and isinstance(flt.node.value, str) else None
        if fmt is None or "%" in fmt or ("{" in fmt and "{}" not in fmt):
            return [PortabilityWarning(
                flt.lineno, "format filter",
                "llama.cpp's format only fills '{}' placeholders: '%s'-style fields stay literal there "
                "(rendered here as llama.cpp does; Python engines substitute them)")]
        return []
    if flt.name in ("selectattr", "rejectattr"):
        first = flt.args[0].value if flt.args and isinstance(flt.args[0], nodes.Const) else None
        if isinstance(first, str) and "." in first:
            return [PortabilityWarning(
                flt.lineno, f"{flt.name} with a dotted attribute",
                f"llama.cpp looks '{first}' up as one key, not a path, so no item matches")]
        if len(flt.args) == 2:
            return [PortabilityWarning(
                flt.lineno, f"{flt.name}(attribute, test)",
                "llama.cpp reads two arguments as (test, value) applied to the item itself, "
                "not as (attribute, test)")]
    return []


def _string_loops(tree: nodes.Template) -> list[PortabilityWarning]:
    """``for`` over an expression the template elsewhere tests with ``is string``, outside that test."""
    tested = {repr(t.node) for t in tree.find_all(nodes.Test) if t.name == "string"}
    guarded = {id(loop) for branch in tree.find_all(nodes.If)
               if any(t.name == "string" for t in branch.test.find_all(nodes.Test))
               or (isinstance(branch.test, nodes.Test) and branch.test.name == "string")
               for loop in branch.find_all(nodes.For)}
    guarded |= {id(inner) for outer in tree.find_all(nodes.For) if outer.test is not None
                and any(t.name == "string" for t in outer.test.find_all(nodes.Test))
                for inner in outer.find_all(nodes.For)}
    out = []
    for loop in tree.find_all(nodes.For):
        target = loop.iter.node if isinstance(loop.iter, nodes.Filter) else loop.iter
        if repr(target) in tested and id(loop) not in guarded:
            out.append(PortabilityWarning(
                loop.lineno, "for over a string",
                "this value may be a string: jinja2 loops over its characters, llama.cpp raises "
                "'Expected iterable or object type in for loop'"))
    return out
