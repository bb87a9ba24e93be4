"""``--engine vllm`` against vLLM 0.33.0 itself: the same (template, request) pairs go through vLLM's
own ``OnlineRenderer.render_chat`` (tests/oracles/vllm_render.py, in vLLM's own virtualenv, one
process per session) and through ``llamatpl.render(..., engine="vllm")``; the prompts must be equal
byte for byte, or both must refuse the request.

The vLLM venv is built by ``.ci/vllm-venv.sh`` and named by ``LLAMATPL_VLLM_PYTHON``; without it
the test is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llamatpl import render
from llamatpl.errors import EngineRejected, InputError, LlamatplError
from llamatpl.rendering.conversation import RESERVED_KEYS
from llamatpl.rendering.templates import resolve_template

ROOT = Path(__file__).resolve().parent.parent
ORACLE = Path(__file__).resolve().parent / "oracles" / "vllm_render.py"
TEMPLATES = ("official:3.0", "official:3.1", "official:3.2", "official:3.2-vision",
             "tuned:3.1", "tuned:3.2", "tuned:3.2-vision")
# llamatpl --engine-args -> the vLLM server flags the oracle starts with
SERVERS = {
    "": ["--enable-auto-tool-choice", "--tool-call-parser", "llama3_json"],
    "--no-enable-auto-tool-choice": [],
    "--chat-template-content-format openai": ["--enable-auto-tool-choice", "--tool-call-parser", "llama3_json",
                                              "--chat-template-content-format", "openai"],
    "--no-enable-auto-tool-choice --tool-call-parser llama3_json": ["--tool-call-parser", "llama3_json"],
    "--chat-template-content-format string": ["--enable-auto-tool-choice", "--tool-call-parser", "llama3_json",
                                              "--chat-template-content-format", "string"],
}
GENERATED = 240


def vllm_python() -> str:
    python = os.environ.get("LLAMATPL_VLLM_PYTHON", "")
    if not python:
        pytest.skip("LLAMATPL_VLLM_PYTHON is not set: no vLLM 0.33.0 venv to compare with "
                    "(.ci/vllm-venv.sh builds one; .ci/run sets the variable)")
    if not os.access(python, os.X_OK):
        pytest.skip(f"LLAMATPL_VLLM_PYTHON={python} is not an executable: the vLLM venv was not built")
    return python


# ------------------------------------------------------------------ requests in vLLM's accepted shapes

TEXTS = st.sampled_from(["Hi", "What is the weather in Paris?", "  padded  ", "line one\nline two", "Ünïcödé ☀",
                         "", "{\"json\": true}", "say <|eot_id|> now", "\nleading newline"])
ARGUMENTS = st.sampled_from(['{"city": "Paris"}', '{"n": 1, "flag": true}', "{}", '{"nested": {"a": [1, 2]}}'])
ODD_ARGUMENTS = st.sampled_from(["{oops", "[1, 2]", "42", "", "null"])


def text_parts(types: tuple[str, ...] = ("text",)) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.builds(lambda t, k: {"type": k, "text": t}, TEXTS, st.sampled_from(types)),
                    min_size=1, max_size=3)


# input_text parts beside a text part (alone, vLLM refuses them: see EDGES)
CONTENT = st.one_of(TEXTS, TEXTS, text_parts(), st.builds(lambda a, b: a + b, text_parts(), text_parts(("input_text",))))


@st.composite
def tool_turn(draw: st.DrawFn, index: int) -> list[dict[str, Any]]:
    arguments = draw(st.one_of(ARGUMENTS, ARGUMENTS, ARGUMENTS, ODD_ARGUMENTS))
    call = {"id": f"call_{index}", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    assistant: dict[str, Any] = {"role": "assistant", "tool_calls": [call]}
    assistant.update(draw(st.sampled_from([{}, {"content": None}, {"content": ""}])))
    result = {"role": draw(st.sampled_from(["tool", "tool", "ipython"])), "tool_call_id": f"call_{index}",
              "content": draw(st.one_of(TEXTS, text_parts()))}
    return [assistant, result]


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    first = draw(st.sampled_from(["none", "system", "system", "developer", "system+developer"]))
    for role in [] if first == "none" else first.split("+"):
        out.append({"role": role, "content": draw(st.one_of(TEXTS, text_parts()))})
    for turn in range(draw(st.integers(1, 3))):
        user: dict[str, Any] = {"role": "user", "content": draw(CONTENT)}
        if draw(st.booleans()):
            user["name"] = "alice"
        out.append(user)
        kind = draw(st.sampled_from(["answer", "answer", "tool", "empty_calls", "null"]))
        if kind == "tool":
            out += draw(tool_turn(turn))
            out.append({"role": "assistant", "content": draw(TEXTS)})
        elif kind == "empty_calls":
            out.append({"role": "assistant", "content": draw(TEXTS), "tool_calls": []})
        elif kind == "null":
            out.append({"role": "assistant", "content": None})
        else:
            out.append({"role": "assistant", "content": draw(CONTENT)})
    out.append({"role": "user", "content": draw(CONTENT)})
    return out


TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
ODD_TOOL = {"type": "function", "function": {"name": "lookup", "description": None, "parameters": {"type": "object"},
                                             "unknown_key": 1}}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    body: dict[str, Any] = {"messages": draw(messages())}
    if draw(st.integers(0, 2)) == 0:
        body["tools"] = draw(st.sampled_from([[TOOL], [TOOL, ODD_TOOL], [ODD_TOOL]]))
    if draw(st.integers(0, 3)) == 0:
        body["chat_template_kwargs"] = draw(st.fixed_dictionaries({}, optional={
            "date_string": st.sampled_from(["1 Jan 2020", None]),
            "tools_in_user_message": st.sampled_from([True, False, "auto"]),
            "builtin_tools": st.sampled_from([["brave_search", "wolfram_alpha"], None]),
            "not_read_by_template": st.just(1)}))
    if draw(st.integers(0, 6)) == 0:
        body["documents"] = [{"title": "Doc", "text": "Some text"}]
    if draw(st.integers(0, 5)) == 0:  # a prefill the model continues
        body["messages"].append({"role": "assistant", "content": draw(TEXTS)})
        body.update(continue_final_message=True, add_generation_prompt=False)
    elif draw(st.integers(0, 6)) == 0:
        body["add_generation_prompt"] = False
    if draw(st.integers(0, 30)) == 13:  # shapes vLLM refuses (hypothesis favours 0 and the ends)
        body = draw(st.sampled_from([
            {**body, "tools": []},
            {**body, "messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}]},
            {**body, "messages": [*body["messages"][:-1], {"role": "assistant", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]},
        ]))
    engine_args = draw(st.sampled_from(["", "", "", "--chat-template-content-format openai",
                                        "--chat-template-content-format string"]))
    if draw(st.integers(0, 12)) == 7:  # the server without tool calling: refuses requests with tools
        engine_args = "--no-enable-auto-tool-choice"
    return draw(st.sampled_from(TEMPLATES)), engine_args, body


def generated_requests() -> list[tuple[str, str, dict[str, Any]]]:
    collected: list[tuple[str, str, dict[str, Any]]] = []

    @settings(max_examples=GENERATED, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(requests())
    def collect(case: tuple[str, str, dict[str, Any]]) -> None:
        collected.append(case)

    collect()
    return collected


def fixture_requests() -> list[tuple[str, str, dict[str, Any]]]:
    """Every fixture in vLLM's accepted shapes: arguments and tool results as JSON text, call ids,
    and a conversation file's own variables as chat_template_kwargs."""
    out = []
    for path in sorted((ROOT / "fixtures").glob("*.json")):
        data = json.loads(path.read_text())
        body = {k: v for k, v in data.items() if k in RESERVED_KEYS}
        extra = {k: v for k, v in data.items() if k not in RESERVED_KEYS}
        if extra:
            body["chat_template_kwargs"] = extra
        for i, message in enumerate(body["messages"]):
            if not isinstance(message.get("content", ""), (str, list, type(None))):
                message["content"] = json.dumps(message["content"])
            for j, call in enumerate(message.get("tool_calls") or []):
                call.setdefault("id", f"call_{i}_{j}")
                call.setdefault("type", "function")
                if not isinstance(call["function"].get("arguments"), str):
                    call["function"]["arguments"] = json.dumps(call["function"].get("arguments"))
        for template in ("official:3.1", "official:3.2", "official:3.2-vision", "tuned:3.1"):
            out.append((template, "", body))
    return out


