"""The kinds of value the opacity walk (:mod:`.opacity`) gives an expression, and what an operation
on each kind gives: content text can be trimmed and JSON-written, the message list indexed,
counted, filtered by other fields; any other use of content, of a message or of the list is
outside the rules (:class:`NotOpaque`).
"""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import nodes

PLAIN, LIST, MESSAGE = "plain", "list", "message"  # data the shape holds as it is; the messages; one message
TEXT, TRIMMED, JSON, JOINED = "text", "trimmed", "json", "joined"  # a content; trimmed; JSON-written; joined to text
Kind = frozenset  # of the names above: what a value may be
PLAIN_KIND: Kind = frozenset({PLAIN})
WRITABLE = frozenset({PLAIN, TEXT, TRIMMED, JSON, JOINED})
CONTENT = frozenset({TEXT, TRIMMED})
TYPE_TESTS = frozenset({"string", "mapping", "iterable", "sequence", "defined", "undefined", "none", "number",
                        "integer", "float", "boolean", "true", "false", "callable"})


class NotOpaque(Exception):
    """A use of content (or of what holds it) outside the rules."""


def member(kind: Kind, key: object) -> Kind:
    """``x.key`` / ``x[key]`` for a constant key."""
    out: Kind = frozenset()
    for atom in kind:
        if atom == PLAIN:
            out |= PLAIN_KIND
        elif atom == MESSAGE and isinstance(key, str) and not hasattr(dict, key):
            out |= frozenset({TEXT}) if key == "content" else PLAIN_KIND
        elif atom == LIST and isinstance(key, int) and not isinstance(key, bool):
            out |= {MESSAGE}
        else:
            raise NotOpaque(f"[{key!r}] of {atom}")
    return out


def filtered(kind: Kind, node: nodes.Filter) -> Kind:
    """``x | name(...)`` for ``x`` of ``kind`` (the filter's arguments already shown plain)."""
    bare = not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
    out: Kind = frozenset()
    for atom in kind:
        if atom == PLAIN:
            out |= PLAIN_KIND
        elif atom in CONTENT and node.name == "trim" and bare:
            out |= {TRIMMED}
        elif atom in CONTENT and node.name == "tojson" and bare:
            out |= {JSON}
        elif atom in (LIST, MESSAGE) and node.name in ("length", "count") and bare:
            out |= PLAIN_KIND
        elif atom == LIST and node.name in ("first", "last") and bare:
            out |= {MESSAGE}
        elif atom == LIST and node.name in ("list", "reverse") and bare:
            out |= {LIST}
        elif atom == LIST and node.name in ("selectattr", "rejectattr") and _attribute(node.args[:1]):
            out |= {LIST}
        elif atom == LIST and node.name == "map" and not node.args and _attribute(
                [k.value for k in node.kwargs if k.key == "attribute"]) and len(node.kwargs) == 1:
            out |= PLAIN_KIND
        else:
            raise NotOpaque(f"{atom} through the {node.name} filter")
    return out


def _attribute(args: Sequence[nodes.Node]) -> bool:
    """A constant attribute name other than ``content`` (``selectattr("role", ...)``)."""
    return len(args) == 1 and isinstance(args[0], nodes.Const) and isinstance(args[0].value, str) \
        and args[0].value.split(".")[0] != "content"
