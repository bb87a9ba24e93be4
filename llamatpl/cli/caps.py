"""``llamatpl caps``: what a template supports, found by probing (llamatpl's probes, or an engine's own)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from .app import EngineArgsOpt, TextOrJson, VersionOpt, app

if TYPE_CHECKING:
    from ..rendering.templates import ChatTemplate


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
        _write(tpl, found, format, {"engine": chosen.name, "verdicts": VERDICTS}, f": {VERDICTS} verdicts")
        return
    through = chosen if chosen is not None and chosen.name != "transformers" else None
    own = {c.name: {"supported": c.supported, "detail": c.detail} for c in capabilities(tpl, engine=through)}
    if through is None:
        _write(tpl, own, format, {}, "")
        return
    _write(tpl, own, format, {"engine": through.name, "verdicts": "llamatpl's probes"},
           f": llamatpl's probes through {through.name}'s request handling")


def _write(tpl: ChatTemplate, found: dict[str, dict[str, Any]], format: TextOrJson,
           extra: dict[str, str], how: str) -> None:
    import json

    shape = tpl.format
    if format is TextOrJson.json:
        doc = {"template": tpl.name, "version": tpl.version, "format": shape.as_json(), **extra, "capabilities": found}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    label = f"Llama {tpl.version}" if shape.is_llama3 else f"{shape.label}, not Llama 3.x: {shape.reason}"
    sys.stdout.write(f"{tpl.name} ({label}){how}\n")
    for cap, verdict in found.items():
        sys.stdout.write(f"  {'yes' if verdict['supported'] else 'no ':<4} {cap:<24} {verdict['detail']}\n")
