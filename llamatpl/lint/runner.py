"""Run the rules over templates: collect sources from paths, check each, filter, sort.

A path is a ``.jinja`` (or any text) file, a ``tokenizer_config.json`` / ``chat_template.json``
(each named template in it is linted; findings point at its ``chat_template`` line and name the
template line), a ``.gguf`` file, or a directory searched for all of those.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..engines import NAMES as ENGINE_NAMES
from ..engines import Engine, get_engine
from ..errors import LlamatplError
from ..tokens.vocabulary import tokens_beside, tokens_in_gguf_file, tokens_of_config
from ..versions import DEFAULT_VERSION, detect_format, normalize_version
from .context import LintContext
from .finding import Finding
from .catalog import select_rules
from .rule import Rule
from .suppress import Suppressions

_NAMES = ("tokenizer_config.json", "chat_template.json", "chat_template.jinja")
_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox"}


@dataclass(frozen=True)
class JsonLines:
    """Template lines of a template held in a JSON file: the ``chat_template`` key's line, and a note."""

    key_line: int
    label: str

    def __call__(self, line: int) -> tuple[int, str]:
        return self.key_line, self.label.format(line)


@dataclass(frozen=True)
class Source:
    """One template to lint, and how its lines map onto the file on disk."""

    path: str
    text: str
    line_map: Callable[[int], tuple[int, str]] | None = None
    #: the special tokens the model's own tokenizer defines, when a tokenizer comes with the template
    tokens: frozenset[str] | None = None


def lint_source(source: Source, rules: Iterable[type[Rule]], *, version: str | None = None,
                engines: Sequence[str | Engine] = ENGINE_NAMES) -> list[Finding]:
    """All findings of ``rules`` on one template, suppressions applied, in line order.

    The probes go through each of ``engines``' request handling; a finding carries the engines
    whose run produced it (the same rule, line and message), in the order given.
    """
    found_format = detect_format(source.text)
    v = normalize_version(version) if version else (found_format.version or DEFAULT_VERSION)
    # a template in another format (ChatML, Llama 4, Mistral, ...) gets only the format-independent rules
    rules = [r for r in rules if found_format.is_llama3 or not r.code.startswith("LL")]
    suppressions = Suppressions.parse(source.text)
    baseline = LintContext(source.path, source.text, v, source.line_map, tokenizer_tokens=source.tokens)
    tagged: dict[Finding, list[str]] = {}
    general = [r for r in rules if r.backend_of is None]
    chosen = [_engine(name) for name in engines]  # set up once: each engine parses its server flags
    for engine in chosen:
        ctx = baseline if engine.name == "transformers" else LintContext(
            source.path, source.text, v, source.line_map, engine=engine, baseline=baseline._probes,
            tokenizer_tokens=source.tokens)
        own = [r for r in rules if r.backend_of == engine.name]
        for finding in _check(ctx, general, v, suppressions) | _check(baseline, own, v, suppressions):
            tagged.setdefault(finding, []).append(engine.name)
    untraced = {engine.name for engine in chosen if engine.backend != "jinja2"}
    findings = [f._replace(engines=tuple(names)) for f, names in _merge_untraced(tagged, untraced).items()]
    return sorted(findings, key=lambda f: (f.line, f.code, f.message))


def _merge_untraced(tagged: dict[Finding, list[str]], untraced: set[str]) -> dict[Finding, list[str]]:
    """A backend that cannot trace (minijinja) puts its findings on line 1; where the same finding
    (code and message) stands on a real line for other engines, it is the same one: merge the tags."""
    merged = dict(tagged)
    for finding, names in tagged.items():
        if finding.line != 1 or not set(names) <= untraced:
            continue
        twin = next((f for f in merged if f is not finding and f.line != 1 and f.code == finding.code
                     and f.message == finding.message and f.path == finding.path), None)
        if twin is not None:
            merged[twin] = [*merged[twin], *(n for n in names if n not in merged[twin])]
            del merged[finding]
    return merged


def _check(ctx: LintContext, rules: list[type[Rule]], v: str, suppressions: Suppressions) -> set[Finding]:
    findings: list[Finding] = []
    for rule_class in rules:
        if v not in rule_class.versions or (rule_class.needs_parse and ctx.ast is None):
            continue
        rule = rule_class()
        try:
            found = list(rule.check(ctx))
        except Exception as exc:  # noqa: BLE001 - one rule's bug must not hide the others' findings
            found = [ctx.finding(rule, 1, f"internal error in rule: {type(exc).__name__}: {exc}")]
        findings.extend(f for f in found if _template_line_allowed(f, ctx, suppressions))
    return set(findings)


