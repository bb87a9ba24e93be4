"""Stage 2, engines: what a serving engine does to a request before its template runs, and which
backend renders it. One module per engine; each docstring names the release and the source files
it mirrors (``docs/engines.md`` cites them per behaviour).

    from llamatpl.engines import get_engine
    engine = get_engine("vllm", engine_args="--chat-template-content-format openai")
    prompt = engine.render(Conversation.from_request(body), resolve_template("official:3.1"))
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence

from ..errors import UsageError
from .base import Engine

# engine name -> module under llamatpl.engines
MODULES = {"transformers": "transformers", "vllm": "vllm", "llama.cpp": "llamacpp", "tgi": "tgi"}
NAMES = tuple(MODULES)
DEFAULT = "transformers"

__all__ = ["DEFAULT", "NAMES", "Engine", "get_engine"]


def get_engine(name: str = DEFAULT, *, engine_args: str | Sequence[str] = "",
               transformers: str | None = None) -> Engine:
    """The engine called ``name`` set up with its server flags; unknown names are a usage error.

    Engines hold nothing but their flags, so one set-up serves every render with the same flags."""
    flags = engine_args if isinstance(engine_args, str) else tuple(engine_args)
    return _engine(name, flags, transformers)


@functools.lru_cache(maxsize=32)
def _engine(name: str, engine_args: str | tuple[str, ...], transformers: str | None) -> Engine:
    key = {"llamacpp": "llama.cpp", "llama-cpp": "llama.cpp"}.get(name.lower(), name.lower())
    if key not in MODULES:
        raise UsageError(f"--engine: {name!r} is not one of {', '.join(NAMES)}")
    module = importlib.import_module(f"{__name__}.{MODULES[key]}")
    engine: Engine = module.ENGINE(engine_args=engine_args, transformers=transformers)
    return engine
