"""TGI: Hugging Face Text Generation Inference, release v3.3.7 (commit dfb3fbe7), its Rust router.

Mirrors, in our own code:

* ``router/src/lib.rs``: ``ChatRequest`` and the message types (``Message``, ``MessageBody``,
  ``MessageContent``, ``MessageChunk``, ``ToolCall``, ``FunctionDefinition``, ``Tool``), ``From<Message>
  for TextMessage`` (the flattening) and ``ChatRequest::try_into_generate`` (tool prompt default,
  ``response_format`` with ``tools`` refused): see :mod:`llamatpl.engines.tgi_request`;
* ``router/src/infer/tool_grammar.rs``: ``ToolGrammar::apply`` (``tool_choice``; ``auto`` adds a
  ``no_tool`` function to the tools);
* ``router/src/infer/chat_template.rs``: ``ChatTemplate::new`` (the template text rewrites, the
  minijinja environment, ``use_default_tool_template`` when the template never reads ``tools``) and
  ``ChatTemplate::apply`` (``"\\n---\\n"`` + tools JSON + tool prompt appended to the last message,
  the variables ``messages``, ``bos_token``, ``eos_token``, ``add_generation_prompt`` (always true)
  and ``tools``; a last assistant message cut after its content, as a prefill).

Nothing else reaches the template: no ``date_string``, ``builtin_tools``, ``tools_in_user_message``,
``documents`` or ``chat_template_kwargs`` (TGI has no such field), so a llamatpl conversation file's
extra keys are ignored under ``--engine tgi``. TGI has no server flag that changes the prompt (the
tool prompt is a request field, ``tool_prompt``). Rendered by minijinja, set up as the router sets
it up (:mod:`llamatpl.rendering.minijinja_backend`). ``docs/engines/tgi.md`` cites each behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.minijinja_backend import render_minijinja, undeclared_variables
from ..rendering.templates import ChatTemplate
from . import tgi_request as req
from .base import Engine, request_of

# lib.rs default_tool_prompt()
DEFAULT_TOOL_PROMPT = ("\nGiven the functions available, please respond with a JSON for a function call with its "
                       "proper arguments that best answers the given prompt. Respond in the format {name: function "
                       "name, parameters: dictionary of argument name and its value}.Do not use variables.\n")
# tool_grammar.rs ToolGrammar::apply, ToolChoice::Auto
NO_TOOL = {"type": "function", "function": {"description": "Open ended response with no specific tool selected",
                                            "name": "no_tool", "arguments": '{"type":"object"}'}}
# chat_template.rs ChatTemplate::new: plain text replacements made before the template is compiled
TEMPLATE_REWRITES = (("messages[0]['content'][0]['text']", "messages[0]['content']"), ("[::-1]", "|reverse"),
                     ("{% generation %}", ""), ("{% endgeneration %}", ""))
# Rust's char::is_whitespace (Unicode White_Space), which str::trim_end strips
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def tgi_template_text(text: str) -> str:
    """The template text TGI compiles (``ChatTemplate::new``'s rewrites applied)."""
    for old, new in TEMPLATE_REWRITES:
        text = text.replace(old, new)
    return text


def sort_keys(value: Any) -> Any:
    """TGI's minijinja (no ``preserve_order``) keeps every map as a ``BTreeMap``: keys in sorted order."""
    if isinstance(value, dict):
        return {k: sort_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(v) for v in value]
    return value


class TGI(Engine):
    name = "tgi"
    release = "v3.3.7"
    backend = "minijinja"

    def meaning(self, conversation: Conversation) -> Conversation:
        """``ChatTemplate::apply``: the generation prompt is always added, and a trailing assistant
        turn is continued (the prompt is cut after its content), whatever the request says."""
        last = conversation.messages[-1] if conversation.messages else {}
        if last.get("role") == "assistant":
            return replace(conversation, continue_final_message=True, add_generation_prompt=False)
        return replace(conversation, continue_final_message=False, add_generation_prompt=True)

    def render(self, conversation: Conversation, template: ChatTemplate, *, today: date | None = None,
               limits: Limits = DEFAULT_LIMITS, trace: list[tuple[int, int]] | None = None) -> str:
        body = request_of(conversation)
        messages, tools_and_prompt = self.read_request(conversation, body)
        source = tgi_template_text(template.text)
        return self.apply(source, messages, tools_and_prompt, template.special_tokens, name=template.name,
                          today=today, limits=limits)

    def prefix(self, conversation: Conversation, count: int, generation_prompt: bool, template: ChatTemplate, *,
               today: date | None = None, limits: Limits = DEFAULT_LIMITS) -> str:
        """The first ``count`` of the messages ``ChatTemplate::apply`` renders for the whole request
        (the tool prompt already on the last one), rendered closed or with the generation prompt and
        not cut: what TGI's own render would be without its fixed ``add_generation_prompt`` and prefill."""
        messages, tools_and_prompt = self.read_request(conversation, request_of(conversation))
        source = tgi_template_text(template.text)
        flat, tools = self.template_messages(source, messages, tools_and_prompt, name=template.name)
        return self.run(source, flat[:count], tools, template.special_tokens, generation_prompt, name=template.name,
                        today=today, limits=limits)

    def mask_refusal(self, conversation: Conversation) -> str | None:
        messages, tools_and_prompt = self.read_request(conversation, request_of(conversation))
        last = messages[-1] if messages else None
        if tools_and_prompt is not None and last is not None and last.role == "assistant" and last.parts is not None:
            return ("tgi appends its tool prompt to the last message, here the assistant's, so that turn's text "
                    "is not the assistant's alone and cannot be masked (end with a user or tool message)")
        return None

    def read_request(self, conversation: Conversation, body: Mapping[str, Any]
                     ) -> tuple[list[req.Message], tuple[list[dict[str, Any]], str] | None]:
        """The messages and ``(tools, tool prompt)`` as ``ChatRequest::try_into_generate`` passes them."""
        def reject(path: str, reason: str) -> Exception:
            return self.reject(conversation, path, reason)

        raw_messages = body.get("messages")
        if not isinstance(raw_messages, list):
            raise reject("messages", "expected a list of messages")
        messages = [req.message(m, f"messages[{i}]", reject) for i, m in enumerate(raw_messages)]
        tools = req.tools(body.get("tools"), reject)
        choice, function = req.tool_choice(body.get("tool_choice"), reject)
        prompt = body.get("tool_prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise reject("tool_prompt", "expected a string")
        if body.get("response_format") is not None and tools is not None:
            raise reject("response_format", "TGI refuses response_format together with tools "
                                            "(Grammar and tools are mutually exclusive)")
        if tools is None:
            return messages, None
        if choice == "function":
            chosen = [t for t in tools if t["function"]["name"] == function][:1]
            if not chosen:
                raise reject("tool_choice", f"no tool named {function!r} in tools (Tool with name {function} not found)")
            tools = chosen
        elif choice == "auto":
            tools = [*tools, NO_TOOL]
        elif choice == "none":
            tools = []
        if not tools:  # ToolGrammar::apply returns None: the request renders as if it had no tools
            return messages, None
        return messages, (tools, prompt or DEFAULT_TOOL_PROMPT)

    def apply(self, source: str, messages: list[req.Message], tools_and_prompt: tuple[list[dict[str, Any]], str] | None,
              special_tokens: Mapping[str, str], *, name: str, today: date | None = None,
              limits: Limits = DEFAULT_LIMITS) -> str:
        """``ChatTemplate::apply``: tool prompt, flattening, render, then the prefill cut."""
        flat, tools = self.template_messages(source, messages, tools_and_prompt, name=name)
        out = self.run(source, flat, tools, special_tokens, True, name=name, today=today, limits=limits)
        if flat and flat[-1]["role"] == "assistant":
            final = flat[-1]["content"]
            at = out.rfind(final)
            if at >= 0:
                out = out[:at + len(final)].rstrip(_WHITE_SPACE)
        return out

    def template_messages(self, source: str, messages: list[req.Message],
                          tools_and_prompt: tuple[list[dict[str, Any]], str] | None, *, name: str
                          ) -> tuple[list[dict[str, str]], list[dict[str, Any]] | None]:
        """``ChatTemplate::apply`` up to the render: the tool prompt appended to the last message, every
        message flattened to ``{role, content}``; and the ``tools`` variable."""
        tools = None
        if tools_and_prompt is not None:
            tools, tool_prompt = tools_and_prompt
            if "tools" in undeclared_variables(source, name=name):
                text = f"\n---\n{tool_prompt}"
            else:  # use_default_tool_template
                text = f"\n---\n{req.serde_json(tools)}\n{tool_prompt}"
            last = messages[-1] if messages else None
            if last is not None and last.parts is not None:  # only a MessageBody::Content gets it
                messages = [*messages[:-1], req.Message(last.role, [*last.parts, text], None)]
        return [{"role": m.role, "content": m.text()} for m in messages], tools

    @staticmethod
    def run(source: str, flat: list[dict[str, str]], tools: list[dict[str, Any]] | None,
            special_tokens: Mapping[str, str], generation_prompt: bool, *, name: str, today: date | None = None,
            limits: Limits = DEFAULT_LIMITS) -> str:
        """The template rendered with the variables ``ChatTemplate::apply`` passes (its
        ``add_generation_prompt`` is always true; :meth:`prefix` also renders closed)."""
        variables = {"messages": flat, "bos_token": special_tokens.get("bos_token"),
                     "eos_token": special_tokens.get("eos_token"), "add_generation_prompt": generation_prompt,
                     "tools": tools}
        return render_minijinja(source, sort_keys(variables), name=name, today=today, limits=limits)


ENGINE = TGI
