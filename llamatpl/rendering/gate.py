"""Which templates may ever render on minijinja: a static check of the template's syntax tree.

minijinja bounds time with fuel and charges fuel for the strings it builds, but not for lists (a
list grown in a loop is copied each turn, unmetered), and some of its built-ins allocate before any
check (``'{:>999999999}'.format(1)`` aborts the process). The Python binding also calls real Python
methods on the dicts and lists it is given, so ``messages.append(...)`` would mutate the caller's
data where the jinja2 sandbox refuses. So a template is eligible for the fast path only when it
stays inside a subset where none of that can happen:

* no ``*``, ``**``, ``%`` or ``//`` (repetition, huge numbers, printf widths);
* no ``range`` (loops run over the input only, so their length is the input's);
* method calls only from :data:`SAFE_METHODS` (read-only, result no larger than the receiver),
  filters only from :data:`SAFE_FILTERS`, no attribute or key starting with ``_``;
* ``a + b`` only when one side is a literal or reads nothing the template assigned itself (so no
  value is ever doubled: growth is at most linear in the input);
* no container literal holding the value being assigned (``{% set ns.s = [ns.s, ns.s] %}``), nor a
  macro calling itself with a container of its parameters (doubling by nesting, which minijinja
  neither meters nor stops from being written out).

Anything outside the subset renders on jinja2, with its guards. See docs/limits.md.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes

from .environment import parse_template

# Read-only methods whose result is no larger than the receiver. String methods such as strip or
# split are left out: minijinja reimplements them with Rust's idea of whitespace, not Python's.
SAFE_METHODS = frozenset({"get", "keys", "values", "items", "startswith", "endswith"})
SAFE_FILTERS = frozenset({
    "trim", "tojson", "length", "count", "list", "items", "join", "reject", "rejectattr", "select",
    "selectattr", "map", "string", "lower", "upper", "default", "d", "first", "last", "capitalize",
    "title", "int", "float", "abs", "round", "unique", "sort", "dictsort", "reverse", "min", "max",
    "sum", "attr", "safe", "escape", "e",
})  # not "bool": jinja2 has no such filter (the template fails there), minijinja has one
_LITERALS = (nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.TemplateData)
_UNSAFE_BINOPS = (nodes.Pow, nodes.Mul, nodes.Mod, nodes.FloorDiv)


@dataclass(frozen=True)
class Eligibility:
    """``refusal``: why the template may not render on minijinja (``None``: it may).
    ``grows_lists``: it adds to values it built (linear growth per loop turn, which minijinja copies
    unmetered), so the fast path also needs the input's lists to be short (:func:`small_input`)."""

    refusal: str | None
    grows_lists: bool = False


MAX_LIST = 256  # input lists longer than this render on jinja2 when the template grows lists


@functools.lru_cache(maxsize=256)
def eligibility(text: str) -> Eligibility:
    """Whether ``text`` may render on minijinja (see the module docstring)."""
    try:
        tree = parse_template(text)
    except jinja2.TemplateSyntaxError:
        return Eligibility("jinja2 cannot parse it")
    nesting = _self_nesting(tree)
    if nesting is not None:
        return Eligibility(f"line {nesting.lineno}: a list or dict that holds the value being assigned "
                           "(growth by nesting)")
    built = _built_names(tree)
    strings = _string_names(tree)
    grows = False
    for node in tree.find_all(nodes.Node):
        reason = _refuse(node, built)
        if reason:
            return Eligibility(f"line {node.lineno}: {reason}")
        grows = grows or (isinstance(node, nodes.Add) and (_built(node.left, built) or _built(node.right, built))
                          and not _stringy(node, strings))
    return Eligibility(None, grows)


def small_input(variables: Mapping[str, Any]) -> bool:
    """Every list among the variables, and inside each message, has at most :data:`MAX_LIST` items."""
    for value in variables.values():
        if type(value) is list:
            if len(value) > MAX_LIST:
                return False
            for item in value:
                if type(item) is dict:
                    for inner in item.values():
                        if type(inner) is list and len(inner) > MAX_LIST:
                            return False
    return True


