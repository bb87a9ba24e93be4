"""The playground: a local web page to write a template and see its prompt, tokens, findings and diffs.

It sits on top of the library, beside the command line, and calls the same functions
(``llamatpl.render``, the tokenizer, ``lint_source``, ``verify_template``, ``diff_templates``). Its
web server (Starlette on uvicorn) is the optional extra ``llamatpl[playground]``; this package's
``__init__`` imports none of it, so :func:`missing` can say what to install.

    from llamatpl.playground.server import Settings, create_app   # an ASGI app
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "pip install 'llamatpl[playground]' (in a source checkout: pip install '.[playground]')"


def missing() -> list[str]:
    """The web packages the playground needs that are not installed."""
    return [name for name in ("starlette", "uvicorn") if not _importable(name)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: the module was blocked (sys.modules[name] = None)
        return False
