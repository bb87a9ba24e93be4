"""llama.cpp (release b10573): ``llama-server --chat-template-file T`` with its defaults (Jinja on,
prefill on), rendering with jinja2 set up like llama.cpp's own Jinja engine.

Source files mirrored (at b10573, commit d775b8967):

* ``tools/server/server-common.cpp:oaicompat_chat_params_parse`` — checks, prefill of a trailing
  assistant message, ``chat_template_kwargs``, ``reasoning_effort`` (:mod:`.llamacpp_request`);
* ``common/chat.cpp`` — ``common_chat_msgs_parse_oaicompat``, ``common_chat_tools_parse_oaicompat``,
  ``common_chat_msg::to_json_oaicompat``, ``messages_inp_normalizer`` (content parts),
  ``common_chat_templates_apply_jinja`` and its ``workaround::`` functions, ``common_chat_extra_context``
  (``date_string``, ``datetime``), ``common_chat_template_direct_apply_impl`` (the variables) and
  ``common_chat_template_generation_prompt_impl``;
* ``common/chat-auto-parser-generator.cpp:peg_generator::generate_parser`` — the prompt of a
  continued (prefilled) message: the conversation without it, the generation prompt, its text;
* ``common/jinja/caps.cpp:caps_get`` — the capability probes (:mod:`.llamacpp_caps`);
* ``common/jinja/value.cpp`` / ``runtime.cpp`` — the Jinja engine, mimicked by
  :mod:`llamatpl.rendering.llama_flavour`, its differences reported by :mod:`.llamacpp_portability`;
* ``common/arg.cpp`` — the server flags that change the prompt (:meth:`LlamaCpp.flags`).
"""

from __future__ import annotations

import argparse
import copy
import json
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from ..errors import UsageError
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.llama_flavour import FLAVOUR
from ..rendering.renderer import render_variables
from ..rendering.templates import ChatTemplate
from .base import Engine, request_of
from .llamacpp_caps import MEANING, NAMES, VERDICTS, LlamaCaps, cached_probe, probe
from .llamacpp_portability import portability_warnings
from .llamacpp_request import AUTO, CONTENT, NONE, REASONING, Message, Request, parse_request

__all__ = ["ENGINE", "LlamaCpp", "capabilities", "portability_warnings", "VERDICTS"]


class LlamaCpp(Engine):
    name = "llama.cpp"
    release = "b10573"
    backend = "jinja2"

    def flags(self, parser: argparse.ArgumentParser) -> None:
        # common/arg.cpp: the llama-server flags that change the prompt
        parser.add_argument("--no-prefill-assistant", dest="prefill", action="store_false", default=True)
        parser.add_argument("--chat-template-kwargs", dest="kwargs", type=_kwargs_object, default={})
        parser.add_argument("-rea", "--reasoning", choices=("on", "off", "auto"), default="auto")
        parser.add_argument("--jinja", dest="jinja", action="store_true", default=True)
        parser.add_argument("--no-jinja", dest="jinja", action="store_false")

    def parse_args(self, args: list[str]) -> argparse.Namespace:
        options = super().parse_args(args)
        if not options.jinja:
            raise UsageError("--engine-args: llama.cpp --no-jinja (the legacy llama_chat_apply_template "
                             "path) is not modelled; llama.cpp renders with Jinja by default")
        if options.reasoning != "auto":  # arg.cpp: --reasoning on|off sets the enable_thinking kwarg
            options.kwargs = {**options.kwargs, "enable_thinking": options.reasoning == "on"}
        return options

    def meaning(self, conversation: Conversation) -> Conversation:
        """``oaicompat_chat_params_parse``: with prefill on, a trailing assistant message without an
        explicit ``continue_final_message`` is continued, not closed."""
        body = request_of(conversation)
        last = conversation.messages[-1] if conversation.messages else {}
        if self.options.prefill and "continue_final_message" not in body and last.get("role") == "assistant":
            return replace(conversation, continue_final_message=True, add_generation_prompt=False)
        return conversation

    def prefix(self, conversation: Conversation, count: int, generation_prompt: bool, template: ChatTemplate, *,
               today: date | None = None, limits: Limits = DEFAULT_LIMITS) -> str:
        """Rendered as ``--no-prefill-assistant`` renders it: a prefix that ends with an assistant
        message is closed (prefill would continue it: no end token, and only its text)."""
        closing = self
        if self.options.prefill:
            closing = copy.copy(self)
            closing.options = argparse.Namespace(**{**vars(self.options), "prefill": False})
        return Engine.prefix(closing, conversation, count, generation_prompt, template, today=today, limits=limits)

    def mask_refusal(self, conversation: Conversation) -> str | None:
        last = conversation.messages[-1] if conversation.messages else {}
        if self.meaning(conversation).continue_final_message and last.get("tool_calls"):
            return ("llama.cpp continues a final assistant message (prefill, its default) and writes only its "
                    "text, not its tool call, so the call cannot be masked; --engine-args --no-prefill-assistant "
                    "closes the turn instead")
        return None

    def render(self, conversation: Conversation, template: ChatTemplate, *, today: date | None = None,
               limits: Limits = DEFAULT_LIMITS, trace: list[tuple[int, int]] | None = None) -> str:
        def fail(path: str, reason: str) -> Any:
            return self.reject(conversation, path, reason)

        # enable_thinking: server-context.cpp, reasoning on and a template that thinks; no Llama 3.x
        # template does, so it is false unless a kwarg sets it
        request = parse_request(request_of(conversation), server_kwargs=self.options.kwargs,
                                prefill=self.options.prefill, enable_thinking=False, fail=fail)
        text = template.text_for(has_tools=bool(request.tools))
        caps = cached_probe(text) if limits is DEFAULT_LIMITS else probe(text, limits)
        messages, continued, mode = _template_messages(request, text, caps, fail)
        variables = _variables(request, template, messages, today)

        def run(values: dict[str, Any], into: list[tuple[int, int]] | None = None) -> str:
            return render_variables(text, values, today=today, limits=limits, name=template.name, flavour=FLAVOUR,
                                    trace=into)

        prompt = run(variables, trace)
        if continued is not None and not continued.empty():
            # common_chat_template_generation_prompt_impl: what add_generation_prompt adds
            without = {k: v for k, v in variables.items() if k != "add_generation_prompt"}
            plain, with_prompt = run(without), run({**without, "add_generation_prompt": True})
            common = 0
            while common < min(len(plain), len(with_prompt)) and plain[common] == with_prompt[common]:
                common += 1
            prompt += with_prompt[common:]
            if mode == CONTENT:
                prompt += continued.render_content()
        return prompt


