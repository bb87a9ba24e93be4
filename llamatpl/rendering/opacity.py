"""Whether a template treats each message's ``content`` text as opaque: written out, never looked into.

A template is *content-opaque* when the text of a message's ``content`` can only be written into
the prompt (as it is, trimmed, and/or through ``tojson``, alone or joined to other text with ``+``
or ``~``), tested for its type (``is string``, ``is mapping``...) or for being empty, and passed
to the template's own macros under the same rules. It is never compared, measured, sliced,
iterated, searched or handed to any other filter, test or function, and the message objects and
lists holding it are only indexed, iterated, sliced, counted and asked for their other fields or
keys. Then the render's every branch and every other written value is decided by the rest of the
conversation (its roles, other fields, tools, flags) and by which contents are empty, and the
prompt of any conversation is that of the same conversation with stand-ins for its contents, each
stand-in replaced by its text so written (:mod:`llamatpl.train.shapes` uses this for training data).

The check is a conservative walk of the Jinja AST, the same for every template (no list of
known templates): each expression gets the set of kinds of value it may hold (plain data, the
message list, a message, content text, trimmed or JSON-written content, text joined from content),
each variable the union over all its assignments, macro parameters the union over all their calls,
repeated until nothing changes. A branch that a test shows is taken only when a content is no
string (a list of parts, say: :mod:`.narrowing`) reads that content as plain data. Anything the walk does not know, or any use outside the rules
above, makes the template not opaque; then nothing is cut short and every render is a real one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import jinja2
from jinja2 import nodes

from .environment import parse_template
from .kinds import (JOINED, JSON, LIST, MESSAGE, PLAIN, PLAIN_KIND, TYPE_TESTS, WRITABLE, Kind, NotOpaque,
                    filtered, member)
from .narrowing import assigned_names, not_text, path_of

__all__ = ["STAND_IN_CHARS", "content_is_opaque"]

# characters a stand-in is made of (llamatpl.train.shapes); a template that writes them is not checked
STAND_IN_CHARS = ("\u2029", "\ue000", "\ue001")
_ROUNDS = 25  # the walk is repeated until variables' kinds settle; more rounds than this: not opaque


@functools.lru_cache(maxsize=64)
def content_is_opaque(text: str) -> bool:
    """Whether the template ``text`` only writes, trims, JSON-writes and type-tests message content."""
    if any(char in text for char in STAND_IN_CHARS):
        return False
    try:
        tree = parse_template(text)
    except jinja2.TemplateSyntaxError:
        return False
    try:
        _Walk(tree).run()
    except (NotOpaque, RecursionError):
        return False
    return True


class _Walk:
    def __init__(self, tree: nodes.Template) -> None:
        self.tree = tree
        self.kinds: dict[str, Kind] = {"messages": frozenset({LIST})}
        self.macros = {macro.name: macro for macro in tree.find_all(nodes.Macro)}
        self.written: dict[str, Kind] = {}  # what each macro writes: plain, or joined text
        self.namespaces: set[str] = set()
        self.not_text: frozenset[tuple[str, ...]] = frozenset()  # what the branch being walked knows is no string
        self.changed = False

    def run(self) -> None:
        for _ in range(_ROUNDS):
            self.changed = False
            self.statements(self.tree.body)
            if not self.changed:
                return
        raise NotOpaque("kinds did not settle")

    # -- variables -----------------------------------------------------------------------------
    def bind(self, name: str, kind: Kind) -> None:
        old = self.kinds.get(name, frozenset())
        if not kind <= old:
            self.kinds[name] = old | kind
            self.changed = True

    def assign(self, target: nodes.Node, kind: Kind) -> None:
        if isinstance(target, nodes.Name):
            self.bind(target.name, kind)
        elif isinstance(target, nodes.NSRef):
            if target.name not in self.namespaces and kind != PLAIN_KIND:
                raise NotOpaque("content stored in an unknown namespace")
            self.bind(f"{target.name}.{target.attr}", kind)
        elif isinstance(target, nodes.Tuple) and kind == PLAIN_KIND:
            for item in target.items:
                self.assign(item, kind)
        else:
            raise NotOpaque("content unpacked")

    # -- statements: each returns the kinds it writes ---------------------------------------------
    def statements(self, body: Iterable[nodes.Node]) -> Kind:
        out: Kind = frozenset()
        for node in body:
            out |= self.statement(node)
        return out

    def statement(self, node: nodes.Node) -> Kind:
        if isinstance(node, nodes.Output):
            out: Kind = frozenset()
            for child in node.nodes:
                if not isinstance(child, nodes.TemplateData):
                    kind = self.expr(child)
                    if not kind <= WRITABLE:
                        raise NotOpaque("a message or the message list written as text")
                    out |= kind
            return out
        if isinstance(node, nodes.If):
            self.expr(node.test)  # truth of any kind is decided by the shape (see shapes)
            out = self.knowing(not_text(node.test, True), node.body, node.body)
            known = not_text(node.test, False)
            for branch in node.elif_:
                self.knowing(known, branch.test, branch.test)
                out |= self.knowing(known | not_text(branch.test, True), branch.body, branch.body)
                known |= not_text(branch.test, False)
            return out | self.knowing(known, node.else_, node.else_)
        if isinstance(node, nodes.For):
            return self.loop(node)
        if isinstance(node, nodes.Assign):
            if isinstance(node.node, nodes.Call) and isinstance(node.node.node, nodes.Name) \
                    and node.node.node.name == "namespace" and isinstance(node.target, nodes.Name):
                if node.target.name not in self.namespaces:
                    self.namespaces.add(node.target.name)
                    self.changed = True
                for keyword in node.node.kwargs:
                    self.bind(f"{node.target.name}.{keyword.key}", self.expr(keyword.value))
                self.plain(node.node.args, node.node.dyn_args, node.node.dyn_kwargs)
                self.bind(node.target.name, PLAIN_KIND)
                return frozenset()
            self.assign(node.target, self.expr(node.node))
            return frozenset()
        if isinstance(node, nodes.AssignBlock):
            out = self.statements(node.body)
            if node.filter is not None:
                self.block_filter(node.filter, out)
            self.assign(node.target, PLAIN_KIND if out <= PLAIN_KIND else frozenset({JOINED}))
            return frozenset()
        if isinstance(node, nodes.Macro):
            for arg, default in zip(node.args[len(node.args) - len(node.defaults):], node.defaults):
                self.bind(arg.name, self.expr(default))
            written = PLAIN_KIND if self.statements(node.body) <= PLAIN_KIND else frozenset({JOINED})
            if written != self.written.get(node.name, PLAIN_KIND):
                self.written[node.name] = written
                self.changed = True
            return frozenset()
        if isinstance(node, nodes.FilterBlock):
            out = self.statements(node.body)
            self.block_filter(node.filter, out)
            return out
        if isinstance(node, nodes.With):
            for target, value in zip(node.targets, node.values):
                self.assign(target, self.expr(value))
            return self.statements(node.body)
        if isinstance(node, (nodes.Scope, nodes.ScopedEvalContextModifier)):
            return self.statements(node.body)
        if isinstance(node, nodes.ExprStmt):
            self.expr(node.node)
            return frozenset()
        if isinstance(node, (nodes.Break, nodes.Continue, nodes.EvalContextModifier)):
            return frozenset()
        raise NotOpaque(f"{type(node).__name__} is not walked")

    def block_filter(self, node: nodes.Filter, written: Kind) -> None:
        """``{% filter f %}`` / ``{% set x | f %}``: only over plain text."""
        if not written <= PLAIN_KIND:
            raise NotOpaque("content through a filter block")
        chain: nodes.Node | None = node
        while isinstance(chain, nodes.Filter):  # a chain of filters: each with plain arguments
            self.plain(chain.args, chain.kwargs, chain.dyn_args, chain.dyn_kwargs)
            chain = chain.node
        if chain is not None:
            raise NotOpaque("a filter block over a value")

    def loop(self, node: nodes.For) -> Kind:
        if node.recursive:
            raise NotOpaque("a recursive loop")
        items: Kind = frozenset()
        for atom in self.expr(node.iter):
            if atom == LIST:
                items |= {MESSAGE}
            elif atom in (PLAIN, MESSAGE):  # plain data, or a message's keys
                items |= PLAIN_KIND
            else:
                raise NotOpaque("content iterated")
        self.assign(node.target, items)
        if node.test is None:
            return self.statements(node.body) | self.statements(node.else_)
        self.expr(node.test)
        return self.knowing(not_text(node.test, True), node.body, node.body) | self.statements(node.else_)

    def knowing(self, facts: frozenset[tuple[str, ...]], body: Any, scope: Any) -> Kind:
        """Walk ``body`` (statements, or one expression in a list) knowing that each value in ``facts``
        is no string: not a text content, so a value in the shape as it is. A fact does not hold
        where ``scope`` assigns its variable again."""
        assigned = assigned_names(scope)
        facts = frozenset(path for path in facts if path[0] not in assigned)
        before = self.not_text
        self.not_text = before | facts
        try:
            if isinstance(body, nodes.Expr):
                self.expr(body)
                return frozenset()
            return self.statements(body if isinstance(body, list) else [body])
        finally:
            self.not_text = before

    # -- expressions: each returns the kinds its value may have -------------------------------------
    def plain(self, *groups: Any) -> None:
        """Every expression given (lists of them, or single ones, or ``None``) must be plain data."""
        for group in groups:
            if group is None:
                continue
            for node in group if isinstance(group, list) else [group]:
                value = node.value if isinstance(node, nodes.Keyword) else node
                if self.expr(value) != PLAIN_KIND:
                    raise NotOpaque("content passed on")

    def expr(self, node: nodes.Node) -> Kind:
        kind = self._expr(node)
        if self.not_text and path_of(node) in self.not_text:
            return frozenset(atom if atom in (LIST, MESSAGE) else PLAIN for atom in kind)
        return kind

    def _expr(self, node: nodes.Node) -> Kind:  # noqa: C901 - one branch per node type
        if isinstance(node, (nodes.Const, nodes.TemplateData)):
            return PLAIN_KIND
        if isinstance(node, nodes.Name):
            if node.name == "loop":
                raise NotOpaque("the loop object passed on (its previtem / nextitem hold messages)")
            if node.name in self.namespaces and any(
                    key.startswith(node.name + ".") and kind != PLAIN_KIND for key, kind in self.kinds.items()):
                raise NotOpaque("a namespace holding content used as a whole")
            return self.kinds.get(node.name, PLAIN_KIND)
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name):
                if node.node.name == "loop":
                    if node.attr in ("previtem", "nextitem"):
                        raise NotOpaque("loop.previtem / loop.nextitem")
                    return PLAIN_KIND  # loop.index, loop.last, loop.cycle...
                if node.node.name in self.namespaces:
                    return self.kinds.get(f"{node.node.name}.{node.attr}", PLAIN_KIND)
            return member(self.expr(node.node), node.attr)
        if isinstance(node, nodes.Getitem):
            return self.item(node)
        if isinstance(node, nodes.Call):
            return self.call(node)
        if isinstance(node, nodes.Filter):
            return self.filter(node)
        if isinstance(node, nodes.Test):
            kind = self.expr(node.node)
            self.plain(node.args, node.kwargs, node.dyn_args, node.dyn_kwargs)
            if kind != PLAIN_KIND and node.name not in TYPE_TESTS:
                raise NotOpaque(f"content tested with {node.name}")
            return PLAIN_KIND
        if isinstance(node, nodes.CondExpr):
            self.expr(node.test)
            return self.within(not_text(node.test, True), node.expr1) | (
                PLAIN_KIND if node.expr2 is None else self.within(not_text(node.test, False), node.expr2))
        if isinstance(node, (nodes.And, nodes.Or)):  # the value is one of the operands; the right one is
            # read only when the left one is true (and) or false (or)
            return self.expr(node.left) | self.within(not_text(node.left, isinstance(node, nodes.And)), node.right)
        if isinstance(node, nodes.Not):
            self.expr(node.node)
            return PLAIN_KIND
        if isinstance(node, nodes.Compare):
            return self.compare(node)
        if isinstance(node, (nodes.Add, nodes.Concat)):
            parts = [node.left, node.right] if isinstance(node, nodes.Add) else node.nodes
            kind = frozenset().union(*(self.expr(part) for part in parts))
            if kind <= PLAIN_KIND:
                return PLAIN_KIND
            if kind & {LIST, MESSAGE}:
                raise NotOpaque("a message or the message list joined")
            return frozenset({JOINED})
        if isinstance(node, (nodes.BinExpr, nodes.UnaryExpr)):
            self.plain(*([node.left, node.right] if isinstance(node, nodes.BinExpr) else [node.node]))
            return PLAIN_KIND
        if isinstance(node, (nodes.List, nodes.Tuple)):
            self.plain(node.items)
            return PLAIN_KIND
        if isinstance(node, nodes.Dict):
            for pair in node.items:
                self.plain(pair.key, pair.value)
            return PLAIN_KIND
        if isinstance(node, (nodes.MarkSafe, nodes.MarkSafeIfAutoescape)):
            return self.expr(node.expr)
        raise NotOpaque(f"{type(node).__name__} is not walked")

    def within(self, facts: frozenset[tuple[str, ...]], node: nodes.Node) -> Kind:
        """The kinds of expression ``node``, knowing ``facts`` (see :meth:`knowing`)."""
        before = self.not_text
        self.not_text = before | facts
        try:
            return self.expr(node)
        finally:
            self.not_text = before

    def item(self, node: nodes.Getitem) -> Kind:
        kind = self.expr(node.node)
        if isinstance(node.arg, nodes.Slice):
            self.plain(node.arg.start, node.arg.stop, node.arg.step)
            if not kind <= {PLAIN, LIST}:
                raise NotOpaque("content sliced")
            return kind
        if isinstance(node.arg, nodes.Const):
            return member(kind, node.arg.value)
        self.plain(node.arg)
        if not kind <= {PLAIN, LIST}:
            raise NotOpaque("a message read by a computed key")
        return frozenset(MESSAGE if atom == LIST else PLAIN for atom in kind)

    def call(self, node: nodes.Call) -> Kind:
        callee = node.node
        if isinstance(callee, nodes.Getattr) and callee.attr == "get" and node.args \
                and isinstance(node.args[0], nodes.Const) and len(node.args) <= 2 and not node.kwargs \
                and node.dyn_args is None and node.dyn_kwargs is None:
            base = self.expr(callee.node)
            if base <= {PLAIN, MESSAGE}:  # message.get("key"[, default]) reads as message["key"]
                key = node.args[0].value
                kind = frozenset().union(*(member(frozenset({atom}), key) for atom in base))
                return kind | (self.expr(node.args[1]) if len(node.args) == 2 else PLAIN_KIND)
        if isinstance(callee, nodes.Name) and callee.name in self.macros and callee.name not in self.kinds:
            return self.macro_call(self.macros[callee.name], node)
        if self.expr(callee) != PLAIN_KIND:
            raise NotOpaque("a method of content or of a message called")
        self.plain(node.args, node.kwargs, node.dyn_args, node.dyn_kwargs)
        return PLAIN_KIND

    def macro_call(self, macro: nodes.Macro, node: nodes.Call) -> Kind:
        names = [arg.name for arg in macro.args]
        if node.dyn_args is not None or node.dyn_kwargs is not None or len(node.args) > len(names):
            self.plain(node.args, node.kwargs, node.dyn_args, node.dyn_kwargs)
        for name, arg in zip(names, node.args):
            self.bind(name, self.expr(arg))
        for keyword in node.kwargs:
            kind = self.expr(keyword.value)
            if keyword.key in names:
                self.bind(keyword.key, kind)
            elif kind != PLAIN_KIND:
                raise NotOpaque("content passed to a macro's kwargs")
        return self.written.get(macro.name, PLAIN_KIND)

    def filter(self, node: nodes.Filter) -> Kind:
        if node.node is None:
            raise NotOpaque("a filter with no value")
        kind = self.expr(node.node)
        self.plain(node.args, node.kwargs, node.dyn_args, node.dyn_kwargs)
        if kind == PLAIN_KIND:
            return PLAIN_KIND
        return filtered(kind, node)

    def compare(self, node: nodes.Compare) -> Kind:
        left = self.expr(node.expr)
        for operand in node.ops:
            right = self.expr(operand.expr)
            key_test = operand.op in ("in", "notin") and left == PLAIN_KIND and right <= {PLAIN, MESSAGE}
            if not key_test and (left != PLAIN_KIND or right != PLAIN_KIND):
                raise NotOpaque("content or a message compared")
            left = right
        return PLAIN_KIND

