"""transformers: ``PreTrainedTokenizerBase.apply_chat_template`` (``utils/chat_template_utils.py``).

llamatpl's default engine, and the renderer the other jinja2 engines build on: the conversation is
validated with llamatpl's own checks, then rendered byte-identically to the transformers release
given by ``transformers=`` (default 5.23; 5.21 began aliasing reasoning fields, 5.23 dropping
``None``-valued message keys). See :mod:`llamatpl.rendering.renderer`.
"""

from __future__ import annotations

from datetime import date

from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import TRANSFORMERS, render_text
from ..rendering.templates import ChatTemplate
from .base import Engine


class Transformers(Engine):
    name = "transformers"
    release = TRANSFORMERS
    backend = "jinja2"

    def render(self, conversation: Conversation, template: ChatTemplate, *, today: date | None = None,
               limits: Limits = DEFAULT_LIMITS, trace: list[tuple[int, int]] | None = None) -> str:
        conv = Conversation.from_data(conversation)
        return render_text(template.text_for(has_tools=conv.tools is not None), conv,
                           special_tokens=template.special_tokens, today=today, limits=limits,
                           name=template.name, trace=trace, transformers=self.transformers or TRANSFORMERS)


ENGINE = Transformers