def _kwargs_object(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--chat-template-kwargs: not valid JSON: {value!r}") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError("--chat-template-kwargs: expected a JSON object")
    return parsed


def _template_messages(request: Request, text: str, caps: LlamaCaps,
                       fail: Any) -> tuple[list[dict[str, Any]], Message | None, str]:
    """``common_chat_templates_apply_jinja``: the messages JSON, the continued message and its mode."""
    messages = [m.to_json() for m in request.messages]
    continued, mode = None, request.continuation
    if mode != NONE and request.messages:
        continued = request.messages[-1]
        messages.pop()
        if mode == AUTO:
            empty_text = not continued.content and not continued.parts
            mode = REASONING if continued.reasoning_content and empty_text else CONTENT
    if "<|channel|>" not in text:  # workaround::map_developer_role_to_system (all but GPT-OSS)
        for m in messages:
            if m["role"] == "developer":
                m["role"] = "system"
    messages = normalize_content(messages, caps)
    if not caps.system_role and messages and messages[0]["role"] == "system":
        _merge_system(messages, fail)
    if caps.object_arguments:  # workaround::func_args_not_string
        for i, m in enumerate(messages):
            for j, call in enumerate(m.get("tool_calls", ())):
                call["function"]["arguments"] = _parse_arguments(
                    call["function"]["arguments"], fail, f"messages[{i}].tool_calls[{j}].function.arguments")
    return messages, continued, mode


def normalize_content(messages: list[dict[str, Any]], caps: LlamaCaps) -> list[dict[str, Any]]:
    """``messages_inp_normalizer::normalize``: strings become text-part lists for a template that only
    takes typed content; part lists are joined (``concat_content_parts``) for one that only takes strings."""
    only_string = caps.string_content and not caps.typed_content
    only_typed = caps.typed_content and not caps.string_content
    for m in messages:
        content = m.get("content")
        if only_typed and isinstance(content, str):
            m["content"] = [{"type": "text", "text": content}]
        elif only_string and isinstance(content, list):
            m["content"] = "\n".join(p["text"] for p in content if p.get("type") == "text")
    return messages


def _merge_system(messages: list[dict[str, Any]], fail: Any) -> None:
    """``workaround::system_message_not_supported``: merged into the next message, or removed."""
    first = messages.pop(0)
    if not messages:
        return
    second = messages[0]
    if not isinstance(first["content"], str) or not isinstance(second["content"], str):
        raise fail("messages[0].content", "[json.exception.type_error.302] type must be string, but is array")
    second["content"] = first["content"] + "\n" + second["content"]


def _parse_arguments(arguments: Any, fail: Any, path: str) -> Any:
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments, parse_constant=_no_constant)
    except ValueError as exc:
        raise fail(path, f"Failed to parse tool call arguments as JSON: [json.exception.parse_error.101] "
                         f"parse error: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid literal {name}")  # nlohmann's parser has no NaN / Infinity


def _variables(request: Request, template: ChatTemplate, messages: list[dict[str, Any]],
               today: date | None) -> dict[str, Any]:
    """``common_chat_template_direct_apply_impl``: what the template is rendered with."""
    variables: dict[str, Any] = {
        "messages": messages,
        "bos_token": template.special_tokens.get("bos_token", ""),
        "eos_token": template.special_tokens.get("eos_token", ""),
        "enable_thinking": request.enable_thinking,
    }
    if request.tools:  # common_chat_tools_to_json_oaicompat gives null for none: tools stay undefined
        variables["tools"] = request.tools
    now = datetime(today.year, today.month, today.day) if today else datetime.now()
    variables["datetime"] = now.strftime("%b %d %Y")  # common_chat_extra_context
    variables["date_string"] = now.strftime("%d %b %Y")
    variables.update(request.kwargs)
    if request.add_generation_prompt:
        variables["add_generation_prompt"] = True
    if isinstance(variables.get("preserve_reasoning"), bool):  # jinja::caps_apply_preserve_reasoning
        on = variables["preserve_reasoning"]
        variables.update(preserve_thinking=on, clear_thinking=not on, truncate_history_thinking=not on,
                         drop_thinking=not on)
    effort = variables.get("reasoning_effort")
    if isinstance(effort, str) and effort:  # jinja::caps_apply_reasoning_effort
        variables["reasoning_strength"] = effort
    return variables


def capabilities(template: ChatTemplate | str) -> dict[str, dict[str, Any]]:
    """llama.cpp's own verdicts for a template (``common/jinja/caps.cpp:caps_get``), each
    ``{"supported": bool, "detail": what the probe means}``."""
    text = template if isinstance(template, str) else template.text
    found = cached_probe(text).as_dict()
    return {name: {"supported": found[name], "detail": MEANING[name]} for name in NAMES}


ENGINE = LlamaCpp