U = {"role": "user", "content": "Hi"}
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}
EDGES: list[dict[str, Any]] = [
    {"messages": [U, {"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f", "arguments": None}}]}]},
    {"messages": [U, {"role": "assistant", "tool_calls": [{"type": "function", "function": CALL["function"]}]}]},
    {"messages": [U, {"role": "assistant", "tool_calls": [{"id": "c", "function": CALL["function"]}]}]},
    {"messages": [U, {"role": "assistant", "tool_calls": [{**CALL, "type": "custom"}]}]},
    {"messages": [U, {"role": "assistant", "tool_calls": ["call"]}]},
    {"messages": [U, {"role": "assistant", "content": "x", "tool_calls": None}]},
    {"messages": [{"role": "user", "content": None}]},
    {"messages": [{"role": "user"}]},
    {"messages": [U, {"role": "tool", "content": None}]},
    {"messages": [U, {"role": "tool", "tool_call_id": "c1", "content": {"t": 1}}]},
    {"messages": [{"role": "user", "content": ["a", "b"]}]},
    {"messages": [{"role": "user", "content": [{"type": "input_text", "text": "a"}]}]},
    {"messages": [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "refusal", "refusal": "r"}]}]},
    {"messages": [{"role": "user", "content": [{"type": "thinking", "thinking": "t"}, {"type": "output_text", "text": "o"}]}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]},
    {"messages": [{"role": "user", "content": "x", "name": 3}]},
    {"messages": [{"role": 1, "content": "x"}]},
    {"messages": [{"role": "user", "content": "x", "foo": 1, "tool_call_id": "t", "tool_calls": [CALL]}]},
    {"messages": [U, {"role": "assistant", "content": "x", "reasoning_content": "thought"}]},
    {"messages": [{"role": "wizard", "content": "x"}]},
    {"messages": [{"role": "developer", "content": "d"}, {"role": "system", "content": "s"}, U]},
    {"messages": [{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                  {"role": "developer", "content": ""}, U]},
    {"messages": [U, {"role": "developer", "content": "late"}]},
    {"messages": [U], "tools": [TOOL], "tool_choice": "none"},
    {"messages": [U], "tools": [TOOL], "tool_choice": "required"},
    {"messages": [U], "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    {"messages": [U], "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}},
    {"messages": [U], "tool_choice": "auto"},
    {"messages": [U], "tools": [{"type": "function", "function": {"description": "x"}}]},
    {"messages": [U], "tools": [{"type": "x", "function": {"name": "f"}}]},
    {"messages": [U], "chat_template_kwargs": {"tools": [TOOL]}},
    {"messages": [U], "tools": [TOOL], "chat_template_kwargs": {"tools": [ODD_TOOL]}},
    {"messages": [U], "chat_template_kwargs": []},
    {"messages": [U], "chat_template_kwargs": {"tokenize": True, "add_generation_prompt": False}},
    {"messages": [U], "add_generation_prompt": False, "chat_template_kwargs": {"add_generation_prompt": True}},
    {"messages": [U, {"role": "assistant", "content": "p"}], "continue_final_message": True},
    {"messages": [U, {"role": "assistant", "content": "p"}],
     "chat_template_kwargs": {"continue_final_message": True, "add_generation_prompt": False}},
    {"messages": [U], "chat_template": "{{ messages }}"},
    {"messages": [U], "chat_template_kwargs": {"chat_template": "{{ messages }}"}},
    {"messages": [U], "documents": [{"title": 1}]},
    {"messages": [U], "documents": None},
    {"messages": [U], "add_generation_prompt": "yes"},
    {"messages": []},
    {"messages": [{"role": "system", "content": "x-anthropic-billing-header: cch=1\nBe brief."}, U]},
]


