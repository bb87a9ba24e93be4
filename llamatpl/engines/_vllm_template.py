"""What vLLM 0.33.0 reads off a chat template's text before rendering (``vllm/renderers/hf.py``).

- :func:`content_format`: ``_detect_content_format`` — "openai" when the template loops over a
  message's ``content`` (followed through assignments, namespace aliases and macro parameters),
  else "string".
- :func:`mentions_developer`: ``_detect_developer_role_support`` — the quoted word ``developer``.
- :func:`template_variables`: ``_resolve_chat_template_kwargs`` — ``jinja2.meta.find_undeclared_variables``;
  ``resolve_chat_template_kwargs`` keeps only the request kwargs named there (or among
  ``apply_chat_template``'s own parameters).

Each answer is cached per template text, as vLLM caches it.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator

import jinja2
import jinja2.meta
from jinja2 import nodes

from ..rendering.environment import ENVIRONMENT


def _parse(template_text: str) -> nodes.Template | None:
    try:
        return ENVIRONMENT.parse(template_text)
    except jinja2.TemplateError:
        return None


@functools.lru_cache(maxsize=64)
def mentions_developer(template_text: str) -> bool:
    return '"developer"' in template_text or "'developer'" in template_text


@functools.lru_cache(maxsize=64)
def template_variables(template_text: str) -> frozenset[str]:
    ast = _parse(template_text)
    return frozenset(jinja2.meta.find_undeclared_variables(ast)) if ast is not None else frozenset()


@functools.lru_cache(maxsize=64)
def content_format(template_text: str) -> str:
    ast = _parse(template_text)
    if ast is None:
        return "string"
    return "openai" if next(_content_loops(ast), None) is not None else "string"


# ---------------------------------------------------------------- the AST walk (hf.py's helpers)

def _is_var(node: nodes.Node, name: str) -> bool:
    if isinstance(node, nodes.Name):
        return node.ctx == "load" and node.name == name
    if isinstance(node, nodes.Getattr) and "." in name:  # ``ns.rest`` for the alias "ns.rest"
        base, _, attr = name.rpartition(".")
        return node.attr == attr and _is_var(node.node, base)
    return False


def _is_attr(node: nodes.Node, name: str, key: str) -> bool:
    if isinstance(node, nodes.Getitem):
        return _is_var(node.node, name) and isinstance(node.arg, nodes.Const) and node.arg.value == key
    if isinstance(node, nodes.Getattr):
        return _is_var(node.node, name) and node.attr == key
    return False


def _reads(node: nodes.Node, name: str, key: str | None = None) -> bool:
    """``name`` (or ``name[key]``), possibly filtered, tested or sliced."""
    if isinstance(node, nodes.Filter):
        return node.node is not None and _reads(node.node, name, key)
    if isinstance(node, nodes.Test):
        return _reads(node.node, name, key)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
        return _reads(node.node, name, key)
    return _is_attr(node, name, key) if key else _is_var(node, name)


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.NSRef):
        return f"{node.name}.{node.attr}"
    parts = []
    while isinstance(node, nodes.Getattr):
        parts.append(node.attr)
        node = node.node
    if isinstance(node, nodes.Name):
        parts.append(node.name)
        return ".".join(reversed(parts))
    return None


def _aliases_of(root: nodes.Template, name: str) -> Iterator[str]:
    """``name`` and every variable assigned from it, breadth first."""
    yield name
    seen = {name}
    queue = deque([name])
    while queue:
        current = queue.popleft()
        for assign in root.find_all(nodes.Assign):
            lhs, rhs = assign.target, assign.node
            found: list[str] = []
            if isinstance(lhs, nodes.Name) and _reads(rhs, current):
                found.append(lhs.name)
            if (isinstance(lhs, nodes.Name) and isinstance(rhs, nodes.Call)
                    and isinstance(rhs.node, nodes.Name) and rhs.node.name == "namespace"):
                found += [f"{lhs.name}.{kw.key}" for kw in rhs.kwargs if _reads(kw.value, current)]
            elif isinstance(lhs, (nodes.Getattr, nodes.NSRef)) and _reads(rhs, current):
                dotted = _dotted(lhs)
                found += [dotted] if dotted is not None else []
            for alias in found:
                yield alias
                if alias not in seen:
                    seen.add(alias)
                    queue.append(alias)


def _message_loop_targets(root: nodes.Template) -> list[str]:
    names = list(_aliases_of(root, "messages"))
    targets = []
    for loop in root.find_all(nodes.For):
        if any(_reads(loop.iter, n) for n in names) and isinstance(loop.target, nodes.Name):
            targets.append(loop.target.name)
    return targets


def _content_loops(root: nodes.Template) -> Iterator[nodes.For]:
    messages = _message_loop_targets(root)
    by_loop: dict[int, set[str]] = {}
    in_macros: set[int] = set()
    for macro in root.find_all(nodes.Macro):
        params = {arg.name for arg in macro.args}
        content_params: set[str] = set()
        for call in root.find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == macro.name):
                continue
            for i, arg in enumerate(call.args):
                if i < len(macro.args) and any(_reads(arg, m, "content") for m in messages):
                    content_params.add(macro.args[i].name)
            for kw in call.kwargs:
                if kw.key in params and any(_reads(kw.value, m, "content") for m in messages):
                    content_params.add(kw.key)
        for loop in macro.find_all(nodes.For):
            in_macros.add(id(loop))
            if content_params:
                by_loop[id(loop)] = content_params
    for loop in root.find_all(nodes.For):
        if any(_reads(loop.iter, m, "content") for m in messages):
            yield loop
        elif isinstance(loop.iter, nodes.Name) and loop.iter.name in by_loop.get(id(loop), ()):
            yield loop
        elif id(loop) not in in_macros and isinstance(loop.iter, nodes.Name) and loop.iter.name == "content":
            yield loop
