"""``llamatpl prepare``: a JSONL file of conversations to training rows (ids, assistant mask, labels)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import EXIT_FINDINGS, EXIT_OK
from .app import (EngineArgsOpt, EngineOpt, TemplateOpt, TodayOpt, TokenizerOpt, TransformersOpt, VersionOpt, app,
                  engine_from, use_fast_backend, user_tokenizer)


class OnError(str, Enum):
    stop = "stop"
    skip = "skip"


@app.command()
def prepare(
    data: Annotated[str, typer.Argument(help="Conversations, one JSON object a line (JSONL); - reads stdin.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="OUT.parquet (needs llamatpl[train]) or OUT.jsonl.")],
    template: TemplateOpt = None,
    version: VersionOpt = None,
    today: TodayOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Encoding processes: this one and N-1 workers (use the number of cores).")] = 1,
    on_error: Annotated[OnError, typer.Option(
        "--on-error", help="stop: at the first bad line, writing nothing; skip: write every good row.")] = OnError.stop,
    errors: Annotated[Optional[Path], typer.Option(
        "--errors", help="With --on-error skip: record each bad line here (JSONL: line, where, error).")] = None,
    progress: Annotated[Optional[bool], typer.Option(
        "--progress/--no-progress", help="Progress bar on stderr (default: when stderr is a terminal).")] = None,
    transformers: TransformersOpt = None,
    no_generation_prompt: Annotated[bool, typer.Option(
        "--no-generation-prompt", help="No trailing assistant header after the last turn (a training row "
                                       "that ends with the assistant's answer).")] = False,
    engine: EngineOpt = "transformers",
    engine_args: EngineArgsOpt = "",
    tokenizer: TokenizerOpt = None,
) -> None:
    """Write training rows: input_ids, assistant_mask, labels and line, one row per conversation.

    The mask is read off the rendered template (any template): 1 on the assistant's content, tool
    calls and closing <|eot_id|>/<|eom_id|>, 0 elsewhere. Exit 0 all rows written, 1 bad lines
    skipped, 2 bad input (with --on-error stop, the first bad line; nothing is written).
    """
    from ..formatting.train_output import failure_line, summary_line
    from ..rendering.limits import limits_from_env
    from ..rendering.renderer import TRANSFORMERS, parse_today
    from ..rendering.templates import resolve_template
    from ..train.files import Failure, Summary, prepare_file
    from ..train.masks import MaskJob
    from ..train.renderers import settle_backend
    from ..train.sinks import RowSink

    tpl = resolve_template(template, version=version)
    chosen = engine_from(engine, engine_args, transformers) if engine != "transformers" or engine_args else None
    use_fast_backend()  # engine_from does it too; transformers' own path renders without an engine here
    job = MaskJob(tpl, engine=chosen, today=parse_today(today), limits=limits_from_env(),
                  transformers=transformers or TRANSFORMERS, generation_prompt=False if no_generation_prompt else None,
                  user_tokenizer=user_tokenizer(tokenizer))
    job.check_tokenizer()
    RowSink(output, inputs=() if data == "-" else (Path(data),))  # a wrong suffix, path or missing pyarrow: a usage error before any work
    settle_backend(job)  # the backend check once, here, before any worker is forked

    def report(failure: Failure) -> None:
        sys.stderr.write(failure_line(failure) + "\n")

    def run(advance: Callable[[int], None] | None = None) -> Summary:
        return prepare_file(data, output, job, jobs=jobs, on_error=on_error.value, errors=errors, report=report,
                            progress=advance)

    if progress if progress is not None else sys.stderr.isatty():
        from .app import progress_bar

        with progress_bar(data, "preparing") as advance:
            summary = run(advance)
    else:
        summary = run()
    sys.stderr.write(summary_line(summary, output) + "\n")
    raise typer.Exit(EXIT_FINDINGS if summary.failures else EXIT_OK)
