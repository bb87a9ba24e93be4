"""Lint formatters: text, json, github (workflow commands) and sarif (2.1.0 for code scanning).

Each is a class with ``start()``, ``handle(finding)`` and ``stop()``; the checker never prints.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..engines import NAMES as ALL_ENGINES
from ..lint.finding import Finding


class Formatter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def start(self) -> None:
        pass

    def handle(self, finding: Finding) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass


def engine_suffix(finding: Finding) -> str:
    """`` (vllm, llama.cpp)``: the engines a finding affects, when that is not every engine."""
    if not finding.engines or set(finding.engines) >= set(ALL_ENGINES):
        return ""
    return f" ({', '.join(finding.engines)})"


class TextFormatter(Formatter):
    """``path:line:col: CODE message [name]``, coloured only on a terminal."""

    _COLOURS = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}

    def __init__(self, out: TextIO, *, colour: bool | None = None) -> None:
        super().__init__(out)
        self.colour = out.isatty() if colour is None else colour
        self.by_severity: dict[str, int] = {}

    def handle(self, finding: Finding) -> None:
        self.count += 1
        self.by_severity[finding.severity] = self.by_severity.get(finding.severity, 0) + 1
        col = finding.column if finding.column is not None else 1
        code = finding.code
        if self.colour:
            code = f"{self._COLOURS[finding.severity]}{code}\x1b[0m"
        self.out.write(f"{finding.path}:{finding.line}:{col}: {code} {finding.message} [{finding.name}]"
                       f"{engine_suffix(finding)}\n")

    def stop(self) -> None:
        if self.count:
            parts = ", ".join(f"{n} {s}{'s' if n > 1 else ''}" for s, n in sorted(self.by_severity.items()))
            self.out.write(f"Found {self.count} finding{'s' if self.count > 1 else ''} ({parts}).\n")


class JsonFormatter(Formatter):
    """A JSON list of findings."""

    def start(self) -> None:
        self.items: list[dict[str, Any]] = []

    def handle(self, finding: Finding) -> None:
        item = finding._asdict()
        item["engines"] = list(finding.engines)
        self.items.append(item)

    def stop(self) -> None:
        self.out.write(json.dumps(self.items, indent=2, ensure_ascii=False) + "\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GithubFormatter(Formatter):
    """GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=T::MESSAGE``."""

    _LEVEL = {"error": "error", "warning": "warning", "info": "notice"}

    def handle(self, finding: Finding) -> None:
        props = [f"file={_escape_property(finding.path)}", f"line={finding.line}"]
        if finding.column is not None:
            props.append(f"col={finding.column}")
        props.append(f"title={_escape_property(f'{finding.code} {finding.name}')}")
        message = finding.message + engine_suffix(finding)
        self.out.write(f"::{self._LEVEL[finding.severity]} {','.join(props)}::{_escape_data(message)}\n")


class SarifFormatter(Formatter):
    """SARIF 2.1.0 with the rules as ``tool.driver.rules`` and one result per finding."""

    _LEVEL = {"error": "error", "warning": "warning", "info": "note"}

    def start(self) -> None:
        self.results: list[dict[str, Any]] = []

    def handle(self, finding: Finding) -> None:
        region: dict[str, Any] = {"startLine": finding.line}
        if finding.column is not None:
            region["startColumn"] = finding.column
        self.results.append({
            "ruleId": finding.code,
            "level": self._LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": finding.path}, "region": region}}],
            "properties": {"engines": list(finding.engines)},
        })

    def stop(self) -> None:
        from .._version import __version__
        from ..lint.catalog import all_rules

        rules = [{"id": r.code, "name": r.name, "shortDescription": {"text": r.summary()},
                  "defaultConfiguration": {"level": self._LEVEL[r.severity]}} for r in all_rules()]
        doc = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "llamatpl", "version": __version__,
                                          "informationUri": "https://pypi.org/project/llamatpl/", "rules": rules}},
                      "results": self.results}],
        }
        self.out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


FORMATTERS: dict[str, type[Formatter]] = {
    "text": TextFormatter, "json": JsonFormatter, "github": GithubFormatter, "sarif": SarifFormatter,
}
