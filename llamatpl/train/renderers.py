"""A renderer for training data with the fast backend's verdict settled before the first row.

``MaskJob.render`` already renders on minijinja wherever the differential check showed jinja2's
bytes (running the check at its first render when the verdict is not known yet). Settling the
verdict up front, in the process that later forks workers, means the check runs once rather than
once per worker, and every worker renders its first conversation on the fast path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from ..errors import LlamatplError
from ..rendering import backend
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import TRANSFORMERS
from ..rendering.templates import ChatTemplate
from ..resources import bundled_dir
from .masks import MaskJob

# one conversation without tools and two with (object arguments, and the JSON text vLLM requires):
# a template's text can differ with and without tools, and each text has its own verdict
_SETTLING = ("plain-chat", "tool-round-trip", "arguments-json-string")


def settle_backend(job: MaskJob) -> dict[str, backend.Choice]:
    """Run the fast backend's check now for ``job``'s template under its engine; returns the choice
    made for the text without tools and with tools (``"plain"``, ``"tools"``), for logging."""
    choices: dict[str, backend.Choice] = {}
    for fixture in _SETTLING:
        data: Any = json.loads((bundled_dir("fixtures") / f"{fixture}.json").read_text(encoding="utf-8"))
        try:
            conversation = job.read(data, name=fixture)
            kind = "plain" if conversation.tools is None else "tools"
            if kind in choices:
                continue
            job.render(conversation)
        except LlamatplError:
            continue  # refused by the engine or raised by the template: the next fixture settles it
        found = backend.LAST.get()
        if found is not None:
            choices[kind] = found
    return choices


def fast_renderer(template: ChatTemplate, *, engine: Any = None, today: date | None = None,
                  limits: Limits = DEFAULT_LIMITS, transformers: str = TRANSFORMERS) -> Callable[[Conversation], str]:
    """``MaskJob(template, engine=..., today=..., limits=..., transformers=...).render`` with the
    backend's verdict settled (:func:`settle_backend`): call it in the parent process, then render
    (or build masks with ``assistant_spans``) in workers."""
    job = MaskJob(template, engine=engine, today=today, limits=limits, transformers=transformers)
    settle_backend(job)
    return job.render