def _template_line_allowed(finding: Finding, ctx: LintContext, suppressions: Suppressions) -> bool:
    return suppressions.allows(finding) if ctx.line_map is None else suppressions.allows(finding._replace(line=0))


def lint_paths(paths: Iterable[str], *, version: str | None = None, select: Iterable[str] = (),
               ignore: Iterable[str] = (), jobs: int = 1,
               engines: Sequence[str | Engine] = ENGINE_NAMES) -> Iterator[Finding]:
    """Lint every template found under ``paths``; yields findings file by file, in order.

    ``jobs`` > 1 lints templates in that many worker processes. ``engines`` are the serving
    engines whose users' findings to report (each finding is tagged with those it affects).
    """
    rules = select_rules(select, ignore)
    chosen = tuple(_engine(e) for e in engines)  # unknown names are a usage error, up front
    if jobs <= 1:
        for source in collect(paths):
            yield from lint_source(source, rules, version=version, engines=chosen)
        return
    import multiprocessing

    sources = list(collect(paths))
    codes = tuple(r.code for r in rules)
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with (context or multiprocessing).Pool(jobs) as pool:
        for found in pool.imap(_lint_one, [(s, codes, version, chosen) for s in sources], chunksize=4):
            yield from found


def _engine(name_or_engine: str | Engine) -> Engine:
    """An engine set up with its server flags is used as it is; a name gets the engine's defaults."""
    return name_or_engine if isinstance(name_or_engine, Engine) else get_engine(name_or_engine)


def _lint_one(task: tuple[Source, tuple[str, ...], str | None, tuple[Engine, ...]]) -> list[Finding]:
    source, codes, version, engines = task
    return lint_source(source, select_rules(codes), version=version, engines=engines)


def collect(paths: Iterable[str]) -> Iterator[Source]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(_walk(path)):
                yield from _sources(child)
        elif path.is_file():
            yield from _sources(path)
        else:
            raise LlamatplError(f"{raw}: no such file or directory")


def _walk(folder: Path) -> Iterator[Path]:
    for child in folder.iterdir():
        if child.is_dir():
            if child.name not in _SKIP_DIRS and not child.name.startswith("."):
                yield from _walk(child)
        elif child.suffix == ".jinja" or child.name in _NAMES or child.suffix == ".gguf":
            yield child


def _sources(path: Path) -> Iterator[Source]:
    shown = str(path)
    if path.suffix == ".json":
        yield from _json_sources(path)
    elif path.suffix == ".gguf":
        from ..rendering.templates import resolve_template

        tpl = resolve_template(shown)
        tokens = tokens_in_gguf_file(path)
        yield Source(shown, tpl.text, tokens=tokens)
        for name, text in tpl.variants.items():
            if text != tpl.text:
                yield Source(f"{shown}:{name}", text, tokens=tokens)
    else:
        try:
            yield Source(shown, path.read_bytes().decode("utf-8"), tokens=tokens_beside(path))
        except UnicodeDecodeError:
            raise LlamatplError(f"{shown}: not UTF-8 text") from None


def _json_sources(path: Path) -> Iterator[Source]:
    raw = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LlamatplError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    value = config.get("chat_template") if isinstance(config, dict) else None
    if value is None:
        return  # a tokenizer_config.json without a template has nothing to lint
    tokens = tokens_beside(path) if path.name == "chat_template.json" else None
    if isinstance(config, dict) and (config.get("added_tokens_decoder") or config.get("added_tokens")):
        tokens = frozenset(tokens_of_config(config) | (tokens or set()))
    key_line = raw.count("\n", 0, max(raw.find('"chat_template"'), 0)) + 1
    named = {"": value} if isinstance(value, str) else {
        item.get("name", str(i)): item.get("template", "") for i, item in enumerate(value) if isinstance(item, dict)}
    for name, text in named.items():
        label = f" (template {name!r} line {{}})" if name else " (template line {})"
        yield Source(str(path), text, JsonLines(key_line, label), tokens=tokens)
