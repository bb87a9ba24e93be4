"""What a rule sees: one template's source, AST, version, and its probe renders (cached, sandboxed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import jinja2
from jinja2 import meta, nodes

from ..rendering.environment import ENVIRONMENT, parse_template
from ..errors import LlamatplError, RenderError
from ..rendering.limits import Limits
from ..engines.base import Engine
from ..probes.run import ProbeRun, ProbeSet
from ..probes.shapes import CAPS_PROBES
from ..tokens.tokenizer import special_tokens
from .finding import Finding, RuleIdentity

N = TypeVar("N", bound=nodes.Node)

RENDER_INPUTS = {"messages", "tools", "documents", "add_generation_prompt", "bos_token", "eos_token", "unk_token",
                 "pad_token", "sep_token", "cls_token", "mask_token"}
LINT_LIMITS = Limits(seconds=2.0)  # probes are tiny: a legitimate template renders them in milliseconds

# Which probes a version supports (others would test features the version does not have).
_BASE = ("plain", "system", "multi-turn", "no-generation-prompt", "whitespace", "continue-final", "null-content")
_TOOLS = ("tool-call", "tool-call-in-system", "string-arguments", "json-text-output", "two-calls", "zero-calls",
          "empty-tools", "assistant-first")
PROBES_FOR = {
    "3.0": (*_BASE, "list-content"),
    "3.1": (*_BASE, *_TOOLS, "list-content", "builtin-call", "custom-call-with-builtins"),
    "3.2": (*_BASE, *_TOOLS, "list-content"),
    "3.2-vision": (*_BASE, *_TOOLS, "image"),
}
@dataclass
class LintContext:
    """One template under lint. ``line_map`` turns template lines into lines of the file on disk."""

    path: str
    source: str
    version: str
    line_map: Callable[[int], tuple[int, str]] | None = None
    engine: Engine | None = None  # probes go through this serving engine's request handling
    baseline: ProbeSet | None = None  # transformers' probe renders, shared by the engines' contexts
    tokenizer_tokens: frozenset[str] | None = None  # the model's own tokenizer's special tokens, when given

    @cached_property
    def _probes(self) -> ProbeSet:
        if self.engine is None or self.engine.name == "transformers":
            return self.baseline or ProbeSet(self.source, self.version, limits=LINT_LIMITS)
        return ProbeSet(self.source, self.version, limits=LINT_LIMITS, engine=self.engine, baseline=self.baseline)

    @cached_property
    def parsed(self) -> nodes.Template | jinja2.TemplateSyntaxError:
        try:
            return parse_template(self.source)
        except jinja2.TemplateSyntaxError as exc:
            return exc

    @property
    def ast(self) -> nodes.Template | None:
        return self.parsed if isinstance(self.parsed, nodes.Template) else None

    @cached_property
    def compile_error(self) -> LlamatplError | None:
        """Why the template cannot be rendered at all (bad syntax, an unknown filter), if it cannot."""
        from ..rendering.environment import compile_template

        try:
            compile_template(self.source)
        except LlamatplError as exc:
            return exc
        return None

    @cached_property
    def special_tokens(self) -> dict[str, int]:
        return special_tokens(self.version)

    @cached_property
    def undeclared(self) -> set[str]:
        """Names read but never set by the template (Jinja's analysis; a plain one when that fails)."""
        if self.ast is None:
            return set()
        try:
            return set(meta.find_undeclared_variables(self.ast))
        except jinja2.TemplateError:  # e.g. an unknown filter stops Jinja's code generator
            names = list(self.find(nodes.Name))
            return {n.name for n in names if n.ctx == "load"} - {n.name for n in names if n.ctx != "load"}

    @cached_property
    def free_names(self) -> set[str]:
        """Undeclared names that are neither render inputs nor globals of transformers' environment."""
        return self.undeclared - RENDER_INPUTS - set(ENVIRONMENT.globals)

    def find(self, kind: type[N]) -> Iterator[N]:
        if self.ast is not None:
            yield from self.ast.find_all(kind)

    def find_unsafe(self) -> Iterator[nodes.Node]:
        """Nodes that reach for private attributes or other templates (LT005's static part)."""
        for node in self.find(nodes.Getattr):
            if node.attr.startswith("_"):
                yield node
        for item in self.find(nodes.Getitem):
            if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str) and item.arg.value.startswith("_"):
                yield item
        for kind in (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends):
            yield from self.find(kind)

    def probe(self, name: str) -> ProbeRun | None:
        """The probe rendered through this template, or ``None`` if the version lacks the feature
        or the template does not compile."""
        if (name not in PROBES_FOR[self.version] and name not in CAPS_PROBES) or self.compile_error is not None:
            return None
        run = self._probes.get(name)
        return None if run.rejected else run  # a request the engine refuses: its users never meet it

    def probes(self) -> Iterator[ProbeRun]:
        for name in PROBES_FOR[self.version]:
            run = self.probe(name)
            if run is not None:
                yield run

    def rendered(self, name: str) -> ProbeRun | None:
        """The probe only when it rendered without error."""
        run = self.probe(name)
        return run if run is not None and run.ok else None

    def literal_line(self, text: str, default: int = 1) -> int:
        """The first template line whose source contains ``text``."""
        for number, line in enumerate(self.source.split("\n"), start=1):
            if text in line:
                return number
        return default

    def error_line(self, error: RenderError | None) -> int:
        return (error.line if error is not None and error.line else None) or 1

    def finding(self, rule: RuleIdentity, line: int | None, message: str, column: int | None = None) -> Finding:
        line = line or 1
        if self.line_map is not None:
            line, where = self.line_map(line)
            message = f"{message}{where}"
            column = None
        return Finding(self.path, line, column, rule.code, rule.name, rule.severity, message)
