"""Inline suppression with Jinja comments, which change no output.

``{# llamatpl: disable=LL110 #}`` (or ``{#- ... -#}``) anywhere turns codes off for the whole file;
``{# llamatpl: disable-next-line=LL110,LL111 #}`` turns them off for the line after the comment.
Codes may be prefixes (``LL1``) or ``all``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .finding import Finding

_DIRECTIVE = re.compile(r"\{#-?\s*llamatpl:\s*(disable|disable-next-line)=([A-Za-z0-9_,\s-]+?)\s*-?#\}")


@dataclass
class Suppressions:
    file_wide: set[str] = field(default_factory=set)
    by_line: dict[int, set[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, source: str) -> Suppressions:
        found = cls()
        for match in _DIRECTIVE.finditer(source):
            codes = {c.strip().upper() for c in match.group(2).split(",") if c.strip()}
            if match.group(1) == "disable":
                found.file_wide |= codes
            else:
                line = source.count("\n", 0, match.end()) + 2
                found.by_line.setdefault(line, set()).update(codes)
        return found

    def allows(self, finding: Finding) -> bool:
        codes = self.file_wide | self.by_line.get(finding.line, set())
        return not any(c == "ALL" or finding.code.startswith(c) for c in codes)
