"""``llamatpl playground``: a local web page to edit a template and see its prompt, tokens and findings live."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Annotated, Optional

import typer

from ..errors import LlamatplError
from .app import app

LOCAL = "127.0.0.1"


@app.command()
def playground(
    template: Annotated[Optional[str], typer.Argument(
        help="Template to start from: official:3.1, tuned:3.2, a .jinja file, tokenizer_config.json... (default: official:3.1).")] = None,
    conversation: Annotated[Optional[str], typer.Argument(help="Conversation JSON file to start from.")] = None,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to serve on.")] = 8765,
    host: Annotated[Optional[str], typer.Option(
        "--host", help="Address to listen on (default 127.0.0.1; any other is reachable by others: a warning says so).")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
) -> None:
    """Serve a local page to write a template and see its prompt, tokens, lint findings and diffs live.

    Needs the optional web server: pip install 'llamatpl[playground]'. Ctrl-C stops it.
    """
    from ..playground import INSTALL_HINT, missing

    if missing():
        raise LlamatplError(f"llamatpl playground needs {' and '.join(missing())}: {INSTALL_HINT}")
    from ..playground.server import Settings, serve

    settings = Settings(template=_start_template(template), conversation=_start_conversation(conversation))
    if host is not None and host not in (LOCAL, "localhost"):
        # reached by a name or address we cannot know (and Starlette's host check cannot read [::1]:port)
        settings = replace(settings, allowed_hosts=("*",))
    if host is not None and host not in (LOCAL, "localhost", "::1"):
        sys.stderr.write(f"warning: serving on {host}: anyone who can reach it can render templates on this "
                         "machine; the playground is meant for 127.0.0.1\n")
    serve(settings, host=host or LOCAL, port=port, open_browser=not no_browser,
          announce=lambda url: sys.stderr.write(f"llamatpl playground on {url} (Ctrl-C to stop)\n"))


def _start_template(spec: str | None) -> str:
    """A bundled name stays a name (the page selects it); a file becomes its text."""
    from ..rendering.templates import resolve_template
    from ..resources import bundled_names

    if spec is None:
        return "official:3.1"
    resolved = resolve_template(spec)
    return resolved.name if resolved.name in bundled_names() else resolved.text


def _start_conversation(path: str | None) -> object:
    import json

    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise LlamatplError(f"{path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LlamatplError(f"{path}: not JSON: {exc}") from None
