"""vLLM 0.33.0: the prompt ``POST /v1/chat/completions`` builds, and what it refuses.

Mirrors, at release 0.33.0 (PyPI ``vllm==0.33.0``):

- ``vllm/entrypoints/openai/chat_completion/protocol.py``: ``ChatCompletionRequest`` (pydantic
  validation, ``check_tool_usage``, ``check_generation_prompt``, ``build_chat_params``) and the message
  types in ``vllm/renderers/chat_utils/types.py`` — see :mod:`._vllm_request`;
- ``vllm/renderers/online_renderer.py``: ``OnlineRenderer.render_chat`` (tool-choice refusals, tools
  re-dumped with ``model_dump``, ``validate_chat_template``) and ``preprocess_chat`` (kwargs merged);
- ``vllm/renderers/hf.py``: ``HfRenderer.render_messages_async``, ``resolve_chat_template_content_format``
  / ``_detect_content_format``, ``resolve_chat_template_kwargs``, ``safe_apply_chat_template``
  (developer role, template errors) — see :mod:`._vllm_template`;
- ``vllm/renderers/chat_utils/chat_message.py``: ``parse_chat_message_content`` and
  ``_postprocess_messages`` — see :mod:`._vllm_messages`;
- ``vllm/renderers/params.py``: ``merge_kwargs`` (``None`` and ``"auto"`` dropped).

vLLM pins ``transformers>=5.16.1,<5.21`` and renders with its ``apply_chat_template``: llamatpl
renders as transformers 5.20 does (jinja2). The default server is the tool-calling one,
``vllm serve M --chat-template T --enable-auto-tool-choice --tool-call-parser llama3_json``;
``--engine-args --no-enable-auto-tool-choice`` models ``vllm serve`` without those two flags.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from ..errors import EngineRejected, LimitExceeded, RenderError, UsageError
from ..rendering.conversation import RESERVED_KEYS, Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import render_text
from ..rendering.templates import ChatTemplate
from . import _vllm_request as request_checks
from ._vllm_messages import conversation_messages, developer_as_system
from ._vllm_template import content_format, mentions_developer, template_variables
from .base import Engine, request_of

# apply_chat_template's own parameters in transformers 5.20 (hf.py _get_hf_base_chat_template_params):
# kwargs so named are accepted; those that are not template variables never reach the template
_APPLY_PARAMS = frozenset({"conversation", "tools", "documents", "chat_template", "add_generation_prompt",
                           "continue_final_message", "tokenize", "sanitize_control_tokens", "padding",
                           "truncation", "max_length", "return_tensors", "return_dict",
                           "return_assistant_tokens_mask", "tokenizer_kwargs"})
_TEMPLATE_ARGS = ("tools", "documents", "add_generation_prompt", "continue_final_message")
_UNSET = (None, "auto")  # params.py merge_kwargs: values that do not override


class Vllm(Engine):
    name = "vllm"
    release = "0.33.0"
    backend = "jinja2"
    transformers_pin = "5.20"

    def flags(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--chat-template-content-format", choices=("auto", "string", "openai"), default="auto")
        parser.add_argument("--enable-auto-tool-choice", action=argparse.BooleanOptionalAction, default=True)
        parser.add_argument("--tool-call-parser", default="llama3_json")
        parser.add_argument("--trust-request-chat-template", action="store_true")
        parser.add_argument("--exclude-tools-when-tool-choice-none", action="store_true")
        parser.add_argument("--default-chat-template-kwargs", type=_json_object, default=None)

    def parse_args(self, args: list[str]) -> argparse.Namespace:
        options = super().parse_args(args)
        if not options.enable_auto_tool_choice:
            # parser/parser_manager.py: ParserManager gives no tool parser without auto tool choice
            options.tool_call_parser = None
        return options

    def check_transformers(self, transformers: str | None) -> str | None:
        if transformers is None:
            return self.transformers_pin
        try:
            release = tuple(int(p) for p in transformers.split(".")[:2])
        except ValueError:
            raise UsageError(f"--transformers: {transformers!r} is not a release such as 5.20") from None
        if release >= (5, 21) or release < (5, 16):
            raise UsageError(f"--engine vllm --transformers {transformers}: vLLM {self.release} pins "
                             "transformers >=5.16.1,<5.21")
        return transformers

    def as_request(self, conversation: Conversation) -> Conversation:
        """As a vLLM user sends it: tool-call arguments and object tool results as JSON text, calls
        with an id and ``"type": "function"``, ``""`` for null content outside assistant messages,
        and ``add_generation_prompt: false`` beside ``continue_final_message``."""
        body = dict(request_of(super().as_request(conversation)))
        body["messages"] = [_accepted_message(m, i) for i, m in enumerate(body["messages"])]
        if body.get("continue_final_message") and "add_generation_prompt" not in body:
            body["add_generation_prompt"] = False  # check_generation_prompt: the default true is refused
        return Conversation.from_request(body, name=conversation.name)

    def render(self, conversation: Conversation, template: ChatTemplate, *, today: date | None = None,
               limits: Limits = DEFAULT_LIMITS, trace: list[tuple[int, int]] | None = None) -> str:
        body = request_of(conversation)

        def fail(path: str, reason: str) -> EngineRejected:
            return self.reject(conversation, path, reason)

        request_checks.check_body(body, fail)
        agp = request_checks.lax_bool(body, "add_generation_prompt", True, fail)
        cfm = request_checks.lax_bool(body, "continue_final_message", False, fail)
        if body.get("continue_final_message") and body.get("add_generation_prompt"):
            raise fail("", "continue_final_message and add_generation_prompt cannot both be true")
        self._check_tool_choice(body, fail)
        kwargs = self._kwargs(body, agp, cfm, fail)
        tools = body.get("tools")
        if tools is not None and not (body.get("tool_choice") == "none" and self.options.exclude_tools_when_tool_choice_none):
            kwargs.setdefault("tools", [_dump_tool(t) for t in tools])
        text = template.text_for(has_tools=kwargs.get("tools") is not None)
        fmt = self.options.chat_template_content_format
        fmt = content_format(text) if fmt == "auto" else fmt
        for i, message in enumerate(body["messages"]):
            request_checks.check_part_types(message.get("content"), f"messages[{i}].content", fail)
        messages = conversation_messages(body["messages"], fmt)
        if any(m["role"] == "developer" for m in messages) and not mentions_developer(text):
            messages = developer_as_system(messages)
        return self._apply(conversation, template, text, messages, kwargs, agp, cfm, today, limits, fail, trace)

    def _check_tool_choice(self, body: Mapping[str, Any], fail: Any) -> None:
        """``check_tool_usage`` and ``render_chat``'s refusals when no tool parser runs."""
        choice = body.get("tool_choice", "auto" if body.get("tools") else None)
        if choice is None or choice == "none":
            return
        if not body.get("tools"):
            raise fail("tool_choice", "given without tools")
        if choice not in ("auto", "required") and not isinstance(choice, Mapping):
            raise fail("tool_choice", f"{choice!r}; vLLM takes \"none\", \"auto\", \"required\" or a named function")
        if isinstance(choice, Mapping):
            name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), Mapping) else None
            if not isinstance(name, str) or name not in {t["function"]["name"] for t in body["tools"]}:
                raise fail("tool_choice", "names no function given in tools")
        if self.options.tool_call_parser is None:
            if choice == "auto" and not self.options.enable_auto_tool_choice:
                raise fail("tools", "\"auto\" tool choice needs the server flags --enable-auto-tool-choice "
                                    "and --tool-call-parser")
            if choice != "auto":
                raise fail("tool_choice", "needs the server flag --tool-call-parser")

    def _kwargs(self, body: Mapping[str, Any], agp: bool, cfm: bool, fail: Any) -> dict[str, Any]:
        """``build_chat_params`` + ``with_defaults``: server defaults < request kwargs < top-level fields."""
        # a llamatpl conversation file's own variables (date_string, builtin_tools, ...) are kwargs
        requested = {k: v for k, v in body.items() if k not in RESERVED_KEYS and k not in _REQUEST_FIELDS}
        requested.update(body.get("chat_template_kwargs") or {})
        if body.get("chat_template") is not None or requested.get("chat_template") is not None:
            if not self.options.trust_request_chat_template:
                raise fail("chat_template", "a template in the request is refused without the server flag "
                                            "--trust-request-chat-template")
        top = {"add_generation_prompt": agp, "continue_final_message": cfm, "documents": body.get("documents")}
        merged = {**requested, **{k: v for k, v in top.items() if v is not None}}
        defaults = dict(self.options.default_chat_template_kwargs or {})
        return {**defaults, **{k: v for k, v in merged.items() if not _unset(v)}}

    def _apply(self, conversation: Conversation, template: ChatTemplate, text: str, messages: list[dict[str, Any]],
               kwargs: dict[str, Any], agp: bool, cfm: bool, today: date | None, limits: Limits,
               fail: Any, trace: list[tuple[int, int]] | None = None) -> str:
        """``resolve_chat_template_kwargs`` then transformers' ``apply_chat_template`` (5.20)."""
        kwargs.pop("tokenize", None)
        kwargs.pop("chat_template", None)
        wanted = template_variables(text) | _APPLY_PARAMS
        variables = {k: v for k, v in kwargs.items() if k in wanted and k not in _APPLY_PARAMS}
        agp = bool(kwargs.get("add_generation_prompt", agp))
        cfm = bool(kwargs.get("continue_final_message", cfm))
        if agp and cfm:
            raise fail("", "continue_final_message and add_generation_prompt are not compatible (the default "
                           "add_generation_prompt is true)")
        conv = Conversation(messages=messages, tools=kwargs.get("tools"), documents=kwargs.get("documents"),
                            add_generation_prompt=agp, continue_final_message=cfm, variables=variables,
                            name=conversation.name)
        try:
            return render_text(text, conv, special_tokens=template.special_tokens, today=today, limits=limits,
                               name=template.name, trace=trace,
                               transformers=self.transformers or self.transformers_pin)
        except LimitExceeded:
            raise
        except RenderError as exc:  # safe_apply_chat_template: a template error is a 400
            reason = exc.reason.removeprefix(f"{conversation.name}: ")
            raise self.reject(conversation, "", f"the chat template raised: {reason}", template_error=exc) from None
        except EngineRejected:
            raise
        except Exception as exc:  # an InputError from continue_final_message checks
            raise fail("", str(getattr(exc, "message", exc)).removeprefix(f"{conversation.name}: ")) from None


