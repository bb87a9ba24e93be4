"""``llamatpl lint`` and ``llamatpl rules``: findings over templates, and the rules' documentation."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import EXIT_FINDINGS, EXIT_OK
from .app import EngineArgsOpt, VersionOpt, app, engine_from


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
    engine: Annotated[Optional[list[str]], typer.Option(
        "--engine", "-e", help="Report only what users of this serving engine meet (repeatable; default: "
                               "every engine, each finding tagged with the engines it affects).")] = None,
    engine_args: EngineArgsOpt = "",
) -> None:
    """Lint chat templates (files, tokenizer_config.json, folders).

    Exit 0 clean, 1 with errors or warnings, 2 on a usage error.
    """
    from ..formatting.lint_output import FORMATTERS
    from ..lint import find_config, lint_paths

    config = find_config()
    formatter = FORMATTERS[format.value](sys.stdout)
    from ..engines import NAMES
    from ..errors import UsageError

    names = _codes(engine) or list(NAMES)
    served = [n for n in names if n != "transformers"]
    if engine_args and len(served) != 1:
        raise UsageError("--engine-args: name the one serving engine they belong to with --engine")
    chosen = [engine_from(n, engine_args if n != "transformers" else "", None) for n in names]
    findings = lint_paths(paths, version=version or config.version, select=_codes(select) or config.select,
                          ignore=[*config.ignore, *_codes(ignore)], jobs=jobs, engines=chosen)
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
    from ..lint import all_rules, get_rule
    from ..lint.docs import explain, markdown as as_markdown, summary

    if markdown:
        sys.stdout.write(as_markdown())
    elif code:
        sys.stdout.write(explain(get_rule(code)))
    else:
        for rule in all_rules():
            sys.stdout.write(f"{rule.code}  {rule.name:<26} {rule.severity:<8} {summary(rule)}\n")
