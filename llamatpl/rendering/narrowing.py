"""What a branch of a template knows about a value: that it is no string, so not a message's text.

Inside ``{% if message.content is string %}...{% else %}HERE{% endif %}`` the content is a list of
parts or a mapping, never text: a value the shape of a conversation holds as it is
(:mod:`llamatpl.train.shapes`), which the template may loop over or look into freely. The facts are
paths (a variable, or a variable's ``content``) read off a test (``is string`` false, ``is
mapping`` / ``none`` / ``number``... true, ``is defined`` false, through ``not``, ``and`` and ``or``),
and hold where the branch does not assign that variable again (:func:`assigned_names`).
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes

__all__ = ["assigned_names", "not_text", "path_of"]

_NOT_STRING_WHEN_TRUE = frozenset({"mapping", "none", "undefined", "number", "integer", "float", "boolean"})


def path_of(node: nodes.Node) -> tuple[str, ...] | None:
    """``x`` or ``x.content`` / ``x["content"]`` as a path a fact can name, else ``None``."""
    if isinstance(node, nodes.Name):
        return (node.name,)
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.attr == "content":
        return node.node.name, "content"
    if isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const) \
            and node.arg.value == "content":
        return node.node.name, "content"
    return None


def not_text(test: nodes.Node, outcome: bool) -> frozenset[tuple[str, ...]]:
    """The values that are no string when ``test`` is ``outcome``: ``x is string`` false, ``x is
    mapping`` (or none, a number...) true, ``x is defined`` false; through ``not``, ``and``, ``or``."""
    if isinstance(test, nodes.Not):
        return not_text(test.node, not outcome)
    if isinstance(test, nodes.And) and outcome or isinstance(test, nodes.Or) and not outcome:
        return not_text(test.left, outcome) | not_text(test.right, outcome)
    if isinstance(test, nodes.Test) and not test.args and not test.kwargs:
        path = path_of(test.node)
        if path is not None and (test.name == "string" and not outcome or test.name == "defined" and not outcome
                                 or test.name in _NOT_STRING_WHEN_TRUE and outcome):
            return frozenset({path})
    return frozenset()


def assigned_names(scope: Any) -> frozenset[str]:
    """The names ``scope`` (statements or an expression) assigns anywhere in it."""
    names: set[str] = set()
    for node in scope if isinstance(scope, list) else [scope]:
        for found in [node, *node.find_all((nodes.Assign, nodes.AssignBlock, nodes.For, nodes.With, nodes.Macro))]:
            targets = [found.target] if isinstance(found, (nodes.Assign, nodes.AssignBlock, nodes.For)) else \
                found.targets if isinstance(found, nodes.With) else \
                found.args if isinstance(found, nodes.Macro) else []
            for target in targets:
                names.update(name.name for name in [target, *target.find_all(nodes.Name)] if isinstance(name, nodes.Name))
            if isinstance(found, nodes.Assign) and isinstance(found.target, nodes.NSRef):
                names.add(found.target.name)
    return frozenset(names)