# top-level request fields that are not template variables (sampling and the like) are ignored
_REQUEST_FIELDS = frozenset({"model", "tool_choice", "chat_template", "chat_template_kwargs", "stream",
                             "temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "seed",
                             "stop", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs",
                             "user", "response_format", "parallel_tool_calls", "stream_options", "echo",
                             "add_special_tokens", "reasoning_effort", "include_reasoning"})


def _accepted_message(message: Mapping[str, Any], index: int) -> dict[str, Any]:
    out = dict(message)
    if out.get("content") is None and out.get("role") != "assistant" and "content" in out:
        out["content"] = ""
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_accepted_call(c, f"call_{index}_{j}") for j, c in enumerate(calls)]
    return out


def _accepted_call(call: Any, default_id: str) -> Any:
    if not isinstance(call, Mapping) or not isinstance(call.get("function"), Mapping):
        return call
    function = dict(call["function"])
    if not isinstance(function.get("arguments"), str):
        function["arguments"] = json.dumps(function.get("arguments"), ensure_ascii=False)
    return {**call, "id": call.get("id") if isinstance(call.get("id"), str) else default_id,
            "type": "function", "function": function}


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "auto")


def _dump_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """``ChatCompletionToolsParam.model_dump()``: known keys only; ``strict`` when given."""
    function = tool["function"]
    dumped: dict[str, Any] = {"name": function["name"], "description": function.get("description"),
                              "parameters": function.get("parameters")}
    if function.get("strict") is not None:
        dumped["strict"] = function["strict"]
    return {"type": "function", "function": dumped}


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("--default-chat-template-kwargs takes a JSON object")
    return value


ENGINE = Vllm
