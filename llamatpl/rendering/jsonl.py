"""Render every conversation of a file (JSON, JSONL or stdin), streaming, in one or several processes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from . import backend
from ..errors import LlamatplError
from .conversation import Conversation, parse_line
from .limits import DEFAULT_LIMITS, Limits
from .renderer import TRANSFORMERS, render_text
from .templates import ChatTemplate
from ..tokens.tokenizer import get_tokenizer

BATCH = 2048  # conversations handed to the worker pool at a time: bounds memory on any file size


@dataclass(frozen=True)
class Rendered:
    """One conversation's prompt, and its token ids when they were asked for."""

    conversation: Conversation
    prompt: str
    ids: list[int] | None = None
    backend: backend.Choice | None = None  # the Jinja backend that rendered it, and why
    engine: str = "transformers"  # the serving engine whose prompt this is


@dataclass(frozen=True)
class RenderJob:
    """Everything a worker needs to render conversations: picklable, set once per process."""

    template: ChatTemplate
    today: date | None = None
    with_ids: bool = False
    generation_prompt: bool | None = None
    limits: Limits = DEFAULT_LIMITS
    tokenizer: Any = None
    add_special_tokens: bool = False
    transformers: str = TRANSFORMERS
    engine: Any = None  # an llamatpl.engines.Engine; None renders as transformers does

    @property
    def checks(self) -> str:
        """How input is read: llamatpl's checks, or as the engine's request body."""
        return "llamatpl" if self.engine is None or self.engine.name == "transformers" else "request"

    def render(self, conversation: Conversation) -> Rendered:
        if self.generation_prompt is not None:
            request = None if conversation.request is None else {
                **conversation.request, "add_generation_prompt": self.generation_prompt}
            conversation = replace(conversation, add_generation_prompt=self.generation_prompt, request=request)
        if self.engine is not None:
            prompt = self.engine.render(conversation, self.template, today=self.today, limits=self.limits)
        else:
            prompt = render_text(self.template.text_for(has_tools=conversation.tools is not None), conversation,
                                 special_tokens=self.template.special_tokens, today=self.today,
                                 limits=self.limits, name=self.template.name, transformers=self.transformers)
        choice = backend.LAST.get()
        ids = None
        if self.with_ids:
            tokenizer = self.tokenizer or get_tokenizer(self.template.version)
            ids = tokenizer.encode_prompt(prompt, add_special_tokens=self.add_special_tokens)
        return Rendered(conversation, prompt, ids, choice, self.engine.name if self.engine is not None else "transformers")


def record(item: Rendered, template: ChatTemplate) -> dict[str, Any]:
    """``--format json``: the template, its version, the engine, the prompt, its ids and the backend that rendered it."""
    chosen = None if item.backend is None else {"name": item.backend.backend, "reason": item.backend.reason}
    return {"template": template.name, "version": template.version, "engine": item.engine, "prompt": item.prompt,
            "ids": item.ids, "backend": chosen}


def json_line(item: Rendered, job: RenderJob, fmt: str) -> str:
    """One output line for a conversation of a JSONL batch (the prompt stays exact inside JSON)."""
    if fmt == "ids":
        return json.dumps(item.ids)
    if fmt == "json":
        return json.dumps({"name": item.conversation.name, **record(item, job.template)}, ensure_ascii=False)
    return json.dumps(item.prompt, ensure_ascii=False)


_WORKER: tuple[RenderJob, str] | None = None


def _start_worker(job: RenderJob, fmt: str) -> None:
    global _WORKER
    _WORKER = (job, fmt)


Item = Conversation | tuple[str, str | bytes]  # a conversation, or a raw JSONL line with its place


def _line(item: Item, job: RenderJob, fmt: str) -> str:
    """One output line; a template whose backend verdict is unknown is checked first (many lines follow)."""
    conversation = item if isinstance(item, Conversation) else parse_line(*item, checks=job.checks)
    try:
        with backend.checking():
            rendered = job.render(conversation)
    except LlamatplError as exc:
        if isinstance(item, Conversation):
            raise
        raise exc.at(item[0]) from None  # a template's error names the input line too
    return json_line(rendered, job, fmt)


def _work(item: Item) -> str | LlamatplError:
    """A line, or the error the item caused: returned, not raised, so the good lines that share its
    chunk of work still reach the output (``imap`` would drop the whole chunk)."""
    assert _WORKER is not None
    try:
        return _line(item, *_WORKER)
    except LlamatplError as exc:
        return exc


def render_lines(items: Iterable[Item], job: RenderJob, fmt: str, *, jobs: int = 1,
                 progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """Output lines for many conversations, in order; ``jobs`` > 1 renders in worker processes.

    Raw JSONL lines are parsed where they are rendered, so the workers share that work too.
    """
    if jobs <= 1:
        for item in items:
            yield _line(item, job, fmt)
            if progress:
                progress(1)
        return
    import multiprocessing

    source = iter(items)
    for item in itertools.islice(source, 1):
        # rendered here, so the tokenizer and the backend's verdict (its check) are ready before the fork
        yield _line(item, job, fmt)
        if progress:
            progress(1)
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    pool = (context or multiprocessing).Pool(jobs, initializer=_start_worker, initargs=(job, fmt))
    try:
        while batch := list(itertools.islice(source, BATCH)):
            for line in pool.imap(_work, batch, chunksize=64):
                if isinstance(line, LlamatplError):
                    raise line  # after every good line before it, in input order
                yield line
                if progress:
                    progress(1)
    finally:
        pool.terminate()
