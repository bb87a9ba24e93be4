"""Named choices where Meta's own sources disagree about the Llama 3.x format.

Each field is one disagreement; ``docs/reference.md`` gives the sources for each. The ``official``
dialect follows what the official templates intend (their defects are not intent: see FACTS.md);
``meta`` follows ``llama_models``' ``ChatFormat``/``ToolUtils`` where it differs; ``tuned`` is what
llamatpl's tuned templates implement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import LlamatplError


@dataclass(frozen=True)
class Dialect:
    """How the reference resolves each point where Meta's sources disagree."""

    name: str = "official"
    #: ``hf``: ``{"name": N, "parameters": A}`` (the HF templates); ``meta``: with ``"type": "function"``
    #: first (ToolUtils json); ``pythonic``: ``[f(a=1), g(b="x")]`` (Meta's 3.2 docs).
    tool_call_format: str = "hf"
    #: ``builtins``: ``<|python_tag|>`` before every built-in call (official template, 3.1 prompt
    #: doc); ``code_interpreter``: only before code (ChatFormat).
    python_tag: str = "builtins"
    #: ``code``: a code_interpreter call is the code itself (ChatFormat, prompt doc); ``call``: it is
    #: ``code_interpreter.call(code="...")`` like the other built-ins (what the official 3.1 template writes).
    code_interpreter: str = "code"
    #: ``verbatim``: a string tool result as given (the official template's else-branch);
    #: ``json``: JSON-quoted (Meta's 3.2 doc shows ``"25 C"``).
    string_tool_output: str = "verbatim"
    #: Where tool definitions go when ``tools_in_user_message`` is not given: ``user`` or ``system``.
    tools_default: str = "user"
    #: The system message used when the conversation has none ("" for none).
    default_system: str = ""
    #: Instruction text before tool definitions in the system message and in the user message.
    system_tool_preamble: str = (
        "You have access to the following functions. To call a function, please respond with JSON "
        "for a function call."
        'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
        "Do not use variables.\n\n"
    )
    user_tool_preamble: str = (
        "Given the following functions, please respond with a JSON for a function call "
        "with its proper arguments that best answers the given prompt.\n\n"
        'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
        "Do not use variables.\n\n"
    )
    #: How several tool calls in one turn are joined (hf/meta formats); pythonic lists join themselves.
    call_separator: str = "; "


OFFICIAL = Dialect()
META = replace(OFFICIAL, name="meta", tool_call_format="meta", python_tag="code_interpreter")
DIALECTS = {d.name: d for d in (OFFICIAL, META)}


def register(dialect: Dialect) -> Dialect:
    """Make ``dialect`` available by name (templates declare the dialect they follow)."""
    DIALECTS[dialect.name] = dialect
    return dialect


def get_dialect(name: str | Dialect) -> Dialect:
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise LlamatplError(f"unknown reference dialect {name!r}: use one of {', '.join(DIALECTS)}") from None
