"""minijinja 2.8's loop scoping on a later minijinja: what a ``{% set %}`` in a loop body keeps.

In minijinja before 2.22 a ``{% for %}`` loop had one frame for all its iterations, so a variable
set in one iteration is still set in the next (``vm/context.rs``; 2.22, "reset loop locals between
iterations", #912, clears the frame's locals on each new item). TGI v3.3.7 links 2.8.0, and its own
router test ``test_chat_template_loop_controls`` counts users that way. Jinja2 and minijinja 3.x
start each iteration afresh.

:func:`with_persistent_loop_locals` rewrites a template so 3.x behaves as 2.8: before each loop a
``namespace()`` holds the loop's locals; after each ``{% set name ... %}`` directly in the loop body
the value is copied into it, and each iteration starts by copying back what earlier iterations set.
The tags are added on the lines they belong to (line numbers in errors stay right) and take over the
whitespace control (``-``) of the tag they sit beside, so the output is unchanged. A template with
no ``set`` in a loop body comes back as it is. ``recursive`` loops are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TAG = re.compile(r"\{%|\{\{|\{#")
_WORD = re.compile(r"\s*([A-Za-z_]\w*)")
_NAME = re.compile(r"[A-Za-z_]\w*$")
# statements whose body runs in a frame of its own (a set inside does not reach the loop frame)
_OWN_FRAME = {"macro": "endmacro", "call": "endcall", "with": "endwith", "block": "endblock"}
_BODY_ONLY = {"if": "endif", "filter": "endfilter", "set": "endset", "autoescape": "endautoescape"}


@dataclass
class _Tag:
    start: int  # offset of "{%"
    end: int  # offset just past "%}"
    inner: str  # text between the markers, without whitespace control
    left: str  # "-", "+" or ""
    right: str


@dataclass
class _Loop:
    tag: _Tag
    index: int
    names: list[str] = field(default_factory=list)
    in_body: bool = True


def _scan_to(source: str, pos: int, closer: str) -> int:
    """Offset just past ``closer``, skipping string literals; ``len(source)`` if it never comes."""
    quote = ""
    i = pos
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif source.startswith(closer, i):
            return i + len(closer)
        i += 1
    return len(source)


def _tags(source: str) -> list[_Tag]:
    """The statement tags of ``source`` in order (expressions, comments and raw blocks skipped)."""
    tags: list[_Tag] = []
    pos = 0
    while (found := _TAG.search(source, pos)) is not None:
        opener = found.group()
        if opener == "{#":
            end = source.find("#}", found.end())
            pos = len(source) if end < 0 else end + 2
            continue
        end = _scan_to(source, found.end(), "}}" if opener == "{{" else "%}")
        pos = end
        if opener == "{{" or end == len(source) and not source.endswith("%}"):
            continue
        body = source[found.end():end - 2]
        left = body[0] if body[:1] in ("-", "+") else ""
        right = body[-1] if body[-1:] in ("-", "+") else ""
        inner = body[len(left):len(body) - len(right)]
        tags.append(_Tag(found.start(), end, inner, left, right))
        if _keyword(inner) == "raw":
            closing = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}").search(source, end)
            pos = len(source) if closing is None else closing.end()
    return tags


def _keyword(inner: str) -> str:
    match = _WORD.match(inner)
    return match.group(1) if match else ""


def _set_targets(inner: str) -> list[str] | None:
    """The plain names a ``set`` tag assigns (``set x = …``, ``set a, b = …``, block ``set x``);
    attribute targets (``ns.x``) are not frame locals and are left out."""
    rest = inner.strip()[3:]
    target = rest.split("=", 1)[0] if re.search(r"(?<![=!<>])=(?!=)", rest) else rest.split("|", 1)[0]
    names = [t.strip().strip("()").strip() for t in target.split(",")]
    return [n for n in names if _NAME.match(n)]


def _loops(tags: list[_Tag]) -> tuple[list[_Loop], dict[int, tuple[int, list[str]]]]:
    """Every non-recursive loop, and for each ``set`` tag directly in a loop body (by tag index) the
    loop index and the names it sets."""
    loops: list[_Loop] = []
    syncs: dict[int, tuple[int, list[str]]] = {}
    stack: list[tuple[str, _Loop | None]] = []  # (closing keyword, loop or None)
    for i, tag in enumerate(tags):
        word = _keyword(tag.inner)
        if word == "for":
            loop = None if re.search(r"\brecursive\s*$", tag.inner) else _Loop(tag, len(loops))
            if loop is not None:
                loops.append(loop)
            stack.append(("endfor", loop))
        elif word in _OWN_FRAME:
            stack.append((_OWN_FRAME[word], None))
        elif word == "set" and "=" not in tag.inner:
            stack.append(("endset", None))
        elif word in _BODY_ONLY and word != "set":
            stack.append((_BODY_ONLY[word], _enclosing_loop(stack)))
        elif word == "else" and stack and stack[-1][0] == "endfor" and stack[-1][1] is not None:
            stack[-1][1].in_body = False
        elif stack and word == stack[-1][0]:
            stack.pop()
        if word == "set":
            loop = _enclosing_loop(stack[:-1] if "=" not in tag.inner else stack)
            names = _set_targets(tag.inner)
            if loop is not None and loop.in_body and names:
                syncs[i if "=" in tag.inner else _closing(tags, i)] = (loop.index, names)
                loop.names.extend(n for n in names if n not in loop.names)
    return loops, syncs


def _enclosing_loop(stack: list[tuple[str, _Loop | None]]) -> _Loop | None:
    """The loop whose frame a ``set`` at this point writes to: the innermost loop, unless a
    frame-owning block (macro, call, with, block) sits in between."""
    for closer, loop in reversed(stack):
        if closer == "endfor":
            return loop
        if closer in _OWN_FRAME.values():
            return None
        if loop is not None:
            return loop
    return None


def _closing(tags: list[_Tag], i: int) -> int:
    """The index of the ``endset`` closing the block ``set`` at ``i``."""
    depth = 0
    for j in range(i + 1, len(tags)):
        word = _keyword(tags[j].inner)
        if word == "set" and "=" not in tags[j].inner:
            depth += 1
        elif word == "endset":
            if depth == 0:
                return j
            depth -= 1
    return i


def with_persistent_loop_locals(source: str) -> str:
    """``source`` rewritten so a loop's locals persist across its iterations (see the module docstring)."""
    if "set" not in source or "for" not in source:
        return source
    tags = _tags(source)
    loops, syncs = _loops(tags)
    loops = [loop for loop in loops if loop.names]
    if not loops:
        return source
    before: dict[int, str] = {}  # tag start offset -> text to put in front (takes the left marker)
    after: dict[int, str] = {}  # tag end offset -> text to put behind (takes the right marker)
    by_index = {loop.index: loop for loop in loops}
    for loop in loops:
        ns = f"__tgi_loop_{loop.index}"
        before[loop.tag.start] = f"{{% set {ns} = namespace() %}}"
        after[loop.tag.end] = "".join(f"{{% if {ns}.{n} is defined %}}{{% set {n} = {ns}.{n} %}}{{% endif %}}"
                                      for n in loop.names)
    for i, (index, names) in syncs.items():
        if index in by_index:
            ns = f"__tgi_loop_{index}"
            after[tags[i].end] = after.get(tags[i].end, "") + "".join(f"{{% set {ns}.{n} = {n} %}}" for n in names)
    out: list[str] = []
    pos = 0
    for tag in tags:
        if tag.start not in before and tag.end not in after:
            continue
        out.append(source[pos:tag.start])
        left, right = tag.left, tag.right
        if tag.start in before:
            out.append(_marked(before[tag.start], left, ""))
            left = "" if left == "-" else left
        moved = right if tag.end in after and right == "-" else ""
        out.append("{%" + left + tag.inner + (right if not moved else "") + "%}")
        if tag.end in after:
            out.append(_marked(after[tag.end], "", moved))
        pos = tag.end
    out.append(source[pos:])
    return "".join(out)


def _marked(tags: str, left: str, right: str) -> str:
    """``tags`` with ``left`` on its first opener and ``right`` on its last closer."""
    if left == "-":
        tags = "{%-" + tags[2:]
    if right == "-":
        tags = tags[:-2] + "-%}"
    return tags


def unpacking_set_line(source: str) -> int | None:
    """The line of the first ``{% set a, b = … %}``: minijinja 2.8's parser refuses it (tuple
    unpacking in ``set`` came in 2.14), 3.x accepts it."""
    if "set" not in source or "," not in source:
        return None
    for tag in _tags(source):
        inner = tag.inner.strip()
        if _keyword(inner) == "set" and re.search(r"(?<![=!<>])=(?!=)", inner):
            if "," in inner[3:].split("=", 1)[0]:
                return source.count("\n", 0, tag.start) + 1
    return None
