"""The one Jinja environment every template renders in, configured exactly as transformers' own.

transformers renders chat templates in an ``ImmutableSandboxedEnvironment`` with ``trim_blocks``
and ``lstrip_blocks``, the loop-controls extension and a ``{% generation %}`` tag; it replaces
``tojson`` (no HTML escaping, ``indent``/``separators``/``sort_keys``), and adds the globals
``raise_exception``, ``strftime_now``, a restricted ``dict`` and a ``namespace`` that refuses
underscore names. This module rebuilds that configuration (our own code, same behaviour) and adds
the limits of :mod:`llamatpl.limits` for untrusted templates. Compiled templates are cached by text.
"""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, cast

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.utils
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import limits
from ..errors import InvalidTemplate

_TODAY: contextvars.ContextVar[date | None] = contextvars.ContextVar("llamatpl_today", default=None)


def pinned_today(day: date | None) -> contextvars.Token[date | None]:
    """Make ``strftime_now`` read ``day`` (at midnight) instead of the clock; ``None`` unpins."""
    return _TODAY.set(day)


def restore_today(token: contextvars.Token[date | None]) -> None:
    _TODAY.reset(token)


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What ``raise_exception(msg)`` raises: a template refusing input on purpose (a TemplateError, as in
    transformers, so code that catches TemplateError still does)."""


def _raise_exception(message: str) -> None:
    raise RaisedByTemplate(message)


def _strftime_now(format: str) -> str:
    day = _TODAY.get()
    return datetime.now().strftime(format) if day is None else _pinned_strftime(day, format)


@functools.lru_cache(maxsize=64)
def _pinned_strftime(day: date, format: str) -> str:
    # a training mask renders each conversation three or four times, each asking for the same date line
    return datetime(day.year, day.month, day.day).strftime(format)


# tojson results of containers, by identity, while one conversation is rendered several times (the
# prefixes a training mask needs): each entry holds its object, so no id is reused while it lives,
# and templates cannot change a dict or list in the immutable sandbox
_JSON_MEMO: contextvars.ContextVar[dict[tuple[Any, ...], tuple[Any, str]] | None] = contextvars.ContextVar(
    "llamatpl_json_memo", default=None)


class remembering_json:  # noqa: N801 - a context manager named for its block, as contextlib's are
    """Remember ``tojson`` results inside the block (the renders of one conversation). A class, not a
    generator: a training row enters it once, and a generator's set-up costs more than the row's JSON."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _JSON_MEMO.set({})

    def __exit__(self, *exc: object) -> None:
        _JSON_MEMO.reset(self._token)


JsonWriter = Callable[[Any, bool, Any, Any, bool], str]


def remembered_json(write: JsonWriter, x: Any, ensure_ascii: bool, indent: Any, separators: Any,
                    sort_keys: bool) -> str:
    """``write(x, ...)``, or what it wrote for the same dict or list object inside :func:`remembering_json`
    (both backends' ``tojson`` go through here)."""
    memo = _JSON_MEMO.get()
    if memo is None or not isinstance(x, (dict, list)):
        return write(x, ensure_ascii, indent, separators, sort_keys)
    key = (id(x), ensure_ascii, indent, separators if separators is None else tuple(separators), sort_keys)
    known = memo.get(key)
    if known is None:
        known = memo[key] = (x, write(x, ensure_ascii, indent, separators, sort_keys))
    return known[1]


def _dumps(x: Any, ensure_ascii: bool, indent: Any, separators: Any, sort_keys: bool) -> str:
    limits.check_written_size(x, "JSON text")
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    if isinstance(indent, int) and indent > limits._limits().max_json_indent:
        limits.check_size(float("inf"), f"JSON indented by {indent}")
    return remembered_json(_dumps, x, ensure_ascii, indent, separators, sort_keys)


def _finalize(value: Any) -> Any:
    """``{{ value }}``: a list, tuple or dict is measured before Python writes it (the value unchanged)."""
    limits.check_written_size(value, "a printed value")
    return value


