"""A lint finding: a small immutable record; the checker never prints."""

from __future__ import annotations

from typing import NamedTuple, Protocol

SEVERITIES = ("error", "warning", "info")


class Finding(NamedTuple):
    """Where a rule fired and why. ``column`` may be ``None`` when only the line is known."""

    path: str
    line: int
    column: int | None
    code: str
    name: str
    severity: str
    message: str
    #: the serving engines whose users meet it (lint runs each probe through each engine)
    engines: tuple[str, ...] = ()

    @property
    def fails(self) -> bool:
        """Errors and warnings fail a lint run (exit 1); infos do not."""
        return self.severity in ("error", "warning")


class RuleIdentity(Protocol):
    """What a finding needs to know of the rule that made it (a rule class or instance)."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def severity(self) -> str: ...
