"""The playground's JSON API as plain functions: a request body in, ``(HTTP status, JSON object)`` out.

They run inside a worker process (:mod:`llamatpl.playground.workers`) and call the same library
functions as the command line: ``llamatpl.render`` for the prompt (the bytes ``llamatpl render``
writes), the Llama tokenizer for ids, ``lint_source`` for findings, ``verify_template`` and
``diff_templates`` for the buttons. Unknown keys in a body are ignored. A mistake the user can make
(bad JSON, a template that raises, a limit passed) answers ``422`` with ``{"error": one line}``.

``"template"`` is a bundled name (``official:3.1``, ``tuned:3.2``, or a bare version) or else the
template's text; never a path, so a page can read no file of the machine it runs on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..engines import DEFAULT, NAMES, get_engine
from ..errors import LlamatplError, UsageError
from ..rendering.limits import Limits, limits_from_env
from ..rendering.templates import ChatTemplate, resolve_template
from ..resources import bundled_names
from ..versions import detect_version, normalize_version

Answer = tuple[int, dict[str, Any]]

MAX_EXAMPLES = 2000  # verify: a bound on one request's search


class BadRequest(LlamatplError):
    """The request itself is malformed (HTTP 400), as opposed to a template or conversation mistake."""


def template_of(body: Mapping[str, Any], key: str = "template", version_key: str = "version") -> ChatTemplate:
    """The template a request names (a bundled name) or holds (its text), with its Llama version."""
    spec = body.get(key)
    if spec is None:
        spec = ""
    if not isinstance(spec, str):
        raise BadRequest(f"{key}: must be a string (a template's text or a bundled name)")
    version = body.get(version_key) or None
    if version is not None and (not isinstance(version, str) or version == "auto"):
        version = None if version == "auto" else str(version)
    if _is_bundled_name(spec):
        return resolve_template(spec, version=version)
    if _looks_like_a_name(spec):  # "official:3.9": a mistyped name, not a one-line template
        raise UnknownTemplate(f"{key}: {spec!r} is no bundled template ({', '.join(bundled_names())}); "
                              "a template's text has Jinja in it")
    if version is not None:
        return ChatTemplate("editor", spec, normalize_version(version), "given")
    detected = detect_version(spec)
    return ChatTemplate("editor", spec, detected.version, f"detected: {detected.reason}")


class UnknownTemplate(LlamatplError):
    """A template key that reads as a bundled name but names none (answered 422)."""


def _looks_like_a_name(spec: str) -> bool:
    """One short line without Jinja markup, in a bundled name's shape (``kind:version``)."""
    name = spec.strip()
    kind, sep, _ = name.partition(":")
    return bool(sep) and kind in ("official", "tuned") and "\n" not in name and "{" not in name


def _is_bundled_name(spec: str) -> bool:
    name = spec.strip()
    if name != spec or not name or "\n" in name:
        return False
    if name in bundled_names():
        return True
    try:
        normalize_version(name)
    except LlamatplError:
        return False
    return True


def conversation_of(body: Mapping[str, Any], key: str = "conversation") -> Any:
    """The conversation: a JSON object (or message list), or the editor's text holding one."""
    value = body.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise LlamatplError(f"{key}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, (dict, list)):
        raise LlamatplError(f"{key}: must be a JSON object with \"messages\" (or a list of messages)")
    return value


def engine_name(body: Mapping[str, Any], key: str = "engine") -> str:
    name = body.get(key) or DEFAULT
    if not isinstance(name, str):
        raise BadRequest(f"{key}: must be one of {', '.join(NAMES)}")
    return name


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key) or ""
    if not isinstance(value, str):
        raise BadRequest(f"{key}: must be a string")
    return value


def limits() -> Limits:
    """The command line's limits (``LLAMATPL_MAX_SECONDS`` / ``LLAMATPL_MAX_CHARS`` applied)."""
    return limits_from_env()


def token_pieces(ids: list[int], tokenizer: Any) -> list[str]:
    """Each token's text, such that the pieces join to the prompt exactly.

    A character split over several tokens (a multi-byte UTF-8 sequence) is given to the token that
    completes it; the tokens before it get ``""``.
    """
    pieces: list[str] = []
    pending = b""
    for token_id in ids:
        if tokenizer.is_special(token_id):
            pieces.append(tokenizer.token_text(token_id))
            continue
        pending += tokenizer.token_bytes(token_id)
        try:
            pieces.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            pieces.append("")
    if pending:
        pieces[-1] = pending.decode("utf-8", errors="replace")
    return pieces