def _written_first(filter_: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that turns its input into text (``string``, ``trim``...), its input measured first."""

    @functools.wraps(filter_)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        limits.check_written_size(value, "a value written as text")
        return filter_(value, *args, **kwargs)

    return wrapper


class _RestrictedDict:
    """``dict(...)`` and ``dict.fromkeys(...)`` for templates, without the type's other attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args, **kwargs)


class _Namespace(jinja2.utils.Namespace):
    """A ``namespace()`` that refuses attribute names starting with an underscore."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 (same trick as Jinja's Namespace)
        self, rest = args[0], args[1:]
        attrs = dict(*rest, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"templates cannot store underscore-prefixed attributes on a namespace ({name!r})"
            )


class _GenerationTag(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}``: transformers marks assistant text with it; it
    renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser: Any) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body).set_lineno(lineno)


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a size-checked join instead of Jinja's unchecked ``str_join``, and
    ``a + b`` to a direct call of :func:`llamatpl.limits.plus` (cheaper than ``call_binop``)."""

    @optimizeconst
    def visit_Add(self, node: jinja2.nodes.BinExpr, frame: Frame) -> None:
        self.write("environment.plus(")
        self.visit(node.left, frame)
        self.write(", ")
        self.visit(node.right, frame)
        self.write(")")

    @optimizeconst
    def visit_Concat(self, node: jinja2.nodes.Concat, frame: Frame) -> None:
        self.write("environment.guarded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _sized(check: Callable[..., None], filter_: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limits.check_call_arguments(args, kwargs)
        check(*args, **kwargs)
        return filter_(*args, **kwargs)

    return wrapper


def _sized_join(filter_: Callable[..., Any]) -> Callable[..., Any]:
    """The ``join`` filter, with its input materialized once so the result's size can be checked."""

    @functools.wraps(filter_)
    def wrapper(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        limits.tick()
        items = value if isinstance(value, (list, tuple)) else list(value)
        if attribute is None:
            limits.estimate_join(str(d), items)
        return filter_(eval_ctx, items, d, attribute)

    return wrapper


def _check_replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> None:
    limits.estimate_replace(str(s), str(old), str(new), count if isinstance(count, int) else None)


def _check_indent(s: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    pad = len(width) if isinstance(width, str) else (width if isinstance(width, int) else 0)
    limits.check_size(len(str(s)) + (str(s).count("\n") + 1) * pad, "an indented string")


def _check_format(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, str):
        limits.check_format_string(value)


def _no_check(*args: Any, **kwargs: Any) -> None:
    return None


def _check_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> None:
    limits.check_size(n * max * 12, "lorem ipsum text")


class LlamaSandbox(ImmutableSandboxedEnvironment):
    """transformers' sandbox, plus deadline and size checks at every call and intercepted operator.

    A loop that runs away must call something (``range``, a filter-free call, a macro) or build
    something with an operator or output each turn, so those are where the deadline is checked.
    """

    intercepted_binops = frozenset({"*", "**", "%"})
    code_generator_class = _GuardedCodeGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plus = limits.plus  # an instance attribute: called without binding a method

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return limits.guarded_binop(operator, left, right)

    def guarded_concat(self, values: tuple[Any, ...]) -> str:
        return limits.guarded_concat(values)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if not isinstance(__obj, jinja2.runtime.Macro):  # a template's own macro builds nothing by size
            limits.check_call_arguments(args, kwargs)
        args = limits.guard_str_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        limits.check_format_string(value.__self__)
        return wrapped


# filters that write their input with str() before anything else (a shared list's text can be
# exponentially larger than the list)
_TEXT_FILTERS = ("string", "trim", "lower", "upper", "title", "capitalize", "escape", "e", "forceescape",
                 "striptags", "wordcount")


def _build_environment(kind: type[LlamaSandbox] = LlamaSandbox) -> LlamaSandbox:
    """A sandbox of class ``kind`` configured as transformers' environment, with the limits."""
    env = kind(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_GenerationTag, jinja2.ext.loopcontrols],
        finalize=_finalize,
    )
    env.filters["tojson"] = _tojson
    guards: dict[str, Callable[..., None]] = {
        "replace": _check_replace,
        "indent": _check_indent,
        "format": _check_format,
        "center": _no_check,
        "wordwrap": _no_check,
        "truncate": _no_check,
        "slice": _no_check,
        "batch": _no_check,
    }
    for name, check in guards.items():
        env.filters[name] = _sized(check, env.filters[name])
    env.filters["join"] = _sized_join(env.filters["join"])
    for name in _TEXT_FILTERS:
        env.filters[name] = _written_first(env.filters[name])
    env.globals["lipsum"] = _sized(_check_lipsum, cast(Callable[..., Any], env.globals["lipsum"]))
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _RestrictedDict()
    env.globals["namespace"] = _Namespace
    return env


ENVIRONMENT = _build_environment()
# flavour name -> environment; other flavours register themselves on import
# (llamatpl.rendering.llama_flavour, which the renderer imports)
FLAVOURS: dict[str, LlamaSandbox] = {"transformers": ENVIRONMENT}


def environment_for(flavour: str = "transformers") -> LlamaSandbox:
    """The sandboxed environment of a flavour: ``transformers`` (the default) or ``llama.cpp``."""
    try:
        return FLAVOURS[flavour]
    except KeyError:
        raise InvalidTemplate(f"no Jinja flavour {flavour!r} (known: {', '.join(FLAVOURS)})") from None


TOO_DEEP = "nested too deeply to parse"


def parse_template(text: str) -> jinja2.nodes.Template:
    """The template's Jinja AST; nesting too deep for the parser is a ``TemplateSyntaxError`` like any other."""
    try:
        return ENVIRONMENT.parse(text)
    except (RecursionError, MemoryError):
        raise jinja2.TemplateSyntaxError(TOO_DEEP, 1) from None


@functools.lru_cache(maxsize=256)
def compile_template(text: str, flavour: str = "transformers") -> jinja2.Template:
    """Compile a chat template once per distinct text and flavour; raise :class:`InvalidTemplate`
    on bad syntax. Nesting too deep for jinja2's parser or for Python's compiler (which gives up at
    200 nested parentheses) is bad syntax too, not a crash."""
    try:
        return environment_for(flavour).from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidTemplate(f"line {exc.lineno}: {exc.message}", line=exc.lineno) from None
    except (RecursionError, MemoryError, SyntaxError):
        raise InvalidTemplate(f"line 1: {TOO_DEEP}", line=1) from None
