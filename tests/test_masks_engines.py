"""Training masks under every serving engine (``llamatpl prepare --engine E``).

The truth each mask is held to is independent of how llamatpl finds it (prefix renders):

* the Llama 3 format itself (Meta's ``ChatFormat``): in the prompt an engine serves, each assistant
  turn is its header, then what the assistant wrote, then ``<|eot_id|>`` / ``<|eom_id|>``, or nothing
  when the engine leaves the last turn open; the masked text must be exactly those bodies;
* each engine's own cited behaviour for the last message: llama.cpp b10573 continues a trailing
  assistant message by default (``oaicompat_chat_params_parse``: no end token), TGI v3.3.7 cuts the
  prompt after it (``ChatTemplate::apply``), transformers and vLLM close it;
* the message contents themselves (text + closing token, as the engine writes them), and vLLM 0.33.0's
  own prompt when ``LLAMATPL_VLLM_PYTHON`` names its venv (tests/oracles/vllm_render.py).
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
from hypothesis import given

from llamatpl.engines import get_engine
from llamatpl.errors import InputError, RenderError
from llamatpl.rendering.conversation import Conversation
from llamatpl.rendering.templates import resolve_template
from llamatpl.strategies import conversations
from llamatpl.tokens.tokenizer import get_tokenizer
from llamatpl.train.masks import MaskError, MaskJob
from llamatpl.verification.prefix import NotPrefixStable, check_prefixes

TODAY = date(2024, 7, 26)
HEADER = "<|start_header_id|>assistant<|end_header_id|>\n\n"
EOT = "<|eot_id|>"
ENDS = (EOT, "<|eom_id|>")
ENGINES = ["transformers", "vllm", "llama.cpp", "tgi", "llama.cpp --no-prefill-assistant"]
ARGS = '{"city": "Paris"}'
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


CALLING = {"role": "assistant", "content": None, "tool_calls": [CALL]}
RESULT = {"role": "tool", "tool_call_id": "c1", "content": "sunny, 20C"}
BODIES = {
    "tools": {"messages": [{"role": "system", "content": "Be brief."}, user("Hi"), assistant("Hello!"),
                           user("Weather in Paris?"), CALLING, RESULT, assistant("Sunny, 20C."), user("Thanks")],
              "tools": [TOOL]},
    "consecutive": {"messages": [user("Hi"), assistant("One."), assistant("Two."), user("ok")]},
    "ends_with_answer": {"messages": [user("Hi"), assistant("Hello!"), user("Bye"), assistant("Bye!")]},
    "call_then_answer": {"messages": [user("Weather?"), CALLING, RESULT, assistant("Sunny.")], "tools": [TOOL]},
}


def job_for(engine: str, template: str = "official:3.1", generation_prompt: bool | None = None) -> MaskJob:
    name, _, args = engine.partition(" ")
    chosen = None if name == "transformers" else get_engine(name, engine_args=args)
    return MaskJob(resolve_template(template), engine=chosen, today=TODAY, generation_prompt=generation_prompt)


def turns_in(prompt: str) -> list[str]:
    """What follows each assistant header up to and with its end token, or to the end of an open turn."""
    turns, at = [], 0
    while (head := prompt.find(HEADER, at)) >= 0:
        start = head + len(HEADER)
        ends = [e + len(EOT) for e in (prompt.find(end, start) for end in ENDS) if e >= 0]
        at = min(ends) if ends else len(prompt)
        if at > start:  # the trailing generation prompt is a header with nothing after it
            turns.append(prompt[start:at])
    return turns


def masked_runs(job: MaskJob, input_ids: list[int], mask: list[int]) -> list[str]:
    tokenizer = get_tokenizer(job.template.version)
    runs: list[str] = []
    run: list[int] = []
    for token, bit in [*zip(input_ids, mask), (0, 0)]:
        if bit:
            run.append(token)
        elif run:
            runs.append(tokenizer.decode(run))
            run = []
    return runs


def encode(job: MaskJob, body: dict[str, Any]) -> Any:
    return job.encode(job.read(json.loads(json.dumps(body)), "data.jsonl:1"))


def tool_call_text(engine: str) -> str:
    """The tool call as each engine's prompt writes it with official 3.1: transformers passes the JSON text
    on (the template's tojson quotes it again), vLLM and llama.cpp parse it into an object first, TGI
    flattens the message to the JSON of its calls (router/src/lib.rs, ``From<Message> for TextMessage``)."""
    if engine == "tgi":
        calls = [{"id": "c1", "type": "function",
                  "function": {"description": None, "name": "get_weather", "arguments": json.dumps(ARGS)}}]
        return json.dumps(calls, separators=(",", ":"))
    arguments = json.dumps(ARGS) if engine == "transformers" else json.dumps(json.loads(ARGS))
    return f'{{"name": "get_weather", "parameters": {arguments}}}'


def expected_turns(engine: str, body: dict[str, Any], generation_prompt: bool | None) -> list[str]:
    """Each assistant message's text + closing token; the last one left open where the engine continues it."""
    messages = body["messages"]
    out = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        text = m["content"] if m.get("content") is not None else tool_call_text(engine)
        prefilled = engine in ("llama.cpp", "tgi") and i == len(messages) - 1
        out.append(text if prefilled else text + EOT)
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(BODIES))
@pytest.mark.parametrize("generation_prompt", [None, False])
def test_masked_text_is_each_assistant_turn_as_the_engine_writes_it(engine, case, generation_prompt):
    body = BODIES[case]
    job = job_for(engine, generation_prompt=generation_prompt)
    if engine == "tgi" and "tools" in body and body["messages"][-1]["role"] == "assistant":
        # ChatTemplate::apply appends the tool prompt to the last message, whatever its role
        with pytest.raises(MaskError, match=r"messages\[3\]: tgi appends its tool prompt to the last message"):
            encode(job, body)
        return
    encoded = encode(job, body)
    want = expected_turns(engine, body, generation_prompt)
    assert turns_in(encoded.prompt) == want  # the engine's prompt, read as Meta's format says
    assert [encoded.prompt[s:e] for s, e in encoded.spans] == want
    assert masked_runs(job, encoded.input_ids, encoded.assistant_mask) == want  # no header, user or tool text


