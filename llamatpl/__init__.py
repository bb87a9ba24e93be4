"""llamatpl: render, diff, lint and verify Llama 3.x chat templates.

The public API is re-exported here and imported on first use, so the command line starts fast::

    from llamatpl import render, verify
    prompt = render({"messages": [{"role": "user", "content": "Hello!"}]}, version="3.1")
    verdict = verify("official:3.1", {"messages": [{"role": "user", "content": "hi "}]})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ChatTemplate": "templates",
    "Conversation": "conversation",
    "Limits": "limits",
    "LlamatplError": "errors",
    "Report": "search",
    "Verdict": "compare",
    "iter_conversations": "conversation",
    "load_conversation": "conversation",
    "parse_tool_calls": "toolcall_parser",
    "diff": "differ",
    "lint_paths": "lint",
    "render": "renderer",
    "resolve_template": "templates",
    "verify": "compare",
    "verify_template": "search",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from .compare import Verdict, verify
    from .conversation import Conversation, iter_conversations, load_conversation
    from .differ import diff
    from .lint import lint_paths
    from .toolcall_parser import parse_tool_calls
    from .errors import LlamatplError
    from .limits import Limits
    from .renderer import render
    from .search import Report, verify_template
    from .templates import ChatTemplate, resolve_template


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llamatpl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
