"""Training rows of conversations that differ only in their contents, from one set of renders.

A data set repeats a few conversation *shapes*: the same roles in the same order, the same other
fields, tools and flags, only the texts of the messages differ. When the template is
content-opaque (:func:`llamatpl.rendering.opacity.content_is_opaque`: it writes a message's
``content`` text as it is, trimmed or through ``tojson``, and never looks into it), the prompt of
such a conversation is the prompt of its shape, with a stand-in where each content was, and each
stand-in replaced by its content so written; the assistant's spans (from the prefix renders,
:func:`llamatpl.verification.prefix.assistant_spans`) move by the lengths replaced before them.

A shape is rendered (whole and prefixes, on the job's usual road) the second time it is seen, and
kept only if it gives exactly the prompt and spans of rendering the conversation at hand and of
rendering a probe (the same shape, with contents that trimming and ``tojson`` change): a check
beside the template's and the stand-ins' own. From then on, conversations of that shape render nothing. A stand-in is ``\\u2029 \\ue000 \\ N \\ue001 \\u2029`` (N the message's index): the
outer characters are whitespace, so a ``trim`` shows in the render as their absence, and the
backslash is doubled by ``tojson``, so JSON writing shows too. A render that writes any of these
characters elsewhere, or a stand-in any other way, is not kept. A content that is empty or only
whitespace is left in the shape as it is (so every test of a text's truth reads the same), and so is
every other value, which is part of the shape.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import LlamatplError
from ..rendering.conversation import Conversation
from ..rendering.opacity import STAND_IN_CHARS

Spans = tuple[tuple[int, int], ...]
Rendered = tuple[str, Spans]  # a prompt and the assistant's character spans in it

PAD, OPEN, CLOSE = STAND_IN_CHARS
_WRITTEN = re.compile(r'"(\u2029?)\ue000\\\\(\d+)\ue001(\u2029?)"|(\u2029?)\ue000\\(\d+)\ue001(\u2029?)')
_STRAY = re.compile("[" + "".join(STAND_IN_CHARS) + "]")
KEPT = 1024  # shapes kept (and shapes seen once) before the store starts again
_SLOT = object()  # where a stand-in takes a content's place in a message's key


def stand_in(index: int) -> str:
    return f"{PAD}{OPEN}\\{index}{CLOSE}{PAD}"


def probe(index: int) -> str:
    """A content that reads differently trimmed, JSON-written or as it is (and is not blank): the
    second conversation a shape must give exactly, so that no chance in the first one (a content
    that trimming leaves alone, say) makes a wrong reading of the stand-ins pass."""
    return f' \t{index} "q\\ \u2029\n'


def written(content: str, trimmed: bool, as_json: bool) -> str:
    """A content as the template wrote its stand-in: trimmed (jinja2's ``trim``, Python's ``strip``)
    and/or through transformers' ``tojson`` (``json.dumps`` with ``ensure_ascii=False``)."""
    text = content.strip() if trimmed else content
    return json.dumps(text, ensure_ascii=False) if as_json else text


@dataclass(frozen=True)
class Shape:
    """A rendered shape: the text between its stand-ins, how each was written, and the spans'
    bounds as (offset in the shape's prompt, stand-ins before it)."""

    between: tuple[str, ...]  # one more than slots
    slots: tuple[tuple[int, bool, bool, int], ...]  # (message index, trimmed, as JSON, length in the shape)
    bounds: tuple[tuple[int, int], ...]
    fixed: int  # length of the text between stand-ins

    @classmethod
    def of(cls, prompt: str, spans: Spans) -> Shape | None:
        """The shape's prompt and spans read, or ``None`` if a stand-in is written in a way this
        cannot replace or a span's bound falls inside one."""
        between: list[str] = []
        slots: list[tuple[int, bool, bool, int]] = []
        starts, ends = [], []
        at = 0
        for found in _WRITTEN.finditer(prompt):
            as_json = found.group(2) is not None
            before, index, after = found.group(1, 2, 3) if as_json else found.group(4, 5, 6)
            if before != after:
                return None  # half trimmed: not a write this knows
            between.append(prompt[at:found.start()])
            slots.append((int(index), not before, as_json, found.end() - found.start()))
            starts.append(found.start())
            ends.append(found.end())
            at = found.end()
        between.append(prompt[at:])
        if any(_STRAY.search(text) for text in between):
            return None
        bounds = []
        for bound in itertools.chain.from_iterable(spans):
            count = sum(1 for end in ends if end <= bound)
            if count < len(starts) and starts[count] < bound:
                return None  # inside a stand-in
            bounds.append((bound, count))
        return cls(tuple(between), tuple(slots), tuple(bounds), sum(map(len, between)))

    def fill(self, contents: Sequence[str | None], max_chars: int) -> Rendered | None:
        """The prompt and spans of the conversation whose contents are ``contents`` (by message
        index), or ``None`` when the prompt would be longer than ``max_chars``."""
        texts = [written(contents[index], trimmed, as_json)  # type: ignore[arg-type]
                 for index, trimmed, as_json, _ in self.slots]
        lengths = list(map(len, texts))
        if self.fixed + sum(lengths) > max_chars:
            return None
        parts: list[str] = [""] * (2 * len(texts) + 1)
        parts[0::2] = self.between
        parts[1::2] = texts
        moved = [0, *itertools.accumulate(n - slot[3] for n, slot in zip(lengths, self.slots))]
        places = [bound + moved[count] for bound, count in self.bounds]
        return "".join(parts), tuple(zip(places[0::2], places[1::2]))


