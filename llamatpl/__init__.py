"""llamatpl: render, diff, lint and verify Llama 3.x chat templates.

The public API is re-exported here and imported on first use, so the command line starts fast::

    from llamatpl import render, verify_conversation
    prompt = render({"messages": [{"role": "user", "content": "Hello!"}]}, version="3.1")
    verdict = verify_conversation("official:3.1", {"messages": [{"role": "user", "content": "hi "}]})

Names renamed in 0.2 (``verify`` → ``verify_conversation``, ``diff`` → ``diff_templates``) and the
module paths of 0.1 (``llamatpl.compare``, ``llamatpl.tokens``, ...) still work for one release, with
a ``DeprecationWarning``; ``docs/architecture.md`` lists them.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from . import _compat
from ._version import __version__

_EXPORTS = {
    "ChatTemplate": "rendering.templates",
    "Conversation": "rendering.conversation",
    "Limits": "rendering.limits",
    "LlamatplError": "errors",
    "Report": "verification.search",
    "Verdict": "verification.compare",
    "iter_conversations": "rendering.conversation",
    "load_conversation": "rendering.conversation",
    "parse_tool_calls": "toolcalls.parser",
    "parse_output": "toolcalls.parser",
    "check_calls": "toolcalls.schema",
    "diff_templates": "diffing.differ",
    "lint_paths": "lint",
    "render": "engines.prompt",
    "resolve_template": "rendering.templates",
    "verify_conversation": "verification.compare",
    "verify_template": "verification.search",
}

# Deprecated public names: old name -> new name (removed in 0.3).
_RENAMED = {"verify": "verify_conversation", "diff": "diff_templates"}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from .diffing.differ import diff_templates
    from .errors import LlamatplError
    from .lint import lint_paths
    from .rendering.conversation import Conversation, iter_conversations, load_conversation
    from .rendering.limits import Limits
    from .engines.prompt import render
    from .rendering.templates import ChatTemplate, resolve_template
    from .toolcalls.parser import parse_output, parse_tool_calls
    from .toolcalls.schema import check_calls
    from .verification.compare import Verdict, verify_conversation
    from .verification.search import Report, verify_template

_compat.install(__name__)


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"llamatpl.{name} is deprecated; use llamatpl.{new}", DeprecationWarning, stacklevel=2)
        return __getattr__(new)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llamatpl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    if name == "render":  # the differential check behind the fast backend (llamatpl.rendering.backend)
        importlib.import_module(".probes", __name__).install_backend_check()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
