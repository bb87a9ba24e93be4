"""The typer app, the options several commands share, and the helpers they share."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .._version import __version__

if TYPE_CHECKING:
    from ..engines.base import Engine
    from ..rendering.templates import ChatTemplate
    from ..tokens.tokenizer import UserTokenizer

app = typer.Typer(
    name="llamatpl",
    help="Render, diff, lint and verify Llama 3.x chat templates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

TemplateOpt = Annotated[Optional[str], typer.Option(
    "--template", "-t", help="official:3.1, tuned:3.2, a .jinja file, tokenizer_config.json, model folder or .gguf.")]
VersionOpt = Annotated[Optional[str], typer.Option(
    "--version", "-V", help="Llama version (3.0, 3.1, 3.2, 3.2-vision); alone it means the official template.")]
TodayOpt = Annotated[Optional[str], typer.Option(
    "--today", help="Pin strftime_now to this date (YYYY-MM-DD) for reproducible renders.")]
TokenizerOpt = Annotated[Optional[str], typer.Option(
    "--tokenizer", help="Your own tokenizer.json or local model folder (through transformers) instead of Meta's.")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", "-e", help="The serving engine whose prompt to build: transformers, vllm, llama.cpp or tgi.")]
EngineArgsOpt = Annotated[str, typer.Option(
    "--engine-args", help="The engine's own server flags that change the prompt, quoted as one string.")]
TransformersOpt = Annotated[Optional[str], typer.Option(
    "--transformers", help="The transformers release whose apply_chat_template to match (null keys: 5.23+; "
                           "default 5.23, or the one the engine pins).")]


class RenderFormat(str, Enum):
    text = "text"
    pretty = "pretty"
    ids = "ids"
    json = "json"


class TextOrJson(str, Enum):
    text = "text"
    json = "json"


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"llamatpl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Show llamatpl's version and exit.")] = False,
) -> None:
    """Render, diff, lint and verify Llama 3.x chat templates."""


def engine_from(name: str, engine_args: str, transformers: str | None, *, option: str = "--engine") -> Engine:
    """The engine named by ``option``, set up with --engine-args (usage errors name the option).

    Every command that renders asks for its engine here, so this is also where the fast backend is
    switched on, with its verdicts kept on disk (``$XDG_CACHE_HOME/llamatpl/backend``)."""
    from ..engines import get_engine
    from ..errors import UsageError

    use_fast_backend()
    try:
        return get_engine(name, engine_args=engine_args, transformers=transformers)
    except UsageError as exc:
        if option != "--engine" and exc.message.startswith("--engine: "):
            raise UsageError(option + exc.message.removeprefix("--engine")) from None
        raise


def use_fast_backend() -> None:
    """The differential check on, verdicts on disk; ``LLAMATPL_BACKEND=jinja2`` (or ``minijinja``)
    forces one backend for the whole process (benchmarks, bisecting a difference)."""
    import os

    from ..errors import UsageError
    from ..probes import install_backend_check
    from ..rendering import backend

    install_backend_check()
    backend.use_disk_cache(backend.default_cache_dir())
    mode = os.environ.get("LLAMATPL_BACKEND", "auto")
    if mode not in backend.MODES:
        raise UsageError(f"LLAMATPL_BACKEND: {mode!r} is not one of {', '.join(backend.MODES)}")
    backend.set_process_mode(mode)


def user_tokenizer(path: str | None) -> UserTokenizer | None:
    from ..tokens.tokenizer import UserTokenizer

    return UserTokenizer(path) if path else None


def say_assumed_version(tpl: ChatTemplate, fmt: str) -> None:
    """When the version was read off the template's text, say so (on stderr: stdout stays exact)."""
    if fmt == "pretty":
        return
    found = tpl.format
    if not found.is_llama3:
        sys.stderr.write(f"{tpl.name}: format {found.describe()}; rendered as written\n")
    elif tpl.version_reason.startswith("detected"):
        sys.stderr.write(f"{tpl.name}: assuming Llama {tpl.version} ({tpl.version_reason}); "
                         "pass --version to choose\n")


@contextmanager
def progress_bar(path: str, label: str) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on stderr over the lines of ``path``; yields ``advance(n)``."""
    from rich.console import Console
    from rich.progress import Progress

    total = count_lines(path)
    # rich would otherwise capture sys.stdout and print the output lines to the terminal (stderr)
    with Progress(console=Console(file=sys.stderr), transient=True, redirect_stdout=False,
                  redirect_stderr=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def count_lines(path: str) -> int | None:
    """The number of lines of a file (None for stdin), read in blocks."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
