"""``llamatpl render``: one conversation to its exact bytes, or a JSONL file to one result a line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import LlamatplError
from .app import (EngineArgsOpt, EngineOpt, RenderFormat, TemplateOpt, TodayOpt, TokenizerOpt, TransformersOpt, VersionOpt,
                  app, engine_from, say_assumed_version, user_tokenizer)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..rendering.backend import Choice
    from ..rendering.jsonl import Item, RenderJob


@app.command()
def render(
    conversation: Annotated[str, typer.Argument(help="Conversation JSON or JSONL file, or - for stdin.")],
    template: TemplateOpt = None,
    version: VersionOpt = None,
    format: Annotated[Optional[RenderFormat], typer.Option(
        "--format", "-f", help="text (exact bytes; default when piped), pretty (default in a terminal), ids, json.")] = None,
    today: TodayOpt = None,
    no_generation_prompt: Annotated[bool, typer.Option(
        "--no-generation-prompt", help="Render without the trailing assistant header.")] = False,
    tokenizer: TokenizerOpt = None,
    add_special_tokens: Annotated[bool, typer.Option(
        "--add-special-tokens", help="Tokenize as a pipeline that adds special tokens again would (shows double BOS).")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes for a JSONL file.")] = 1,
    progress: Annotated[Optional[bool], typer.Option(
        "--progress/--no-progress", help="Progress bar on stderr for JSONL (default: when stderr is a terminal).")] = None,
    transformers: TransformersOpt = None,
    engine: EngineOpt = "transformers",
    engine_args: EngineArgsOpt = "",
    explain_backend: Annotated[bool, typer.Option(
        "--explain-backend", help="Say on stderr which Jinja backend rendered (minijinja or jinja2) and why.")] = False,
) -> None:
    """Render a conversation to its exact prompt.

    The bytes transformers' apply_chat_template builds (or, with --engine, the serving engine: the
    input is then read as that engine's request body); or token ids, as a server tokenizes them.
    """
    import itertools

    from ..rendering import backend
    from ..rendering.jsonl import RenderJob
    from ..rendering.conversation import iter_conversations, numbered_lines
    from ..formatting.render_output import write_single
    from ..rendering.limits import limits_from_env
    from ..rendering.renderer import parse_today
    from ..rendering.templates import resolve_template
    from ..tokens.tokenizer import has_double_bos

    fmt = (format.value if format else ("pretty" if sys.stdout.isatty() else "text"))
    tpl = resolve_template(template, version=version)
    job = RenderJob(tpl, today=parse_today(today), with_ids=fmt in ("ids", "json"),
                    generation_prompt=False if no_generation_prompt else None, limits=limits_from_env(),
                    tokenizer=user_tokenizer(tokenizer), add_special_tokens=add_special_tokens,
                    engine=engine_from(engine, engine_args, transformers))
    _warn_portability(job)
    if conversation.endswith((".jsonl", ".ndjson")):
        _render_many(conversation, numbered_lines(conversation), job, fmt, jobs,
                     sys.stderr.isatty() if progress is None else progress)
        if explain_backend:  # per line with --format json; here, the choice for the template
            _explain(backend.LAST.get())
        return
    convs = iter_conversations(conversation, checks=job.checks)
    first = next(convs, None)
    if first is None:
        raise LlamatplError(f"{conversation}: holds no conversation")
    second = next(convs, None)
    if second is not None:  # several JSON values on stdin: one line each, as for JSONL
        _render_many(conversation, itertools.chain([first, second], convs), job, fmt, jobs,
                     sys.stderr.isatty() if progress is None else progress)
        return
    rendered = job.render(first)
    write_single(rendered, tpl, fmt, sys.stdout)
    sys.stdout.flush()
    if explain_backend:
        _explain(rendered.backend)
    say_assumed_version(tpl, fmt)
    if rendered.ids is not None and has_double_bos(rendered.ids):
        sys.stderr.write("warning: the ids start with <|begin_of_text|> twice: the template writes BOS and the "
                         "tokenizer adds another; tokenize rendered prompts with add_special_tokens=False\n")


def _explain(choice: Choice | None) -> None:
    if choice is not None:
        sys.stderr.write(f"backend: {choice.backend}: {choice.reason}\n")


def _warn_portability(job: RenderJob) -> None:
    """Where the engine's Jinja reads this template differently from jinja2: one line each, on stderr."""
    if job.engine is None or job.engine.name != "llama.cpp":
        return
    from ..engines.llamacpp import portability_warnings

    for line, construct, message in portability_warnings(job.template.text):
        sys.stderr.write(f"warning: {job.template.name} line {line}: {construct}: {message} "
                         f"({job.engine.name})\n")


def _render_many(path: str, conversations: Iterable[Item], job: RenderJob, fmt: str, jobs: int,
                 show_progress: bool) -> None:
    """JSONL out: one JSON value a line, streamed, with an optional progress bar on stderr."""
    from ..rendering.jsonl import render_lines

    if not show_progress:
        for line in render_lines(conversations, job, fmt, jobs=jobs):
            sys.stdout.write(line + "\n")
        return
    from .app import progress_bar

    with progress_bar(path, "rendering") as advance:
        for line in render_lines(conversations, job, fmt, jobs=jobs, progress=advance):
            sys.stdout.write(line + "\n")
