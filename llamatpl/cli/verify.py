"""``llamatpl verify``: search for a conversation the template renders differently from Meta's reference."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..errors import EXIT_FINDINGS, EXIT_OK
from .app import (EngineArgsOpt, EngineOpt, TextOrJson, TokenizerOpt, TransformersOpt, VersionOpt, app, engine_from,
                  user_tokenizer)


@app.command()
def verify(
    template: Annotated[str, typer.Argument(help="Template to verify: official:3.1, tuned:3.2, a file or folder.")],
    version: VersionOpt = None,
    examples: Annotated[int, typer.Option("--examples", "-n", min=1, help="Conversations to generate.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed for a reproducible search.")] = 0,
    conversation: Annotated[Optional[str], typer.Option(
        "--conversation", "-c", help="Check these conversations (JSON or JSONL) instead of generating.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on inherent token differences too.")] = False,
    dialect: Annotated[Optional[str], typer.Option(
        "--dialect", help="Reference dialect (official, meta, tuned-3.1, tuned-3.2), optionally with a source per "
        "disputed point: official,tools-placement=doc (sources: template, doc, reference; docs/reference.md); "
        "default: what the template declares.")] = None,
    features: Annotated[Optional[str], typer.Option(
        "--features", help="Only these feature areas, comma-separated (plain-chat, tools-in-system, "
        "custom-tool-call, parallel-calls, continue-final-message, combined, ...).")] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    tokenizer: TokenizerOpt = None,
    prefix: Annotated[bool, typer.Option(
        "--prefix", help="Check instead that earlier turns render the same when a later one arrives (training "
                         "masks, KV-cache reuse).")] = False,
    engine: EngineOpt = "transformers",
    engine_args: EngineArgsOpt = "",
    transformers: TransformersOpt = None,
) -> None:
    """Verify a template token-exact against Meta's reference.

    Searches each feature area (plain chat, tools, tool calls and results, content parts, images,
    continue_final_message, prefill, ...) on its own: a table of pass / fail / disputed / unsupported,
    then each failing area's smallest counterexample. Exit 0 clean, 1 a failing area, 2 bad input.
    """
    from ..rendering.conversation import iter_conversations
    from ..formatting.verify_output import write_json, write_text
    from ..rendering.limits import limits_from_env
    from ..verification.search import verify_template
    # imported now, not when the backend check first runs mid-search: hypothesis draws constants from
    # the modules loaded, so the same modules must be loaded on every run for the search to repeat
    from ..probes import backends  # noqa: F401
    from ..rendering.templates import resolve_template

    tpl = resolve_template(template, version=version)
    chosen = engine_from(engine, engine_args, transformers)
    checks = "llamatpl" if chosen.name == "transformers" else "request"
    convs = iter_conversations(conversation, checks=checks) if conversation else None
    report = verify_template(tpl, version=tpl.version, examples=examples, seed=seed, strict=strict,
                             dialect=dialect, conversations=convs, tokenizer=user_tokenizer(tokenizer),
                             limits=limits_from_env(), engine=chosen, prefix=prefix,
                             features=[f.strip() for f in features.split(",") if f.strip()] if features else None)
    if format is TextOrJson.json:
        write_json(report, sys.stdout)
    else:
        write_text(report, sys.stdout, seed=None if conversation else seed)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)