class Shapes:
    """The shapes one training job has rendered, and those it has seen once."""

    def __init__(self) -> None:
        self.kept: dict[Any, Shape | None] = {}  # None: tried, and not kept
        self.seen: set[Any] = set()

    def encode(self, conversation: Conversation, render: Callable[[Conversation], Rendered], *,
               max_chars: int, from_json: bool) -> Rendered:
        """``render(conversation)``, from its shape where one is kept. ``from_json``: the values were
        read from JSON text (so their types are JSON's, and JSON text tells them apart)."""
        found = _key(conversation, from_json)
        if found is None:
            return render(conversation)
        key, contents = found
        if key not in self.kept:
            if key not in self.seen:
                if len(self.seen) >= KEPT:
                    self.seen.clear()
                self.seen.add(key)
                return render(conversation)
            return self._learn(key, conversation, contents, render, max_chars)
        shape = self.kept[key]
        filled = None if shape is None else shape.fill(contents, max_chars)
        return render(conversation) if filled is None else filled

    def _learn(self, key: Any, conversation: Conversation, contents: list[str | None],
               render: Callable[[Conversation], Rendered], max_chars: int) -> Rendered:
        rendered = render(conversation)
        probes = [None if content is None else probe(index) for index, content in enumerate(contents)]
        try:
            shape = Shape.of(*render(_with_contents(conversation, contents, stand_in)))
            if shape is not None and any(index >= len(contents) or contents[index] is None
                                         for index, *_ in shape.slots):
                shape = None  # the template wrote a stand-in of its own making
            if shape is not None and (shape.fill(contents, max_chars) != rendered or shape.fill(
                    probes, max_chars) != render(_with_contents(conversation, contents, probe))):
                shape = None
        except LlamatplError:
            shape = None
        if len(self.kept) >= KEPT:
            self.kept.clear()
        self.kept[key] = shape
        return rendered


def _with_contents(conversation: Conversation, contents: Sequence[str | None],
                   text: Callable[[int], str]) -> Conversation:
    """``conversation`` with ``text(index)`` for each content a stand-in takes the place of."""
    return replace(conversation, messages=[
        message if content is None else {**message, "content": text(index)}
        for index, (message, content) in enumerate(zip(conversation.messages, contents))])


def _key(conversation: Conversation, from_json: bool) -> tuple[Any, list[str | None]] | None:
    """(the conversation's shape as a dictionary key, each message's content where a stand-in takes
    its place), or ``None`` when its values cannot be told apart by a key here."""
    if conversation.continue_final_message:
        return None
    parts: list[Any] = [conversation.add_generation_prompt]
    contents: list[str | None] = []
    for message in conversation.messages:
        if type(message) is not dict:
            return None
        content = message.get("content")
        slot = type(content) is str and content != "" and not content.isspace()
        contents.append(content if slot else None)
        if slot and len(message) == 2 and tuple(message) == ("role", "content") and type(message["role"]) is str:
            parts.append(message["role"])
            continue
        values = dict(message)
        if slot:
            values["content"] = _SLOT
        if all(type(value) is str or value is _SLOT for value in values.values()):
            parts.append(tuple(values.items()))
        elif from_json:
            if slot:
                values["content"] = stand_in(0)  # no content is left in the key as this text (it is not blank)
            parts.append(("json", json.dumps(values)))
        else:
            return None
    if conversation.tools is None and conversation.documents is None and all(
            type(value) in (str, bool, int) for value in conversation.variables.values()):
        parts.append(tuple((key, type(value), value) for key, value in conversation.variables.items()))
    elif from_json:
        parts.append(("json", json.dumps((conversation.tools, conversation.documents, conversation.variables))))
    else:
        return None
    return tuple(parts), contents