@pytest.mark.parametrize("engine", ENGINES)
def test_the_last_turn_is_what_the_engine_made_of_it(engine):
    encoded = encode(job_for(engine), BODIES["ends_with_answer"])
    if engine in ("llama.cpp", "tgi"):  # continued: the prompt ends inside the turn, which runs to the end
        assert encoded.prompt.endswith("Bye!") and encoded.assistant_mask[-1] == 1
    else:  # closed, then the generation prompt (masked 0)
        assert encoded.prompt.endswith("Bye!" + EOT + HEADER) and encoded.assistant_mask[-4:] == [0, 0, 0, 0]


def test_llama_cpp_prefill_changes_only_the_last_turn():
    on, off = (encode(job_for(e), BODIES["tools"] | {"messages": BODIES["tools"]["messages"][:-1]})
               for e in ("llama.cpp", "llama.cpp --no-prefill-assistant"))
    assert on.spans[:-1] == off.spans[:-1]
    assert on.prompt[slice(*on.spans[-1])] + EOT == off.prompt[slice(*off.spans[-1])]


def test_llama_cpp_refuses_a_prefilled_tool_call_it_does_not_write():
    body = {"messages": [user("Weather?"), CALLING], "tools": [TOOL]}
    with pytest.raises(MaskError, match=r"data.jsonl:1: messages\[1\]: llama.cpp continues a final assistant "
                                        r"message .* --no-prefill-assistant"):
        encode(job_for("llama.cpp"), body)
    assert encode(job_for("llama.cpp --no-prefill-assistant"), body).spans  # closed, the call is masked


def test_a_continued_turn_the_engine_cuts_elsewhere_is_refused_naming_the_engine():
    # ChatTemplate::apply cuts after the last occurrence of the final message's text; official 3.1
    # trims "ok " to "ok", so the only "ok " left is inside the user's turn
    body = {"messages": [user("ok then"), assistant("ok ")]}
    with pytest.raises(MaskError, match=r"messages\[1\]: tgi continues the final assistant message by cutting"):
        encode(job_for("tgi"), body)


