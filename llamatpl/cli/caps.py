"""``llamatpl caps``: what a template supports, found by probing (llamatpl's probes, or an engine's own)."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from .app import EngineArgsOpt, TextOrJson, VersionOpt, app


@app.command()
def caps(
    template: Annotated[str, typer.Argument(help="Template: official:3.1, a file, folder or .gguf.")],
    version: VersionOpt = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text or json.")] = TextOrJson.text,
    engine: Annotated[Optional[str], typer.Option(
        "--engine", "-e", help="llama.cpp: its own verdicts (common/jinja/caps.cpp); vllm, tgi: llamatpl's "
                               "probes sent through that engine's request handling.")] = None,
    engine_args: EngineArgsOpt = "",
) -> None:
    """Report what a template supports, found by probing."""
    from ..engines import get_engine
    from ..probes.caps import capabilities
    from ..rendering.templates import resolve_template

    chosen = get_engine(engine, engine_args=engine_args) if engine is not None else None
    tpl = resolve_template(template, version=version)
    if chosen is not None and chosen.name == "llama.cpp":
        from ..engines.llamacpp import VERDICTS
        from ..engines.llamacpp import capabilities as engine_capabilities

        found = engine_capabilities(tpl)
        _write(tpl.name, tpl.version, found, format, {"engine": chosen.name, "verdicts": VERDICTS},
               f"{tpl.name} (Llama {tpl.version}): {VERDICTS} verdicts\n")
        return
    through = chosen if chosen is not None and chosen.name != "transformers" else None
    own = {c.name: {"supported": c.supported, "detail": c.detail} for c in capabilities(tpl, engine=through)}
    if through is None:
        _write(tpl.name, tpl.version, own, format, {}, f"{tpl.name} (Llama {tpl.version})\n")
        return
    _write(tpl.name, tpl.version, own, format, {"engine": through.name, "verdicts": "llamatpl's probes"},
           f"{tpl.name} (Llama {tpl.version}): llamatpl's probes through {through.name}'s request handling\n")


def _write(name: str, version: str, found: dict[str, dict[str, Any]], format: TextOrJson,
           extra: dict[str, str], header: str) -> None:
    import json

    if format is TextOrJson.json:
        doc = {"template": name, "version": version, **extra, "capabilities": found}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    sys.stdout.write(header)
    for cap, verdict in found.items():
        sys.stdout.write(f"  {'yes' if verdict['supported'] else 'no ':<4} {cap:<24} {verdict['detail']}\n")
