"""``llamatpl caps``: what a template supports, found by probing."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .app import TextOrJson, VersionOpt, app


@app.command()
def caps(
    template: Annotated[str, typer.Argument(help="Template: official:3.1, a file, folder or .gguf.")],
    version: VersionOpt = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text or json.")] = TextOrJson.text,
) -> None:
    """Report what a template supports, found by probing."""
    import json

    from ..probes.caps import capabilities
    from ..rendering.templates import resolve_template

    tpl = resolve_template(template, version=version)
    found = capabilities(tpl)
    if format is TextOrJson.json:
        doc = {"template": tpl.name, "version": tpl.version,
               "capabilities": {c.name: {"supported": c.supported, "detail": c.detail} for c in found}}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    sys.stdout.write(f"{tpl.name} (Llama {tpl.version})\n")
    for c in found:
        sys.stdout.write(f"  {'yes' if c.supported else 'no ':<4} {c.name:<24} {c.detail}\n")