def edge_requests() -> list[tuple[str, str, dict[str, Any]]]:
    return [(template, args, body) for body in EDGES for template in ("official:3.1", "official:3.2-vision")
            for args in ("", "--no-enable-auto-tool-choice")] + [
        ("official:3.1", "--no-enable-auto-tool-choice --tool-call-parser llama3_json", body) for body in EDGES
        if "tools" in body or "tool_choice" in body]


def ours(template: str, engine_args: str, body: dict[str, Any]) -> dict[str, str]:
    try:
        return {"prompt": render(json.loads(json.dumps(body)), template=template, engine="vllm",
                                 engine_args=engine_args, today=date.today())}
    except InputError as exc:  # EngineRejected, or the shape every engine needs (a non-empty message list)
        return {"rejected": str(exc)}


@pytest.fixture(scope="module")
def compared() -> list[tuple[tuple[str, str, dict[str, Any]], dict[str, str], dict[str, str]]]:
    python = vllm_python()
    cases = edge_requests() + fixture_requests() + generated_requests()
    payload = {"cases": [{"template": resolve_template(t).text_for(has_tools=False), "request": body,
                          "server_args": SERVERS[args]} for t, args, body in cases]}
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([python, str(ORACLE)], input=json.dumps(payload), capture_output=True, text=True,
                          env=env, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"the vLLM oracle failed: {done.stderr[-2000:]}")
    theirs = json.loads(done.stdout)["results"]
    return [(case, ours(*case), vllm) for case, vllm in zip(cases, theirs)]


