"""Named choices where Meta's own sources disagree about the Llama 3.x format.

Each field is one disagreement; ``docs/reference.md`` gives the sources for each. The ``official``
dialect follows what the official templates intend (their defects are not intent: see FACTS.md);
``meta`` follows ``llama_models``' ``ChatFormat``/``ToolUtils`` where it differs; ``tuned-3.1`` and
``tuned-3.2`` are what llamatpl's tuned templates implement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...errors import LlamatplError


@dataclass(frozen=True)
class Dialect:
    """How the reference resolves each point where Meta's sources disagree."""

    name: str = "official"
    #: ``hf``: ``{"name": N, "parameters": A}`` (the HF templates); ``meta``: with ``"type": "function"``
    #: first (ToolUtils json); ``pythonic``: ``[f(a=1), g(b="x")]`` (Meta's 3.2 docs);
    #: ``function_tag``: ``<function=N>{...}</function>`` (Meta's 3.1 doc, ToolUtils function_tag).
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
    #: ``each``: every tool definition as given, ``json.dumps(indent=4)`` and a blank line (official);
    #: ``array``: one JSON array of the function objects (Meta's 3.2 zero-shot format).
    tool_definitions: str = "each"
    #: System message used when the user gave none but tools are present ("" for none).
    default_system_with_tools: str = ""
    #: Whether a turn may hold several tool calls (the official templates raise on more than one).
    parallel_calls: bool = False
    #: Whether the 3.1+ system message holds the knowledge-date lines (templates: yes; Meta's docs' plain chat: no).
    date_lines: bool = True
    #: How a custom tool call ends: ``eot`` (templates without built-ins, ChatFormat) or ``eom`` (3.1 doc).
    custom_call_end: str = "eot"
    #: Content trimming: ``version`` (3.0 reference strips, llama-models keeps it verbatim), ``verbatim``,
    #: ``all`` (the official text templates' ``| trim``), ``system`` (the 3.2-vision template: the system
    #: message and the user message that carries the tools only).
    content_trim: str = "version"


OFFICIAL = Dialect()
META = replace(OFFICIAL, name="meta", tool_call_format="meta", python_tag="code_interpreter")

ANSWER_IN_WORDS = ("You are a helpful assistant with tool calling capabilities. When you receive a tool "
                   "call response, use the output to answer the original question in natural language "
                   "instead of calling the tool again.")
_TUNED_FORMAT = ('Respond in the format {"name": function name, "parameters": dictionary of argument name '
                 "and its value}. Do not use variables.\n\n")
TUNED_31 = replace(
    OFFICIAL, name="tuned-3.1", tools_default="system", default_system_with_tools=ANSWER_IN_WORDS, parallel_calls=True,
    system_tool_preamble="You have access to the following functions. To call a function, respond with JSON "
                         "for a function call. " + _TUNED_FORMAT,
    user_tool_preamble="Given the following functions, respond with a JSON for a function call with its proper "
                       "arguments that best answers the given prompt.\n\n" + _TUNED_FORMAT,
)
# Meta's zero-shot function-calling prompt for Llama 3.2 (llama_models/llama3_2/text_prompt_format.md).
PYTHONIC_PREAMBLE = (
    "You are an expert in composing functions. You are given a question and a set of possible functions.\n"
    "Based on the question, you will need to make one or more function/tool calls to achieve the purpose.\n"
    "If none of the function can be used, point it out. If the given question lacks the parameters required "
    "by the function,\nalso point it out. You should only return the function call in tools call sections.\n\n"
    "If you decide to invoke any of the function(s), you MUST put it in the format of [func_name1(params_name1="
    "params_value1, params_name2=params_value2...), func_name2(params)]\nYou SHOULD NOT include any other text "
    "in the response.\n\nHere is a list of functions in JSON format that you can invoke.\n\n"
)
TUNED_32 = replace(TUNED_31, name="tuned-3.2", tool_call_format="pythonic", tool_definitions="array",
                   system_tool_preamble=PYTHONIC_PREAMBLE, user_tool_preamble=PYTHONIC_PREAMBLE)
DIALECTS = {d.name: d for d in (OFFICIAL, META, TUNED_31, TUNED_32)}


def get_dialect(name: str | Dialect) -> Dialect:
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise LlamatplError(f"unknown reference dialect {name!r}: use one of {', '.join(DIALECTS)}") from None