def test_a_continued_turn_with_no_text_in_the_prompt_has_nothing_masked():
    # oaicompat_chat_params_parse + generate_parser: an empty prefilled message adds nothing, not even its header
    encoded = encode(job_for("llama.cpp"), {"messages": [user("Hi"), assistant("A."), user("Go"), assistant("")]})
    assert not encoded.prompt.endswith(HEADER) and encoded.prompt.endswith("Go" + EOT)
    assert [encoded.prompt[s:e] for s, e in encoded.spans] == ["A." + EOT]
    # ChatTemplate::apply: trim_end after the cut takes a blank message (tuned 3.1 writes it untrimmed)
    # and the header's newlines with it
    blank = {"messages": [user("Hi"), assistant("A."), user("Go"), assistant("\t")]}
    encoded = encode(job_for("tgi", "tuned:3.1"), blank)
    assert encoded.prompt.endswith("<|end_header_id|>")
    assert [encoded.prompt[s:e] for s, e in encoded.spans] == ["A." + EOT]


@pytest.mark.parametrize("engine", ["transformers", "vllm", "llama.cpp", "tgi"])
@pytest.mark.parametrize("template", ["official:3.0", "official:3.1", "official:3.2", "tuned:3.1"])
def test_a_conversation_that_starts_with_the_assistant_is_refused_in_one_clear_line(engine, template):
    body = {"messages": [assistant("I start."), user("ok"), assistant("fine")]}
    with pytest.raises(MaskError) as caught:
        encode(job_for(engine, template), body)
    assert not isinstance(caught.value, NotPrefixStable)
    assert str(caught.value).startswith("data.jsonl:1: messages[0]: the conversation starts with an assistant "
                                        "message") and "\n" not in str(caught.value)


@pytest.mark.parametrize("engine", ["transformers", "vllm", "llama.cpp", "tgi"])
def test_generated_conversations_are_masked_turn_by_turn_never_blaming_the_template(engine):
    job = job_for(engine)
    seen = {"checked": 0}

    @given(conversations(version="3.1", max_turns=3))
    def check(conv: Conversation) -> None:
        data = conv.to_data()
        if "<|" in json.dumps(data) or "assistant<" in json.dumps(data):
            return  # special-token text in content would blur the format's own markers
        request = conv if job.engine is None else job.engine.as_request(conv)
        verdict = check_prefixes(job.template, conv, today=TODAY, engine=job.engine or get_engine())
        try:
            encoded = job.encode(request)
        except NotPrefixStable as exc:  # official 3.1 is prefix-stable: this would blame it wrongly
            raise AssertionError(str(exc)) from None
        except MaskError as exc:  # only what the engine itself makes of the last turn
            assert engine in str(exc) or "messages[0]" in str(exc), str(exc)
            assert verdict.rejected and verdict.error == exc.message  # verify --prefix says the same
            return
        except (InputError, RenderError):  # the engine or the template refuses the conversation
            return
        assert verdict.ok, verdict.error
        seen["checked"] += 1
        assert [encoded.prompt[s:e] for s, e in encoded.spans] == turns_in(encoded.prompt)

    check()
    assert seen["checked"] >= 10


# ------------------------------------------------------------------ verify --prefix agrees with prepare


@pytest.mark.parametrize("engine", ["transformers", "vllm", "llama.cpp", "tgi"])
def test_verify_prefix_passes_what_prepare_masks_and_not_what_it_refuses(engine):
    job = job_for(engine)
    bodies = [*BODIES.values(), {"messages": [assistant("I start."), user("ok")]},
              {"messages": [user("Weather?"), CALLING], "tools": [TOOL]}]
    for body in bodies:
        conv = job.read(json.loads(json.dumps(body)), "data.jsonl:1")
        verdict = check_prefixes(job.template, conv, today=TODAY, engine=job.engine or get_engine())
        try:
            job.encode(conv)
        except MaskError as exc:
            assert verdict.rejected and verdict.error == exc.message, (body, verdict)
        else:
            assert verdict.ok, (body, verdict.error)


def test_verify_prefix_cli_does_not_pass_an_assistant_first_conversation(tmp_path):
    path = tmp_path / "first.json"
    path.write_text(json.dumps({"messages": [assistant("I start."), user("ok")]}))
    for engine in ("transformers", "tgi"):
        done = subprocess.run([sys.executable, "-m", "llamatpl", "verify", "official:3.1", "--prefix",
                               "--conversation", str(path), "--engine", engine], capture_output=True, text=True)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "PASS" not in done.stdout
        assert "messages[0]: the conversation starts with an assistant message" in done.stdout