def test_vllm_prompts_match_vllm_itself(compared: list[Any]) -> None:
    disagreements = []
    for (template, args, body), mine, vllm in compared:
        same = ("prompt" in mine and mine == vllm) or ("rejected" in mine and "rejected" in vllm)
        if not same:
            disagreements.append(f"{template} [{args}] {json.dumps(body)[:300]}\n  vllm: {json.dumps(vllm)[:400]}"
                                 f"\n  ours: {json.dumps(mine)[:400]}")
    agree = len(compared) - len(disagreements)
    sys.stderr.write(f"vllm oracle: {agree}/{len(compared)} pairs agree\n")
    assert not disagreements, f"{len(disagreements)}/{len(compared)} disagree:\n" + "\n".join(disagreements[:int(os.environ.get("SHOW", 8))])


def test_generated_requests_are_mostly_accepted(compared: list[Any]) -> None:
    generated = compared[len(edge_requests()) + len(fixture_requests()):]
    accepted = sum("prompt" in vllm for _case, _mine, vllm in generated)
    sys.stderr.write(f"vllm oracle: vLLM accepts {accepted}/{len(generated)} generated requests\n")
    assert accepted >= 0.9 * len(generated), f"vLLM accepts only {accepted}/{len(generated)} generated requests"


def test_rejections_name_the_engine_and_place() -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]}
    with pytest.raises(EngineRejected, match=r"vllm rejects messages\[1\]\.tool_calls\[0\]\.function\.arguments: "
                                             r"an object; vLLM takes JSON text"):
        render(body, template="official:3.1", engine="vllm")


def test_transformers_pin_is_enforced() -> None:
    with pytest.raises(LlamatplError, match="pins transformers"):
        render([{"role": "user", "content": "Hi"}], template="official:3.1", engine="vllm", transformers="5.23")
