"""The points where Meta's own sources disagree, each source's answer, and which one a failure rests on.

Meta's sources are the official templates (``template``), the prompt-format documents shipped in
llama-models (``doc``) and llama-models' ``ChatFormat``/``ToolUtils`` (``reference``); for Llama
3.0 the reference is meta-llama/llama3's ``ChatFormat``. ``docs/reference.md`` cites file and line
for each answer. ``--dialect official,tools-placement=doc`` picks a source per point
(:func:`resolve_dialect`); :func:`explain` names the points a failing comparison rests on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ...errors import UsageError
from .dialects import PYTHONIC_PREAMBLE, Dialect, get_dialect

SOURCES = ("template", "doc", "reference")
_TEXT = ("3.1", "3.2", "3.2-vision")


@dataclass(frozen=True)
class Answer:
    """One source's answer to a disputed point, for the versions it speaks about."""

    source: str
    says: str  # what this source does, as a sentence fragment ("puts functions in the system message")
    values: tuple[tuple[str, Any], ...]  # the Dialect fields that answer means
    versions: tuple[str, ...] = _TEXT


@dataclass(frozen=True)
class Point:
    name: str
    answers: tuple[Answer, ...]

    def answers_for(self, version: str) -> list[Answer]:
        return [a for a in self.answers if version in a.versions]

    def disputed(self, version: str) -> bool:
        return len({a.values for a in self.answers_for(version)}) > 1


def _a(source: str, says: str, versions: tuple[str, ...] = _TEXT, **values: Any) -> Answer:
    return Answer(source, says, tuple(sorted(values.items())), versions)


POINTS: tuple[Point, ...] = (
    Point("content-trim", (
        _a("template", "trims every message's content", ("3.1", "3.2"), content_trim="all"),
        _a("template", "trims only the system message and the one carrying the tools", ("3.2-vision",), content_trim="system"),
        _a("reference", "keeps content verbatim", content_trim="verbatim"),
    )),
    Point("date-lines", (
        _a("template", "writes the knowledge-date lines in every system message", date_lines=True),
        _a("doc", "shows a plain chat without the knowledge-date lines", date_lines=False),
    )),
    Point("tools-placement", (
        _a("template", "puts functions in the first user message", tools_default="user"),
        _a("doc", "puts functions in a user message", ("3.1",), tools_default="user"),
        _a("doc", "puts functions in the system message", ("3.2", "3.2-vision"), tools_default="system"),
    )),
    Point("tool-definitions", (
        _a("template", "writes each function definition on its own", tool_definitions="each"),
        _a("doc", "writes the functions as one JSON array", ("3.2", "3.2-vision"), tool_definitions="array"),
    )),
    Point("tool-preamble", (
        _a("template", "introduces functions with the JSON-call instructions", ("3.2", "3.2-vision"),
           system_tool_preamble=Dialect.system_tool_preamble, user_tool_preamble=Dialect.user_tool_preamble),
        _a("doc", "introduces functions with the pythonic-call instructions", ("3.2", "3.2-vision"),
           system_tool_preamble=PYTHONIC_PREAMBLE, user_tool_preamble=PYTHONIC_PREAMBLE),
    )),
    Point("tool-call-format", (
        _a("template", 'writes a call as {"name": ..., "parameters": ...}', tool_call_format="hf"),
        _a("doc", "writes a call as <function=NAME>{...}</function>", ("3.1",), tool_call_format="function_tag"),
        _a("doc", "writes calls as a pythonic list [f(a=1)]", ("3.2", "3.2-vision"), tool_call_format="pythonic"),
        _a("reference", 'writes a call as {"type": "function", "name": ..., "parameters": ...}',
           tool_call_format="meta"),
    )),
    Point("call-separator", (
        _a("reference", "writes several calls back to back", call_separator=""),
    )),
    Point("custom-call-end", (
        _a("template", "ends a custom call in <|eot_id|> (without built-in tools)", ("3.1",), custom_call_end="eot"),
        _a("doc", "ends a JSON custom call in <|eom_id|> under Environment: ipython", ("3.1",), custom_call_end="eom"),
        _a("reference", "ends a custom call in <|eot_id|> unless it stopped at end of message", ("3.1",),
           custom_call_end="eot"),
    )),
    Point("python-tag", (
        _a("template", "writes <|python_tag|> before every built-in call", ("3.1",), python_tag="builtins"),
        _a("doc", "writes <|python_tag|> before every built-in call", ("3.1",), python_tag="builtins"),
        _a("reference", "writes <|python_tag|> only before code", ("3.1",), python_tag="code_interpreter"),
    )),
    Point("code-interpreter", (
        _a("template", 'writes code as code_interpreter.call(code="...")', ("3.1",), code_interpreter="call"),
        _a("doc", "writes code as the code itself", ("3.1",), code_interpreter="code"),
        _a("reference", "writes code as the code itself", ("3.1",), code_interpreter="code"),
    )),
    Point("string-tool-output", (
        _a("template", "writes a string tool result as given (its else branch)", string_tool_output="verbatim"),
        _a("doc", 'quotes a string tool result ("25 C")', ("3.2", "3.2-vision"), string_tool_output="json"),
        _a("reference", "writes a string tool result as given", string_tool_output="verbatim"),
    )),
    # Not disputed among Meta's sources, but where llamatpl's tuned templates depart from all of them.
    Point("default-system", (_a("template", "adds no system prompt of its own", default_system_with_tools=""),)),
)
_BY_NAME = {p.name: p for p in POINTS}
_FIELDS = {p.name: sorted({k for a in p.answers for k, _ in a.values}) for p in POINTS}
_FIELDS["tool-preamble"] = ["system_tool_preamble", "user_tool_preamble"]


