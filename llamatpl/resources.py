"""The data llamatpl ships: bundled templates (``official:``/``tuned:``) and fixture conversations.

Installed, they live in ``llamatpl/_data/``; in a source tree, in ``templates/`` and ``fixtures/`` at
the repository's root. Every stage reads them, so this sits at the top beside ``errors``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import TemplateNotFound

KINDS = ("official", "tuned")


@lru_cache(maxsize=None)
def bundled_dir(name: str) -> Path:
    """The folder of bundled data (``templates`` or ``fixtures``), installed or in a source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise TemplateNotFound(f"llamatpl's bundled {name}/ folder is missing from this installation")


def bundled_names() -> list[str]:
    """Every bundled template name, e.g. ``official:3.1``."""
    root = bundled_dir("templates")
    return sorted(f"{kind}:{p.stem}" for kind in KINDS for p in (root / kind).glob("*.jinja"))


def bundled_template_path(kind: str, version: str) -> Path:
    return bundled_dir("templates") / kind / f"{version}.jinja"


@lru_cache(maxsize=None)
def read_bundled_template(kind: str, version: str) -> str:
    """The exact text of ``kind:version`` (bytes decoded as UTF-8, nothing stripped)."""
    path = bundled_template_path(kind, version)
    if not path.is_file():
        raise TemplateNotFound(f"{kind}:{version}: no such bundled template ({', '.join(bundled_names())})")
    return path.read_bytes().decode("utf-8")
