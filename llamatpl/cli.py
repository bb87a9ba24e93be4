"""The ``llamatpl`` command: each subcommand parses options, calls one library function, hands the
result to a formatter and returns an exit code. Library errors become one line on stderr, exit 2."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import __version__
from .errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, LlamatplError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .batch import Item, RenderJob
    from .templates import ChatTemplate
    from .tokens import UserTokenizer

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


class RenderFormat(str, Enum):
    text = "text"
    pretty = "pretty"
    ids = "ids"
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
    transformers: Annotated[str, typer.Option(
        "--transformers", help="The transformers release whose apply_chat_template to match (null keys: 5.23+).")] = "5.23",
) -> None:
    """Render a conversation to its exact prompt.

    The bytes transformers' apply_chat_template builds; or token ids, as a server tokenizes them.
    """
    import itertools

    from .batch import RenderJob
    from .conversation import iter_conversations, numbered_lines
    from .formatting.render_output import write_single
    from .limits import limits_from_env
    from .renderer import parse_today
    from .templates import resolve_template
    from .tokens import has_double_bos

    fmt = (format.value if format else ("pretty" if sys.stdout.isatty() else "text"))
    tpl = resolve_template(template, version=version)
    job = RenderJob(tpl, today=parse_today(today), with_ids=fmt in ("ids", "json"),
                    generation_prompt=False if no_generation_prompt else None, limits=limits_from_env(),
                    tokenizer=_user_tokenizer(tokenizer), add_special_tokens=add_special_tokens,
                    transformers=transformers)
    if conversation.endswith((".jsonl", ".ndjson")):
        _render_many(conversation, numbered_lines(conversation), job, fmt, jobs,
                     sys.stderr.isatty() if progress is None else progress)
        return
    convs = iter_conversations(conversation)
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
    _say_assumed_version(tpl, fmt)
    if rendered.ids is not None and has_double_bos(rendered.ids):
        sys.stderr.write("warning: the ids start with <|begin_of_text|> twice: the template writes BOS and the "
                         "tokenizer adds another; tokenize rendered prompts with add_special_tokens=False\n")


def _render_many(path: str, conversations: Iterable[Item], job: RenderJob, fmt: str, jobs: int,
                 show_progress: bool) -> None:
    """JSONL out: one JSON value a line, streamed, with an optional progress bar on stderr."""
    from .batch import render_lines

    if not show_progress:
        for line in render_lines(conversations, job, fmt, jobs=jobs):
            sys.stdout.write(line + "\n")
        return
    from rich.console import Console
    from rich.progress import Progress

    total = _count_lines(path)
    # rich would otherwise capture sys.stdout and print the output lines to the terminal (stderr)
    with Progress(console=Console(file=sys.stderr), transient=True, redirect_stdout=False,
                  redirect_stderr=False) as bar:
        task = bar.add_task("rendering", total=total)
        for line in render_lines(conversations, job, fmt, jobs=jobs, progress=lambda n: bar.advance(task, n)):
            sys.stdout.write(line + "\n")


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _user_tokenizer(path: str | None) -> UserTokenizer | None:
    from .tokens import UserTokenizer

    return UserTokenizer(path) if path else None


class VerifyFormat(str, Enum):
    text = "text"
    json = "json"


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
        "--dialect", help="Reference dialect (official, meta, tuned); default: what the template declares.")] = None,
    format: Annotated[VerifyFormat, typer.Option("--format", "-f")] = VerifyFormat.text,
    tokenizer: TokenizerOpt = None,
) -> None:
    """Verify a template token-exact against Meta's reference.

    Searches generated conversations for one that breaks the template, and shows the smallest.
    Exit 0 clean, 1 a counterexample, 2 bad input.
    """
    from .conversation import iter_conversations
    from .formatting.verify_output import write_json, write_text
    from .limits import limits_from_env
    from .search import verify_template
    from .templates import resolve_template

    tpl = resolve_template(template, version=version)
    convs = iter_conversations(conversation) if conversation else None
    report = verify_template(tpl, version=tpl.version, examples=examples, seed=seed, strict=strict,
                             dialect=dialect, conversations=convs, tokenizer=_user_tokenizer(tokenizer),
                             limits=limits_from_env())
    if format is VerifyFormat.json:
        write_json(report, sys.stdout)
    else:
        write_text(report, sys.stdout, seed=None if conversation else seed)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"


def _codes(values: list[str] | None) -> list[str]:
    return [c.strip() for v in values or [] for c in v.split(",") if c.strip()]


@app.command()
def lint(
    paths: Annotated[list[str], typer.Argument(help=".jinja files, tokenizer_config.json files, .gguf files or folders.")],
    version: VersionOpt = None,
    format: Annotated[LintFormat, typer.Option("--format", "-f", help="text, json, github or sarif.")] = LintFormat.text,
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Rule codes, prefixes or names (comma-separated).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule codes, prefixes or names to skip.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes.")] = 1,
) -> None:
    """Lint chat templates (files, tokenizer_config.json, folders).

    Exit 0 clean, 1 with errors or warnings, 2 on a usage error.
    """
    from .formatting.lint_output import FORMATTERS
    from .lint import find_config, lint_paths

    config = find_config()
    formatter = FORMATTERS[format.value](sys.stdout)
    findings = lint_paths(paths, version=version or config.version, select=_codes(select) or config.select,
                          ignore=[*config.ignore, *_codes(ignore)], jobs=jobs)
    failed = False
    formatter.start()
    for finding in findings:
        formatter.handle(finding)
        failed = failed or finding.fails
    formatter.stop()
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@app.command()
def rules(
    code: Annotated[Optional[str], typer.Argument(help="A rule code or name to explain.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print docs/rules.md.")] = False,
) -> None:
    """List the lint rules, or explain one."""
    from .lint import all_rules, get_rule
    from .lint.docs import explain, markdown as as_markdown, summary

    if markdown:
        sys.stdout.write(as_markdown())
    elif code:
        sys.stdout.write(explain(get_rule(code)))
    else:
        for rule in all_rules():
            sys.stdout.write(f"{rule.code}  {rule.name:<26} {rule.severity:<8} {summary(rule)}\n")


@app.command()
def caps(
    template: Annotated[str, typer.Argument(help="Template: official:3.1, a file, folder or .gguf.")],
    version: VersionOpt = None,
    format: Annotated[VerifyFormat, typer.Option("--format", "-f", help="text or json.")] = VerifyFormat.text,
) -> None:
    """Report what a template supports, found by probing."""
    import json

    from .caps import capabilities
    from .templates import resolve_template

    tpl = resolve_template(template, version=version)
    found = capabilities(tpl)
    if format is VerifyFormat.json:
        doc = {"template": tpl.name, "version": tpl.version,
               "capabilities": {c.name: {"supported": c.supported, "detail": c.detail} for c in found}}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    sys.stdout.write(f"{tpl.name} (Llama {tpl.version})\n")
    for c in found:
        sys.stdout.write(f"  {'yes' if c.supported else 'no ':<4} {c.name:<24} {c.detail}\n")


class DiffFormat(str, Enum):
    text = "text"
    pretty = "pretty"
    json = "json"


@app.command()
def diff(
    a: Annotated[str, typer.Argument(help="A version (3.0, 3.1, 3.2, 3.2-vision), template name or path.")],
    b: Annotated[str, typer.Argument(help="The other version, template name or path.")],
    conversation: Annotated[Optional[str], typer.Option(
        "--conversation", "-c", help="Compare on these conversations (JSON or JSONL) instead of the fixtures.")] = None,
    format: Annotated[Optional[DiffFormat], typer.Option(
        "--format", "-f", help="pretty (default in a terminal), text (default when piped) or json.")] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when the templates differ, like git diff.")] = False,
) -> None:
    """Show what changes between two versions or templates.

    By feature (found by probing), then per conversation by text and by token.
    """
    from .conversation import iter_conversations
    from .differ import diff as compare_templates
    from .formatting.diff_output import write_json, write_pretty, write_text

    convs = list(iter_conversations(conversation)) if conversation else None
    report = compare_templates(a, b, conversations=convs)
    fmt = format.value if format else ("pretty" if sys.stdout.isatty() else "text")
    {"json": write_json, "pretty": write_pretty, "text": write_text}[fmt](report, sys.stdout)
    raise typer.Exit(EXIT_FINDINGS if exit_code and report.differs else EXIT_OK)


@app.command()
def parse(
    source: Annotated[str, typer.Argument(help="A file holding model output, or - for stdin.")],
    version: Annotated[str, typer.Option("--version", "-V", help="Llama version whose call format to read.")] = "3.1",
) -> None:
    """Parse a model's tool-call output into OpenAI-style tool calls."""
    import json
    from pathlib import Path

    from .errors import InputError
    from .toolcall_parser import parse_tool_calls

    if source == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{source}: cannot read ({exc.__class__.__name__})") from None
    sys.stdout.write(json.dumps(parse_tool_calls(text, version=version), indent=2, ensure_ascii=False) + "\n")


def _say_assumed_version(tpl: ChatTemplate, fmt: str) -> None:
    """When the version was read off the template's text, say so (on stderr: stdout stays exact)."""
    if tpl.version_reason.startswith("detected") and fmt != "pretty":
        sys.stderr.write(f"{tpl.name}: assuming Llama {tpl.version} ({tpl.version_reason}); "
                         "pass --version to choose\n")


def main() -> None:
    """Entry point: run the app; turn library errors into one line on stderr and an exit code."""
    try:
        code = app(standalone_mode=False)
    except LlamatplError as exc:
        sys.stderr.write(f"{exc.message}\n")
        sys.exit(exc.exit_code)
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - the edge where nothing may escape as a traceback
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(EXIT_ERROR)
        if os.environ.get("LLAMATPL_DEBUG"):
            raise
        sys.stderr.write(f"llamatpl: internal error: {type(exc).__name__}: {exc} "
                         "(set LLAMATPL_DEBUG=1 for the traceback)\n")
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
