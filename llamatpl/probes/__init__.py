"""Probe conversations and their traced renders, shared by lint, diff and caps.

``run`` renders the probe set once per template (cached); ``features`` reads template features off
those renders (diff); ``caps`` reads capabilities (the caps command); ``turns`` splits a prompt into turns.
"""

from __future__ import annotations

from typing import Any


def install_backend_check() -> None:
    """Install the fast backend's differential check (:mod:`.backends`), imported only when a check runs."""
    from ..rendering import backend

    if not backend.checker_installed():
        backend.install_checker(_check_lazily)


def _check_lazily(scope: Any) -> None:
    from .backends import check

    check(scope)
