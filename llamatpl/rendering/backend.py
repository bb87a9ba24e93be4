"""Which Jinja backend renders a template: minijinja (fast) once shown to give jinja2's bytes, else jinja2.

"Shown" is a differential check (:mod:`llamatpl.probes.backends`): probe conversations, the
fixtures and a few hundred generated conversations are rendered through the caller's own jinja2
path, and every render is repeated on minijinja with the same variables; the template goes fast
only if every output is byte-identical and the same conversations raise in both. The verdict is
kept per template text (its sha256) and per *scope* (the serving engine and its flags, since each
builds other variables), in memory and, when :func:`use_disk_cache` is on (the
CLI), as one small JSON file per verdict under the user's cache directory. A template that differs
once stays on jinja2 for good. A jinja2 *flavour* other than transformers' (llama.cpp's, which
reads templates as llama.cpp's own Jinja engine does) always renders on jinja2.

:func:`choose` is the one place the choice is made; ``render_variables`` asks it for every render.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fast, gate

JINJA2, MINIJINJA = "jinja2", "minijinja"
MODES = ("auto", JINJA2, MINIJINJA)
VERDICT_FORMAT = 2  # bump when the check changes, so old verdicts on disk are not trusted


@dataclass(frozen=True)
class Choice:
    """The backend that renders, and why (``--explain-backend``)."""

    backend: str
    reason: str


class Scope:
    """Whose bytes are matched: ``label`` names the engine, its flags and flavour; ``rerender`` renders
    one conversation through that engine's jinja2 path (what the differential check replays).
    ``transformers_path`` holds ``render_text``'s arguments instead, so the per-render path builds no
    function (``render_text(text, conversation, special_tokens=..., limits=..., name=..., transformers=...)``)."""

    __slots__ = ("label", "_rerender", "_path")

    def __init__(self, label: str, rerender: Callable[[Any], str] | None = None,
                 transformers_path: tuple[Any, ...] | None = None) -> None:
        self.label = label
        self._rerender = rerender
        self._path = transformers_path

    @property
    def rerender(self) -> Callable[[Any], str] | None:
        if self._rerender is None and self._path is not None:
            render_text, text, special_tokens, limits, name, transformers = self._path
            return lambda conversation: str(render_text(text, conversation, special_tokens=special_tokens,
                                                        limits=limits, name=name, transformers=transformers))
        return self._rerender


@dataclass
class _Recording:
    """Outcomes of a differential check, per template text: identical so far, or the first difference."""

    differences: dict[tuple[str, str], str] = field(default_factory=dict)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    limit_hit: bool = False
    fallbacks: int = 0  # renders jinja2 completed where minijinja gave up (the fast path's jinja2 retries)
    current: str = ""  # the check conversation being rendered

    def note(self, text: str, flavour: str, difference: str | None) -> None:
        key = (text, flavour)
        self.seen[key] = self.seen.get(key, 0) + 1
        if difference and key not in self.differences:
            self.differences[key] = f"{self.current}: {difference}" if self.current else difference


_SCOPE: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("llamatpl_backend_scope", default=None)
_MODE: contextvars.ContextVar[str] = contextvars.ContextVar("llamatpl_backend_mode", default="auto")
_RECORDING: contextvars.ContextVar[_Recording | None] = contextvars.ContextVar("llamatpl_backend_check", default=None)
LAST: contextvars.ContextVar[Choice | None] = contextvars.ContextVar("llamatpl_backend_last", default=None)
_VERDICTS: dict[tuple[str, str], Choice] = {}
# (template text, scope label, flavour) -> (stored verdict, the template grows lists): the per-render
# lookup, keyed by the text itself (its hash is cached by Python) so no render hashes it again
_MEMO: dict[tuple[str, str, str], tuple[Choice, bool]] = {}
_UNCHECKED: dict[tuple[str, str], int] = {}  # renders so far of a template with no verdict (none on disk either)
_EAGER: contextvars.ContextVar[bool] = contextvars.ContextVar("llamatpl_backend_eager", default=False)
CHECK_AFTER = 100  # renders of one template (per scope) in one process before the check runs unasked
_DISK: list[Path] = []  # the cache directory, when the disk cache is on
Checker = Callable[[Scope], None]
_CHECKER: list[Checker] = []


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/llamatpl/backend`` (``~/.cache/llamatpl/backend`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llamatpl" / "backend"


def use_disk_cache(directory: Path | None) -> None:
    """Keep verdicts on disk under ``directory`` too (``None``: memory only)."""
    _DISK[:] = [] if directory is None else [Path(directory)]


def install_checker(checker: Checker | None) -> None:
    """The function that runs the differential check for a scope (set by ``llamatpl.probes.backends``)."""
    _CHECKER[:] = [] if checker is None else [checker]


def checker_installed() -> bool:
    return bool(_CHECKER)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def set_process_mode(mode: str) -> None:
    """Force one backend (or ``auto``) for the rest of this context (the CLI's ``LLAMATPL_BACKEND``)."""
    _MODE.set(mode)


@contextmanager
def forced(mode: str) -> Iterator[None]:
    """Render with one backend regardless of verdicts (``minijinja``: wherever the gate allows), or ``auto``."""
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


@contextmanager
def scope(label: str, rerender: Callable[[Any], str] | None = None) -> Iterator[None]:
    """Renders inside are an engine's, labelled ``label``; an outer scope (the engine's) wins."""
    token = enter_scope(label, rerender)
    try:
        yield
    finally:
        exit_scope(token)


def in_scope() -> bool:
    return _SCOPE.get() is not None


def enter_scope(label: str, rerender: Callable[[Any], str] | None = None,
                transformers_path: tuple[Any, ...] | None = None) -> contextvars.Token[Scope | None] | None:
    """:func:`scope` without a context manager (the per-render path); ``None`` when a scope is already set."""
    return None if _SCOPE.get() is not None else _SCOPE.set(Scope(label, rerender, transformers_path))


def exit_scope(token: contextvars.Token[Scope | None] | None) -> None:
    if token is not None:
        _SCOPE.reset(token)


def scope_label(flavour: str = "") -> str:
    current = _SCOPE.get()
    label = current.label if current is not None else "variables"
    return f"{label} {flavour}".strip()


def recording() -> _Recording | None:
    return _RECORDING.get()


def choose(text: str, variables: Mapping[str, Any], *, flavour: str = "", tracing: bool = False,
           scope: tuple[str, tuple[Any, ...]] | None = None) -> Choice:
    """The backend for one render of ``text`` with ``variables``: the stored verdict; the check runs
    first only inside :func:`checking` or once the template has been rendered :data:`CHECK_AFTER` times.

    ``scope`` is ``(label, transformers_path)`` of :class:`Scope` for a render outside any scope:
    entered only when the verdict must be looked up, so a render whose choice is remembered sets nothing."""
    mode = _MODE.get()
    recording = _RECORDING.get()
    current = _SCOPE.get()
    label = current.label if current is not None else scope[0] if scope is not None else "variables"
    if mode == "auto" and not tracing and recording is None:
        memo = _MEMO.get((text, label, flavour))
        if memo is not None:
            if memo[1] and not gate.small_input(variables):
                return Choice(JINJA2, f"the template grows lists and the input has a list over {gate.MAX_LIST} items")
            return memo[0]
    if tracing:
        return Choice(JINJA2, "a traced render (lint) needs jinja2's line numbers")
    if flavour:  # jinja2 changed to read templates as another engine does: minijinja is not that
        return Choice(JINJA2, f"the {flavour} flavour of jinja2 renders it")
    if mode == JINJA2:
        return Choice(JINJA2, "jinja2 was asked for")
    if mode == "auto" and recording is None:
        token = enter_scope(scope[0], None, scope[1]) if current is None and scope is not None else None
        try:
            found = verdict(text, flavour)
        finally:
            exit_scope(token)
        if found.backend == JINJA2:
            return found
    else:
        refusal = static_refusal(text)
        if refusal is not None:
            return Choice(JINJA2, refusal)
        found = Choice(MINIJINJA, "minijinja was asked for")
    grows = gate.eligibility(text).grows_lists
    if grows and not gate.small_input(variables):
        return Choice(JINJA2, f"the template grows lists and the input has a list over {gate.MAX_LIST} items")
    if mode == "auto" and recording is None and _VERDICTS.get((sha256(text), f"{label} {flavour}".strip())) is found:
        _MEMO[(text, label, flavour)] = (found, grows)
    return found


def static_refusal(text: str) -> str | None:
    """Why ``text`` may never render on minijinja, read off the template alone (``None``: it may)."""
    if not fast.SUPPORTED:
        return f"minijinja {fast.MINIJINJA} is older than 3.0 (no fuel for string sizes)"
    eligible = gate.eligibility(text)
    if eligible.refusal is not None:
        return f"outside minijinja's safe subset ({eligible.refusal})"
    if not fast.compiles(text):
        return "minijinja cannot parse it (a jinja2 extension such as {% generation %}?)"
    return None


class checking:  # noqa: N801 - a context manager named for its block, as contextlib's are
    """Renders inside run the differential check for a template whose verdict is not known yet
    (work that renders many conversations: a JSONL file, ``prepare``). Elsewhere the check waits
    until a template has been rendered :data:`CHECK_AFTER` times in the process, so a one-shot
    render never pays for it. (A class: ``prepare`` enters it once a row.)"""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _EAGER.set(True)

    def __exit__(self, *exc: object) -> None:
        _EAGER.reset(self._token)


def verdict(text: str, flavour: str = "") -> Choice:
    """The stored verdict for ``text`` in the current scope; when there is none, the differential
    check runs if it pays off here (see :func:`checking`), else jinja2 renders unchecked."""
    key = (sha256(text), scope_label(flavour))
    found = _VERDICTS.get(key)
    if found is None and key not in _UNCHECKED:
        found = _read(key)
    if found is not None:
        return found
    refusal = static_refusal(text)
    if refusal is not None:
        found = _VERDICTS[key] = Choice(JINJA2, refusal)
        return found
    renders = _UNCHECKED[key] = _UNCHECKED.get(key, 0) + 1
    current = _SCOPE.get()
    if not _CHECKER or current is None or current.rerender is None:
        return Choice(JINJA2, "not yet checked (no differential check is installed for this render path)")
    if not _EAGER.get() and renders < CHECK_AFTER:
        return Choice(JINJA2, f"not yet checked (a few renders do not pay for the differential check: it runs "
                              f"for JSONL files and prepare, and after {CHECK_AFTER} renders of a template)")
    _CHECKER[0](current)
    found = _VERDICTS.get(key)
    if found is None:  # never again for this key in this process
        found = _VERDICTS[key] = Choice(JINJA2, "the differential check never rendered this template text")
    return found


def record_check(results: _Recording, label: str, covered: int) -> None:
    """Store the verdicts a finished check reached for every template text it rendered."""
    for (text, flavour), renders in results.seen.items():
        difference = results.differences.get((text, flavour))
        if difference is not None:
            choice = Choice(JINJA2, f"differs from jinja2 ({difference}); stays on jinja2")
        elif results.limit_hit:
            choice = Choice(JINJA2, "a check conversation hit a render limit; stays on jinja2")
        elif results.fallbacks * 2 > renders:
            choice = Choice(JINJA2, f"minijinja gave up on {results.fallbacks} of {renders} check renders; "
                                    "jinja2 alone is faster")
        else:
            choice = Choice(MINIJINJA, f"byte-identical to jinja2 on {renders} renders of {covered} check "
                                       f"conversations, raises included ({results.fallbacks} retried on jinja2)")
        _store((sha256(text), f"{label} {flavour}".strip()), choice)


@contextmanager
def differential() -> Iterator[_Recording]:
    """Every render inside runs on both backends and notes any difference (jinja2's result is returned)."""
    results = _Recording()
    token = _RECORDING.set(results)
    try:
        yield results
    finally:
        _RECORDING.reset(token)


def _path(key: tuple[str, str]) -> Path:
    label = hashlib.sha256(key[1].encode()).hexdigest()[:16]
    return _DISK[0] / f"{key[0]}-{label}.json"


@functools.lru_cache(maxsize=1)
def _made_by() -> str:
    """The releases a verdict holds for: llamatpl's and minijinja's (an upgrade checks again)."""
    from importlib.metadata import PackageNotFoundError, version

    from .._version import __version__

    try:
        minijinja = version("minijinja")
    except PackageNotFoundError:
        minijinja = "none"
    return f"llamatpl {__version__}, minijinja {minijinja}"


def _read(key: tuple[str, str]) -> Choice | None:
    if not _DISK:
        return None
    try:
        data = json.loads(_path(key).read_text(encoding="utf-8"))
        if (data.get("format") != VERDICT_FORMAT or data.get("scope") != key[1] or data.get("made_by") != _made_by()
                or data.get("backend") not in (JINJA2, MINIJINJA) or not isinstance(data.get("reason"), str)):
            return None
        choice = Choice(data["backend"], data["reason"] + " (cached)")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    _VERDICTS[key] = choice
    return choice


def _store(key: tuple[str, str], choice: Choice) -> None:
    _VERDICTS[key] = choice
    if not _DISK:
        return
    try:
        _DISK[0].mkdir(parents=True, exist_ok=True)
        tmp = _path(key).with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": VERDICT_FORMAT, "scope": key[1], "made_by": _made_by(),
                                   "backend": choice.backend, "reason": choice.reason}), encoding="utf-8")
        tmp.replace(_path(key))
    except OSError:
        pass  # an unwritable cache only costs a re-check next time


def forget() -> None:
    """Drop the in-memory verdicts (tests)."""
    _VERDICTS.clear()
    _MEMO.clear()
    _UNCHECKED.clear()
