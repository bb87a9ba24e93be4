"""The prefix property: a conversation's earlier turns render the same when a later turn arrives.

Incremental training masks and a server's KV-cache reuse both rely on it: rendering
``messages[:k]`` (closed) must be a prefix of rendering the whole conversation, and where message
``k`` is the assistant's, rendering ``messages[:k]`` with the generation prompt must be too (the
server rendered that, the model wrote message ``k``, and the next request starts from it). A template
that rewrites earlier turns (marks the last message, drops earlier reasoning, moves the tools) breaks
it. Prefixes the template refuses to render are not requests a server would see, and are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from ..errors import RenderError
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import render_text
from ..rendering.templates import ChatTemplate
from .compare import VERIFY_TODAY, Verdict

CATEGORY = "not-prefix-stable"


def cut(conversation: Conversation, count: int, generation_prompt: bool) -> Conversation:
    """The first ``count`` messages, closed or with the generation prompt (request body too)."""
    messages = conversation.messages[:count]
    request = conversation.request
    if request is not None:
        request = {**request, "messages": messages, "add_generation_prompt": generation_prompt,
                   "continue_final_message": False}
    return replace(conversation, messages=messages, add_generation_prompt=generation_prompt,
                   continue_final_message=False, request=request)


def check_prefixes(template: ChatTemplate, conversation: Conversation, *, today: date = VERIFY_TODAY,
                   limits: Limits = DEFAULT_LIMITS) -> Verdict:
    """A passing verdict, or one with category ``not-prefix-stable`` naming the first prefix that breaks."""
    conv = Conversation.from_data(conversation)
    text = template.text_for(has_tools=conv.tools is not None)

    def render(count: int, generation_prompt: bool) -> str | None:
        try:
            return render_text(text, cut(conv, count, generation_prompt), special_tokens=template.special_tokens,
                               today=today, limits=limits, name=template.name)
        except RenderError:
            return None

    full = render(len(conv.messages), False)
    if full is None:
        return Verdict(conv)
    for count in range(1, len(conv.messages)):
        message = conv.messages[count]
        checks = [False, True] if isinstance(message, Mapping) and message.get("role") == "assistant" else [False]
        for generation_prompt in checks:
            part = render(count, generation_prompt)
            if part is not None and not full.startswith(part):
                at = next((i for i, (a, b) in enumerate(zip(part, full)) if a != b), min(len(part), len(full)))
                how = "with the generation prompt" if generation_prompt else "closed"
                return Verdict(conv, category=CATEGORY, rendered=full, expected=part, text_divergence=at,
                               error=f"messages[:{count}] rendered {how} is not a prefix of the whole conversation "
                                     f"rendered (they differ at character {at})")
    return Verdict(conv, rendered=full)