def render(body: Mapping[str, Any]) -> Answer:
    """``POST /api/render``: the prompt, its token ids and each token's text."""
    from ..engines.prompt import render as render_prompt
    from ..tokens.tokenizer import get_tokenizer

    template = template_of(body)
    prompt = render_prompt(conversation_of(body), template=template, today=_text(body, "today") or None,
                           engine=engine_name(body), engine_args=_text(body, "engine_args"), limits=limits())
    tokenizer = get_tokenizer(template.version)
    ids = tokenizer.encode_prompt(prompt)
    return 200, {"prompt": prompt, "ids": ids, "pieces": token_pieces(ids, tokenizer),
                 "special": [tokenizer.is_special(i) for i in ids], "count": len(ids),
                 "template": template.name, "version": template.version,
                 "version_reason": template.version_reason}


def lint(body: Mapping[str, Any]) -> Answer:
    """``POST /api/lint``: every finding on the template, each tagged with the engines it affects."""
    from ..lint import Source, all_rules, lint_source

    template = template_of(body)
    engines = body.get("engines") or list(NAMES)
    if not isinstance(engines, list) or not all(isinstance(e, str) for e in engines):
        raise BadRequest("engines: must be a list of engine names")
    for name in engines:
        get_engine(name)  # an unknown name is a usage error naming the choices
    findings = lint_source(Source(template.name, template.text), all_rules(), version=template.version,
                           engines=engines)
    return 200, {"version": template.version, "findings": [
        {"line": f.line, "column": f.column, "code": f.code, "name": f.name, "severity": f.severity,
         "message": f.message, "engines": list(f.engines)} for f in findings]}


def verify(body: Mapping[str, Any]) -> Answer:
    """``POST /api/verify``: ``examples`` generated conversations against Meta's reference."""
    from ..formatting.verify_output import report_json
    from ..verification.search import verify_template

    examples = body.get("examples", 100)
    seed = body.get("seed", 0)
    if not isinstance(examples, int) or isinstance(examples, bool) or not 1 <= examples <= MAX_EXAMPLES:
        raise BadRequest(f"examples: must be a whole number from 1 to {MAX_EXAMPLES}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise BadRequest("seed: must be a whole number")
    template = template_of(body)
    engine = get_engine(engine_name(body), engine_args=_text(body, "engine_args"))
    report = verify_template(template, examples=examples, seed=seed, limits=limits(),
                             engine=None if engine.name == DEFAULT else engine)
    return 200, report_json(report)


def diff(body: Mapping[str, Any]) -> Answer:
    """``POST /api/diff``: the template against ``other`` (a template or the same one), per engine.

    The conversation in the body, when there is one, is compared first (as ``editor``), then the
    bundled fixtures; ``a_prompt``/``b_prompt`` are its two prompts, for a side-by-side view.
    """
    from ..diffing.differ import diff_templates, fixture_battery
    from ..rendering.conversation import Conversation

    a = template_of(body)
    b = template_of(body, "other", "other_version") if body.get("other") else a
    default = engine_name(body)
    name_a = engine_name(body, "engine_a") if body.get("engine_a") else default
    name_b = engine_name(body, "engine_b") if body.get("engine_b") else default
    args = _text(body, "engine_args")  # the serving engine's flags: for the side(s) that are not transformers
    engine_a = get_engine(name_a, engine_args="" if name_a == DEFAULT else args)
    engine_b = get_engine(name_b, engine_args="" if name_b == DEFAULT else args)
    plain = engine_a.name == engine_b.name == DEFAULT  # as `llamatpl diff` does
    conversations = fixture_battery()
    editor = None
    if body.get("conversation") is not None:
        read = Conversation.from_data if plain else Conversation.from_request
        editor = read(conversation_of(body), name="editor")
        conversations.insert(0, editor)
    report = diff_templates(a, b, conversations=conversations, engine_a=None if plain else engine_a,
                            engine_b=None if plain else engine_b)
    answer = report.to_json()
    answer["differs"] = report.differs
    if editor is not None:
        first = report.conversations[0]
        answer.update(a_prompt=first.a, b_prompt=first.b, a_error=first.a_error, b_error=first.b_error)
    return 200, answer


HANDLERS: dict[str, Callable[[Mapping[str, Any]], Answer]] = {
    "render": render, "lint": lint, "verify": verify, "diff": diff}


def answer(kind: str, body: Any) -> Answer:
    """Run one API call; every error a user can cause becomes one line, never a traceback."""
    if not isinstance(body, dict):
        return 400, {"error": "the request body must be a JSON object"}
    try:
        return HANDLERS[kind](body)
    except (BadRequest, UsageError) as exc:
        return 400, {"error": exc.message}
    except LlamatplError as exc:
        return 422, {"error": exc.message}
    except RecursionError:
        return 422, {"error": "recursion limit: the template nests too deeply"}
    except MemoryError:
        return 422, {"error": "out of memory"}
    except Exception as exc:  # noqa: BLE001 - the worker must answer, whatever happened
        return 500, {"error": f"internal error: {type(exc).__name__}: {exc}"}
