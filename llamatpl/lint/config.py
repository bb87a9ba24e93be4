"""Lint settings from ``[tool.llamatpl.lint]`` in the nearest ``pyproject.toml``.

    [tool.llamatpl.lint]
    select = ["LL", "LT"]
    ignore = ["LL110"]
    version = "3.1"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LlamatplError


@dataclass(frozen=True)
class LintConfig:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    version: str | None = None
    source: Path | None = field(default=None, compare=False)


def find_config(start: Path | None = None) -> LintConfig:
    """Read the first ``pyproject.toml`` at or above ``start`` (the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return _read(candidate)
    return LintConfig()


def _read(path: Path) -> LintConfig:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LlamatplError(f"{path}: not valid TOML ({exc})") from None
    table = data.get("tool", {}).get("llamatpl", {}).get("lint", {})
    if not isinstance(table, dict):
        raise LlamatplError(f"{path}: [tool.llamatpl.lint] must be a table")

    def codes(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise LlamatplError(f"{path}: [tool.llamatpl.lint] {key}: expected a list of rule codes")
        return tuple(value)

    version = table.get("version")
    if version is not None and not isinstance(version, str):
        raise LlamatplError(f"{path}: [tool.llamatpl.lint] version: expected a string such as \"3.1\"")
    return LintConfig(codes("select"), codes("ignore"), version, path)