def test_exported_template_raises_the_same_line_in_transformers(hf_tokenizer):
    from jinja2.exceptions import TemplateError

    from llamatpl.train.generation_tags import with_generation_tags
    from llamatpl.verification.prefix import FIRST_IS_ASSISTANT

    tagged = with_generation_tags(resolve_template("official:3.1").text)
    with pytest.raises(TemplateError, match=r"^messages\[0\]: the conversation starts with an assistant message"):
        hf_tokenizer.apply_chat_template([assistant("I start."), user("ok")], chat_template=tagged, tokenize=False)
    assert "'" not in FIRST_IS_ASSISTANT  # it sits in a single-quoted Jinja string


# ------------------------------------------------------------------ vLLM itself


def test_vllm_prompts_and_turns_match_vllm_itself():
    python = os.environ.get("LLAMATPL_VLLM_PYTHON", "")
    if not python or not os.access(python, os.X_OK):
        pytest.skip("LLAMATPL_VLLM_PYTHON does not name the vLLM 0.33.0 venv's python (.ci/vllm-venv.sh)")
    oracle = Path(__file__).resolve().parent / "oracles" / "vllm_render.py"
    template = resolve_template("official:3.1")
    cases = [(body, agp) for body in BODIES.values() for agp in (True, False)]
    payload = {"cases": [{"template": template.text, "request": {**body, "add_generation_prompt": agp},
                          "server_args": ["--enable-auto-tool-choice", "--tool-call-parser", "llama3_json"]}
                         for body, agp in cases]}
    done = subprocess.run([python, str(oracle)], input=json.dumps(payload), capture_output=True, text=True,
                          env={**os.environ, "VLLM_TARGET_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for (body, agp), theirs in zip(cases, json.loads(done.stdout)["results"]):
        encoded = encode(job_for("vllm", generation_prompt=agp), body)
        assert theirs.get("prompt") == encoded.prompt
        assert [encoded.prompt[s:e] for s, e in encoded.spans] == turns_in(theirs["prompt"])


# ------------------------------------------------------------------ TGI's closed render, against TGI's own tests


def test_tgi_prefix_renders_as_the_routers_own_template_tests():
    """TGI's chat_template.rs unit tests (tests/data/tgi) render flattened messages with the
    add_generation_prompt they choose and no prefill cut: what ``TGI.prefix`` must give for the same
    messages sent as a request (the request path itself always adds the prompt, and cuts)."""
    from test_engine_tgi import CASES, TODAY as TGI_TODAY, _case, _expected, _template

    engine = get_engine("tgi")
    checked = 0
    for path in CASES:
        case = _case(path)
        inputs = case.get("inputs", {})
        if case["level"] != "template" or "expected_error" in case or inputs.get("tools"):
            continue
        if any("tool_call_id" in m for m in inputs["messages"]):
            continue  # From<Message> for TextMessage never sets it: not reachable through a request
        body = {"messages": [{"role": m["role"], "content": m["content"]} for m in inputs["messages"]]}
        conv = Conversation.from_request(body)
        got = engine.prefix(conv, len(body["messages"]), bool(inputs["add_generation_prompt"]), _template(case),
                            today=TGI_TODAY)
        assert got == _expected(case), case["source"]["test"]
        checked += 1
    assert checked >= 20


def test_prepare_cli_names_the_line_of_an_assistant_first_conversation(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(BODIES["consecutive"]) + "\n" + json.dumps({"messages": [assistant("Hi.")]}) + "\n")
    for version in ("3.0", "3.1"):
        done = subprocess.run([sys.executable, "-m", "llamatpl", "prepare", str(data), "-o", str(tmp_path / "o.jsonl"),
                               "--version", version], capture_output=True, text=True)
        assert done.returncode == 2 and not (tmp_path / "o.jsonl").exists()
        lines = [line for line in done.stderr.splitlines() if "PyTorch" not in line]
        assert lines == [f"{data}:2: messages[0]: the conversation starts with an assistant message: its turn starts "
                         "where the conversation before it ends when rendered with the generation prompt, and the "
                         "template cannot render that empty conversation, so the turn cannot be located (begin "
                         "with a system or user message)"]