def _built_names(tree: nodes.Template) -> frozenset[str]:
    """Names (and namespace attributes) that may hold a value the template grew with ``+``: assigned
    from an expression with ``+`` or naming such a value, looped over one, or passed one as a macro
    argument (then every parameter of that macro counts). Computed to a fixed point."""
    macros = {m.name: [a.name for a in m.args] for m in tree.find_all(nodes.Macro)}
    built: set[str] = set()
    while True:
        before = len(built)
        for node in tree.find_all((nodes.Assign, nodes.For, nodes.Call)):
            if isinstance(node, nodes.Assign) and (_has_add(node.node) or _built(node.node, built)):
                built.update(_targets(node.target))
            elif isinstance(node, nodes.For) and _built(node.iter, built):
                built.update(_targets(node.target))
            elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in macros:
                if any(_has_add(arg) or _built(arg, built) for arg in [*node.args, *(k.value for k in node.kwargs)]):
                    built.update(macros[node.node.name])
        for block in tree.find_all(nodes.AssignBlock):
            built.update(_targets(block.target))
        if len(built) == before:
            return frozenset(built)


_STRING_FILTERS = frozenset({"trim", "tojson", "string", "lower", "upper", "title", "capitalize", "join"})


def _stringy(expr: nodes.Node, strings: Collection[str]) -> bool:
    """Whether ``expr`` is surely a string (then ``+`` on it is string concatenation, which minijinja
    meters): a string literal, ``~``, a string filter, a name only ever given strings, or ``+`` with
    a string on one side (``+`` of a string and anything else fails)."""
    if isinstance(expr, nodes.Const):
        return isinstance(expr.value, str)
    if isinstance(expr, (nodes.Concat, nodes.TemplateData)):
        return True
    if isinstance(expr, nodes.Filter):
        return expr.name in _STRING_FILTERS
    if isinstance(expr, nodes.Name):
        return expr.name in strings
    if isinstance(expr, nodes.Add):
        return _stringy(expr.left, strings) or _stringy(expr.right, strings)
    if isinstance(expr, nodes.CondExpr):
        return _stringy(expr.expr1, strings) and expr.expr2 is not None and _stringy(expr.expr2, strings)
    return False


_CONTAINER_CALLS = frozenset({"dict", "namespace"})


def _references(expr: nodes.Node) -> set[str]:
    """The names and namespace attributes (``ns.attr``, not ``ns`` itself) ``expr`` reads."""
    refs: set[str] = set()
    owners: set[int] = set()
    for node in (expr, *expr.find_all(nodes.Getattr)):
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            refs.add(f"{node.node.name}.{node.attr}")
            owners.add(id(node.node))
    refs.update(n.name for n in (expr, *expr.find_all(nodes.Name))
                if isinstance(n, nodes.Name) and id(n) not in owners)
    return refs


def _container_references(expr: nodes.Node) -> set[str]:
    """What the list, tuple and dict literals (and ``dict()``/``namespace()`` calls) in ``expr`` read."""
    refs: set[str] = set()
    for node in (expr, *expr.find_all((nodes.List, nodes.Tuple, nodes.Dict, nodes.Call))):
        if isinstance(node, nodes.Call) and not (isinstance(node.node, nodes.Name)
                                                 and node.node.name in _CONTAINER_CALLS):
            continue
        if isinstance(node, (nodes.List, nodes.Tuple, nodes.Dict, nodes.Call)):
            refs |= _references(node)
    return refs


