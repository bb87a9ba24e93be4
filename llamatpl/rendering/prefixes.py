"""A conversation's first messages rendered straight on minijinja, for the prefixes of a training mask.

A mask renders the first ``count`` messages of each conversation two or three times, closed or
with the generation prompt (:mod:`llamatpl.train.masks`). When the whole conversation has just
rendered on minijinja (its template's verdict is minijinja, none of its input needs jinja2 and no
differential check is recording), each prefix would take the same road: the same template text,
the same verdict, input that can only hold less. So the road is taken once: the whole
conversation's prepared variables (:func:`.messages.prepared`) are cut short for each prefix and
handed to minijinja, without building a conversation, preparing it or choosing the backend again.
A render minijinja gives up on returns ``None``, and the caller renders that prefix the usual way
(:func:`.renderer.render_text`, on jinja2), as it does for every prefix when this does not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from . import backend, fastscan
from . import fast as _fast
from . import limits as _limits
from . import messages as _messages
from .conversation import Conversation
from .renderer import _render_fast

PrefixRender = Callable[[int, bool], "str | None"]  # (count, generation_prompt) -> the text, or None


def fast_prefixes(template_text: str, whole: Conversation, *, special_tokens: Mapping[str, str],
                  today: date | None, limits: _limits.Limits, transformers: str) -> PrefixRender | None:
    """Renders of ``whole``'s first messages on minijinja, or ``None`` where the fast road is not the
    one :func:`.renderer.render_text` would take for them. Call it right after rendering ``whole``
    with ``template_text``, in the same backend mode."""
    choice = backend.LAST.get()
    if choice is None or choice.backend != backend.MINIJINJA or backend.recording() is not None:
        return None
    if whole.continue_final_message:
        return None  # the whole render marked its last message; prefixes never do
    variables, scanned = _messages.prepared(whole, transformers, special_tokens)
    if scanned & fastscan.JINJA2_ONLY:
        return None
    messages = variables["messages"]
    found = _fast.ready(template_text, limits, scanned & fastscan.TRIM_CHARS)  # looked up once for all prefixes
    if found is None:
        return None  # minijinja does not compile it: each prefix renders the usual way

    def render(count: int, generation_prompt: bool) -> str | None:
        return _render_fast(template_text, {**variables, "messages": messages[:count],
                                            "add_generation_prompt": generation_prompt},
                            today, limits, scanned, found)

    return render