@dataclass(frozen=True)
class Reason:
    """A point a failure rests on, and the answer that would have made it pass."""

    point: str
    source: str  # a Meta source, or the name of the dialect the template declares
    says: str
    version: str = ""

    @property
    def disputed(self) -> bool:
        return self.source in SOURCES

    def __str__(self) -> str:
        if self.disputed:
            source = "reference code" if self.source == "reference" else self.source
            return f"disputed ({self.point}): Meta's {self.version} {source} {self.says}"
        return f"departure ({self.point}): {self.source} {self.says}"


def resolve_dialect(spec: str | Dialect | None, version: str, default: str = "official") -> Dialect:
    """``NAME``, ``NAME,point=source,...`` or ``point=source,...`` (on ``default``) as a Dialect."""
    if isinstance(spec, Dialect):
        return spec
    parts = [p.strip() for p in (spec or default).split(",") if p.strip()]
    base = get_dialect(parts.pop(0) if parts and "=" not in parts[0] else default)
    chosen = []
    for part in parts:
        point, _, source = part.partition("=")
        if point not in _BY_NAME or source not in SOURCES:
            raise UsageError(f"--dialect: {part!r} is not POINT=SOURCE (points: {', '.join(_BY_NAME)}; "
                             f"sources: {', '.join(SOURCES)})")
        answer = next((a for a in _BY_NAME[point].answers_for(version) if a.source == source), None)
        if answer is None:
            raise UsageError(f"--dialect: Meta's {source} says nothing about {point} for Llama {version}")
        base = replace(base, **dict(answer.values))
        chosen.append(part)
    return replace(base, name=",".join([base.name, *chosen])) if chosen else base


def _candidates(version: str, declared: Dialect) -> list[tuple[Reason, dict[str, Any]]]:
    out = []
    for point in POINTS:
        for answer in point.answers_for(version):
            out.append((Reason(point.name, answer.source, answer.says, version), dict(answer.values)))
        own = {f: getattr(declared, f) for f in _FIELDS[point.name]}
        out.append((Reason(point.name, declared.name, _describe(point.name, own), version), own))
    return out


def _describe(point: str, values: dict[str, Any]) -> str:
    if point == "default-system" and values.get("default_system_with_tools"):
        return "adds a default system prompt when tools are given"
    if point == "tool-preamble":
        return "words the function instructions its own way"
    same = [a.says for a in _BY_NAME[point].answers if dict(a.values) == values]
    if same:
        return same[0]
    return "uses " + ", ".join(f"{k}={v!r}" for k, v in values.items())


def explain(first_difference: Callable[[Dialect], int | None], version: str, dialect: Dialect,
            declared: Dialect) -> tuple[Reason, ...]:
    """The fewest answers that make the comparison pass; () when none do.

    ``first_difference(d)`` compares the render with the reference under ``d`` (None: equal). Answers
    are taken greedily (each one must move the first difference later); when that stalls, all of the
    template's declared dialect's answers are tried together (departures that only pass jointly).
    """
    candidates = _candidates(version, declared)
    chosen = _greedy(first_difference, dialect, candidates)
    if chosen is None:
        own = [(r, v) for r, v in candidates if r.source == declared.name
               and any(getattr(dialect, k) != x for k, x in v.items())]
        chosen = [r for r, _ in own] if own and first_difference(_apply(dialect, own)) is None else None
    if chosen is None:
        return ()
    answers = {(r.point, r.source): v for r, v in candidates}
    kept = list(chosen)
    for reason in chosen:  # drop answers the others make unnecessary
        rest = [r for r in kept if r != reason]
        if first_difference(_apply(dialect, [(r, answers[(r.point, r.source)]) for r in rest])) is None:
            kept = rest
    return tuple(kept)


def _apply(dialect: Dialect, answers: list[tuple[Reason, dict[str, Any]]]) -> Dialect:
    for _, values in answers:
        dialect = replace(dialect, **values)
    return dialect


def _greedy(first_difference: Callable[[Dialect], int | None], dialect: Dialect,
            candidates: list[tuple[Reason, dict[str, Any]]]) -> list[Reason] | None:
    current = dialect
    chosen: list[Reason] = []
    at = first_difference(current)
    for _ in range(len(POINTS)):
        if at is None:
            return chosen
        best: tuple[Reason, Dialect, int | None] | None = None
        for reason, values in candidates:
            if all(getattr(current, k) == v for k, v in values.items()):
                continue
            trial = replace(current, **values)
            trial_at = first_difference(trial)
            if trial_at is None:  # passes: take it
                best = (reason, trial, None)
                break
            if trial_at > (at if best is None or best[2] is None else best[2]):  # the furthest step wins
                best = (reason, trial, trial_at)
        if best is None:
            return None
        chosen.append(best[0])
        current, at = best[1], best[2]
    return chosen if at is None else None