def _self_nesting(tree: nodes.Template) -> nodes.Node | None:
    """The first ``set`` whose value is a container literal holding the value assigned (itself, or a
    name or loop variable that holds it: ``{% set ns.s = [ns.s, ns.s] %}``), or a macro that calls
    itself with such a container of its own parameters. Repeated, either doubles by reference: cheap
    to build, exponential to write out, and minijinja meters neither the building nor the writing."""
    holders: dict[str, set[str]] = {}  # name -> names assigned from (or looping over) it
    sources: list[tuple[nodes.Node, nodes.Node]] = [(a.node, a.target) for a in tree.find_all(nodes.Assign)]
    sources += [(f.iter, f.target) for f in tree.find_all(nodes.For)]
    for source, assigned in sources:
        for ref in _references(source):
            holders.setdefault(ref, set()).update(_targets(assigned))
    for node in tree.find_all(nodes.Assign):
        for target in _targets(node.target):
            reach, todo = {target}, [target]
            while todo:
                for holder in holders.get(todo.pop(), ()):
                    if holder not in reach:
                        reach.add(holder)
                        todo.append(holder)
            refs = _container_references(node.node)
            if reach & refs or target.partition(".")[0] in refs:
                return node
    for macro in tree.find_all(nodes.Macro):
        params = {a.name for a in macro.args}
        for call in macro.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == macro.name and any(
                    params & _container_references(arg) for arg in [*call.args, *(k.value for k in call.kwargs)]):
                return call
    return None


def _string_names(tree: nodes.Template) -> frozenset[str]:
    """Names every ``set`` of which gives a string (loop targets and macro parameters never count)."""
    assigned: dict[str, list[nodes.Node]] = {}
    for node in tree.find_all(nodes.Assign):
        if isinstance(node.target, nodes.Name):
            assigned.setdefault(node.target.name, []).append(node.node)
    others = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")} - assigned.keys()
    names = set(assigned) - others
    while True:  # shrink to a fixed point: a name stays only while all its values are strings
        keep = {name for name in names if all(_stringy(value, names) for value in assigned[name])}
        if keep == names:
            return frozenset(names)
        names = keep


def _has_add(expr: nodes.Node) -> bool:
    return isinstance(expr, nodes.Add) or any(True for _ in expr.find_all(nodes.Add))


def _targets(target: nodes.Node) -> set[str]:
    if isinstance(target, nodes.NSRef):
        return {f"{target.name}.{target.attr}"}
    return {n.name for n in target.find_all(nodes.Name)} | ({target.name} if isinstance(target, nodes.Name) else set())


def _refuse(node: nodes.Node, built: Collection[str]) -> str | None:
    if isinstance(node, _UNSAFE_BINOPS):
        return f"operator {node.operator}"
    if isinstance(node, nodes.Name) and node.name == "range":
        return "range()"
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"attribute {node.attr!r}"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
        return f"key {node.arg.value!r}"
    if isinstance(node, nodes.NSRef) and node.attr.startswith("_"):
        return f"attribute {node.attr!r}"
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr not in SAFE_METHODS:
        return f"method {node.node.attr}()"
    if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
        return f"filter {node.name}"
    if isinstance(node, nodes.Add) and _built(node.left, built) and _built(node.right, built):
        return "+ of two values the template grew (doubling)"
    if isinstance(node, (nodes.CallBlock, nodes.FilterBlock, nodes.Extends, nodes.Include, nodes.Import,
                         nodes.FromImport, nodes.ExprStmt)):
        return f"{type(node).__name__} statement"
    return None


def _built(expr: nodes.Node, built: Collection[str]) -> bool:
    """Whether ``expr`` may hold a value the template grew (a literal never does)."""
    if isinstance(expr, _LITERALS):
        return False
    for node in (expr, *expr.find_all((nodes.Name, nodes.Getattr))):
        if isinstance(node, nodes.Name) and node.name in built:
            return True
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and f"{node.node.name}.{node.attr}" in built:
            return True
    return False


@functools.lru_cache(maxsize=256)
def plain_trim(text: str) -> bool:
    """Whether every ``trim`` in the template takes no argument (then minijinja's own ``trim`` may
    stand in for Python's on inputs without U+001C..U+001F: :mod:`.fastscan`)."""
    try:
        tree = parse_template(text)
    except jinja2.TemplateSyntaxError:
        return False
    if any(c.value == "trim" for c in tree.find_all(nodes.Const) if isinstance(c.value, str)):
        return False  # trim named as a value (``map('trim', ...)``): its arguments cannot be read here
    return all(not (f.args or f.kwargs or f.dyn_args or f.dyn_kwargs) for f in tree.find_all(nodes.Filter)
               if f.name == "trim")
