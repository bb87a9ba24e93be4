"""llamatpl: render, diff, lint and verify Llama 3.x chat templates.

The public API is re-exported here; everything else lives in private-by-convention modules::

    from llamatpl import Conversation, render
    prompt = render({"messages": [{"role": "user", "content": "Hello!"}]}, version="3.1", today="2024-07-26")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .conversation import Conversation, iter_conversations, load_conversation
from .errors import LlamatplError
from .limits import Limits
from .render import render
from .templates import ChatTemplate, resolve_template

__all__ = [
    "ChatTemplate",
    "Conversation",
    "Limits",
    "LlamatplError",
    "__version__",
    "iter_conversations",
    "load_conversation",
    "render",
    "resolve_template",
]
