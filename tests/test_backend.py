"""The fast backend (minijinja) writes transformers' bytes, and is used only where a check showed it.

Independent truth: transformers' own ``apply_chat_template`` (the oracle of conftest.hf_render) for
the bytes; the verdict machinery is checked by what it does (which backend ran, what it stored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import llamatpl
import llamatpl.probes.backends  # noqa: F401 - installs the differential check
from conftest import FIXTURES, hf_render
from llamatpl.errors import LlamatplError
from llamatpl.rendering import backend, fastjson, gate
from llamatpl.rendering.conversation import Conversation
from llamatpl.rendering.renderer import render_text, render_variables
from llamatpl.rendering.templates import resolve_template
from llamatpl.strategies import conversations

OFFICIAL = ["official:3.0", "official:3.1", "official:3.2", "official:3.2-vision"]
# the tuned templates filter a loop on a value the loop changes (``for ... if ns.tools_at < 0``):
# minijinja filters before the loop, jinja2 as it goes, so their check keeps them on jinja2
BUNDLED = [*OFFICIAL, "tuned:3.1", "tuned:3.2", "tuned:3.2-vision"]
CONTENT_TRIMMED = "{{ messages[0]['content'] | trim }}"


def _version(name: str) -> str:
    return name.split(":")[1]


def _render(name: str, conversation: Conversation, mode: str = "auto") -> tuple[str, str]:
    tpl = resolve_template(name)
    with backend.forced(mode), backend.checking():
        try:
            return "ok", render_text(tpl.text_for(has_tools=conversation.tools is not None), conversation,
                                     special_tokens=tpl.special_tokens, today=None, name=tpl.name)
        except LlamatplError:
            return "raises", ""


def _oracle(hf_tokenizer, name: str, conversation: Conversation) -> tuple[str, str]:
    try:
        return "ok", hf_render(hf_tokenizer, resolve_template(name).text, conversation.to_data())
    except Exception:  # noqa: BLE001 - any failure of the oracle is a raise
        return "raises", ""


@pytest.mark.parametrize("name", BUNDLED)
@given(data=st.data())
def test_fast_path_writes_transformers_bytes(hf_tokenizer, name, data):
    """Byte identity, raises included, on the automatic choice and (official templates, which the
    check lets through) the forced fast path."""
    conversation = data.draw(conversations(version=_version(name)))
    expected = _oracle(hf_tokenizer, name, conversation)
    assert _render(name, conversation) == expected
    if name in OFFICIAL:
        assert _render(name, conversation, backend.MINIJINJA) == expected


@pytest.mark.parametrize("name", ["tuned:3.1", "tuned:3.2", "tuned:3.2-vision"])
def test_tuned_templates_are_kept_on_jinja2(name):
    _render(name, Conversation.from_data([{"role": "user", "content": "Hi"}]))
    choice = backend.LAST.get()
    assert choice is not None and choice.backend == backend.JINJA2 and "differs" in choice.reason, choice


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("name", OFFICIAL)
def test_fixtures_on_the_fast_path(hf_tokenizer, name, fixture):
    conversation = Conversation.from_data(json.loads(fixture.read_text(encoding="utf-8")))
    assert _render(name, conversation, backend.MINIJINJA) == _oracle(hf_tokenizer, name, conversation)


@pytest.mark.parametrize("name", ["official:3.1", "official:3.2", "official:3.2-vision"])
def test_official_templates_are_shown_fast(name):
    _render(name, Conversation.from_data([{"role": "user", "content": "Hi"}]))
    choice = backend.LAST.get()
    assert choice is not None and choice.backend == backend.MINIJINJA, choice
    assert "byte-identical" in choice.reason


def test_a_template_that_differs_stays_on_jinja2():
    # minijinja filters a loop's items before the loop runs; jinja2 filters them as it goes
    text = ("{% set ns = namespace(n=0) %}{% for m in messages if ns.n < 1 %}{% set ns.n = ns.n + 1 %}"
            "{{ m.role }}{% endfor %}")
    conversation = Conversation.from_data([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    with backend.checking():
        out = render_text(text, conversation, special_tokens={})
    choice = backend.LAST.get()
    assert choice is not None and choice.backend == backend.JINJA2 and "differs" in choice.reason, choice
    assert out == "user"
    with backend.scope("transformers 5.23"):
        assert backend.verdict(text).backend == backend.JINJA2  # kept for good


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=12)


@given(value=_JSON, indent=st.integers(0, 8))
def test_fast_tojson_writes_json_dumps_bytes(value, indent):
    assert fastjson.pretty(value, indent) == json.dumps(value, ensure_ascii=False, indent=indent)
    assert fastjson.tojson(value) == json.dumps(value, ensure_ascii=False)


def test_templates_minijinja_cannot_parse_stay_on_jinja2():
    with backend.forced(backend.MINIJINJA):
        out = render_variables("{% generation %}{{ x }}{% endgeneration %}", {"x": "a"})
    assert out == "a"
    assert "cannot parse" in backend.LAST.get().reason


def test_trim_strips_what_python_strips():
    conversation = Conversation.from_data([{"role": "user", "content": "\x1chi\x1f "}])
    with backend.forced(backend.MINIJINJA):
        assert render_text(CONTENT_TRIMMED, conversation, special_tokens={}) == "hi"
    assert backend.LAST.get().backend == backend.MINIJINJA


def test_traced_renders_stay_on_jinja2():
    trace: list[tuple[int, int]] = []
    with backend.forced(backend.MINIJINJA):
        render_variables("{{ x }}", {"x": "a"}, trace=trace)
    assert backend.LAST.get().backend == backend.JINJA2 and trace


def test_errors_read_the_same_on_the_fast_path():
    text = "{{ raise_exception('no ' ~ messages[0].content) }}"
    conversation = Conversation.from_data([{"role": "user", "content": "thanks"}])
    messages = []
    for mode in (backend.JINJA2, backend.MINIJINJA):
        with backend.forced(mode), pytest.raises(LlamatplError) as caught:
            render_text(text, conversation, special_tokens={}, name="t.jinja")
        messages.append(caught.value.message)
    assert messages[0] == messages[1] == "t.jinja line 1: template error: no thanks"


def test_mutation_is_refused_by_the_gate():
    assert gate.eligibility("{{ messages.append(1) }}").refusal
    assert gate.eligibility("{% set a = messages + messages %}{{ a + a }}").refusal
    long = {"messages": [{"role": "user", "content": "x"}] * (gate.MAX_LIST + 1)}
    assert not gate.small_input(long)
    grows_a_list = "{% set ns = namespace(l=[]) %}{% for m in messages %}{% set ns.l = ns.l + [m] %}{% endfor %}"
    assert gate.eligibility(grows_a_list).grows_lists
    assert not gate.eligibility("{% set c = 'a' %}{% set c = c + messages[0].content %}{{ c }}").grows_lists
    with backend.forced(backend.MINIJINJA):
        render_variables(grows_a_list, long)
    assert backend.LAST.get().backend == backend.JINJA2


@pytest.mark.parametrize("text", [
    "{% set ns = namespace(s=[]) %}{% for m in messages %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}{{ ns.s }}",
    "{% set s = {} %}{% for m in messages %}{% set s = dict(a=s, b=s) %}{% endfor %}{{ s|tojson }}",
    "{% set s = [1] %}{% for m in messages %}{% set t = s %}{% set s = [t, t] %}{% endfor %}{{ s }}",
    "{% macro f(s) %}{{ f([s, s]) }}{% endmacro %}{{ f(messages) }}",
], ids=["namespace", "dict-call", "through-a-name", "macro"])
def test_nesting_a_value_in_itself_is_refused_by_the_gate(text):
    assert "growth by nesting" in gate.eligibility(text).refusal


def test_nesting_other_values_passes_the_gate():
    text = ("{% set ns = namespace(s=[], last=none) %}{% for m in messages %}{% set ns.s = ns.s + [[m, ns.last]] %}"
            "{% set ns.last = m %}{% endfor %}{{ ns.s|tojson }}")
    assert gate.eligibility(text).refusal is None


def test_verdicts_persist_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert backend.default_cache_dir() == tmp_path / "llamatpl" / "backend"
    text = "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content | trim }}\n{% endfor %}"
    backend.use_disk_cache(backend.default_cache_dir())
    try:
        with backend.checking():
            render_text(text, Conversation.from_data([{"role": "user", "content": "hi"}]), special_tokens={})
        stored = list((tmp_path / "llamatpl" / "backend").glob(f"{backend.sha256(text)}-*.json"))
        assert len(stored) == 1 and json.loads(stored[0].read_text())["backend"] == backend.MINIJINJA
        backend.forget()
        with backend.scope("transformers 5.23"):
            assert backend.verdict(text).reason.endswith("(cached)")
    finally:
        backend.use_disk_cache(None)


def test_a_single_render_never_runs_the_check(tmp_path):
    """One render uses a verdict already known, else jinja2 unchecked; a JSONL file runs the check
    (and caches it on disk), after which one render takes the fast path."""
    conv = tmp_path / "c.json"
    conv.write_text('[{"role": "user", "content": "hi"}]')
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "llamatpl", "render", str(conv), "--version", "3.1", "--today", "2024-07-26"]
    cold = subprocess.run([*cmd, "--explain-backend"], capture_output=True, text=True, timeout=120, env=env)
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.startswith("backend: jinja2: not yet checked"), cold.stderr
    assert not (tmp_path / "cache").exists()
    lines = tmp_path / "c.jsonl"
    lines.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n' * 2)
    many = subprocess.run([*cmd[:4], str(lines), *cmd[5:], "--explain-backend", "-f", "json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert [json.loads(line)["backend"]["name"] for line in many.stdout.splitlines()] == ["minijinja"] * 2
    assert many.stderr.startswith("backend: minijinja: byte-identical to jinja2")
    warm = subprocess.run([*cmd, "--explain-backend"], capture_output=True, text=True, timeout=120, env=env)
    assert warm.stderr.startswith("backend: minijinja: byte-identical to jinja2") and "(cached)" in warm.stderr
    record = json.loads(subprocess.run([*cmd, "-f", "json"], capture_output=True, text=True, timeout=120,
                                       env=env).stdout)
    assert record["backend"]["name"] == "minijinja" and record["backend"]["reason"].endswith("(cached)")
    assert record["prompt"] == cold.stdout == warm.stdout


def test_the_check_runs_after_many_renders_in_one_process():
    text = "{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}{% endfor %}"
    conversation = Conversation.from_data([{"role": "user", "content": " hi "}])
    for _ in range(backend.CHECK_AFTER - 1):
        render_text(text, conversation, special_tokens={})
        assert backend.LAST.get().reason.startswith("not yet checked")
    render_text(text, conversation, special_tokens={})
    assert backend.LAST.get().backend == backend.MINIJINJA


def test_serving_engines_are_checked_as_themselves():
    """vLLM's request handling builds other variables, so its verdict is its own; llama.cpp's
    flavour of jinja2 is never swapped for minijinja."""
    request = {"messages": [{"role": "user", "content": "Weather in Paris?"},
                            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
                                "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
                            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
               "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]}
    flags = {"vllm": "--enable-auto-tool-choice --tool-call-parser llama3_json", "llama.cpp": ""}
    for engine, expected in (("vllm", backend.MINIJINJA), ("llama.cpp", backend.JINJA2)):
        with backend.checking():
            fast = llamatpl.render(request, version="3.1", engine=engine, engine_args=flags[engine], today="2024-07-26")
        assert backend.LAST.get().backend == expected, (engine, backend.LAST.get())
        with backend.forced(backend.JINJA2):
            slow = llamatpl.render(request, version="3.1", engine=engine, engine_args=flags[engine], today="2024-07-26")
        assert fast == slow


@given(number=st.floats(allow_nan=False) | st.integers(-(2**70), 2**70))
def test_numbers_print_as_jinja2_prints_them(hf_tokenizer, number):
    """Official 3.1 prints a tool result that is not a mapping as it is; minijinja formats floats
    its own way (1e-05 as 0.00001), so such an input renders on jinja2 (transformers' bytes)."""
    conversation = Conversation.from_data({"messages": [{"role": "user", "content": "x"},
                                                        {"role": "tool", "content": number}]})
    expected = _oracle(hf_tokenizer, "official:3.1", conversation)
    assert _render("official:3.1", conversation) == expected
    assert _render("official:3.1", conversation, backend.MINIJINJA) == expected


def test_the_checks_generated_conversations_are_bundled(tmp_path):
    """Drawing the generated conversations is most of a check's cost, so llamatpl ships them drawn:
    as many as GENERATED asks for, each reading back as a conversation; writing them anew refuses
    nothing and gives the same count."""
    from llamatpl.probes import backends

    bundled = backends._generated_cached()
    assert len(bundled) == sum(count for _, _, count in backends.GENERATED)
    assert backends.write_bundled(tmp_path / "drawn.json") == len(bundled)
    assert len(json.loads((tmp_path / "drawn.json").read_text(encoding="utf-8"))) == len(bundled)


@pytest.mark.parametrize("name", ["official:3.1", "official:3.2-vision"])
def test_training_rows_are_the_same_on_both_backends(name):
    """MaskJob renders on minijinja once the verdict is settled, and the prompt, ids and mask of
    every fixture are those of the jinja2 path."""
    from llamatpl.train.masks import MaskJob
    from llamatpl.train.renderers import settle_backend

    job = MaskJob(resolve_template(name), today=__import__("datetime").date(2024, 7, 26))
    assert {c.backend for c in settle_backend(job).values()} == {backend.MINIJINJA}
    for fixture in FIXTURES:
        conversation = Conversation.from_data(json.loads(fixture.read_text(encoding="utf-8")))
        try:
            fast = job.encode(conversation)
        except LlamatplError:
            continue
        with backend.forced(backend.JINJA2):
            slow = job.encode(conversation)
        assert fast == slow, fixture.name


@given(content=st.text(alphabet=st.sampled_from(" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000ab"), max_size=8))
def test_trim_gives_pythons_result_on_every_whitespace(hf_tokenizer, content):
    """minijinja's own trim runs where the input holds no U+001C..U+001F, Python's elsewhere."""
    conversation = Conversation.from_data([{"role": "user", "content": content}])
    expected = _oracle(hf_tokenizer, "official:3.1", conversation)
    assert _render("official:3.1", conversation, backend.MINIJINJA) == expected


def test_trim_with_arguments_keeps_pythons_trim():
    assert gate.plain_trim("{{ messages[0].content | trim }}")
    assert not gate.plain_trim("{{ messages[0].content | trim('x') }}")
    assert not gate.plain_trim("{{ messages | map('trim') | join }}")


def test_a_conversation_changed_by_appending_is_read_again(hf_tokenizer):
    """What the fast backend reads off a conversation is kept on it, and read again when messages
    are appended (here a float minijinja would print otherwise)."""
    conversation = Conversation.from_data([{"role": "user", "content": "x"}])
    _render("official:3.1", conversation, backend.MINIJINJA)
    conversation.messages.append({"role": "tool", "content": 1e-05})
    assert _render("official:3.1", conversation, backend.MINIJINJA) == _oracle(hf_tokenizer, "official:3.1",
                                                                                conversation)


@pytest.mark.parametrize("message", [{"role": "tool", "content": None}, {"role": "tool"}, {"role": "ipython"},
                                     {"role": "user", "content": "a\ud800b"}])
@pytest.mark.parametrize("transformers", ["5.20", "5.23"])
def test_missing_content_and_lone_surrogates_render_as_transformers_does(hf_tokenizer, message, transformers):
    """A new user's trial: minijinja wrote `null` for a tool result without content (transformers raises,
    or under 5.20 writes None) and replaced a lone surrogate; such input renders on jinja2."""
    conversation = Conversation.from_data({"messages": [{"role": "user", "content": "q"}, message]})
    tpl = resolve_template("official:3.1")

    def render(mode: str) -> tuple[str, str]:
        with backend.forced(mode), backend.checking():
            try:
                return "ok", render_text(tpl.text, conversation, special_tokens=tpl.special_tokens,
                                         name=tpl.name, transformers=transformers)
            except LlamatplError:
                return "raises", ""

    expected = render(backend.JINJA2)
    if transformers == "5.23":
        assert expected == _oracle(hf_tokenizer, "official:3.1", conversation)
    assert render(backend.MINIJINJA) == expected == render("auto")


def test_cached_verdicts_are_checked_before_they_are_trusted(tmp_path, monkeypatch):
    """A verdict file names a real backend and the releases that made it (another llamatpl or
    minijinja checks again)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "{{ messages[0]['content'] | trim }}!"
    backend.use_disk_cache(backend.default_cache_dir())
    try:
        with backend.checking():
            render_text(text, Conversation.from_data([{"role": "user", "content": "hi"}]), special_tokens={})
        (stored,) = (tmp_path / "llamatpl" / "backend").glob(f"{backend.sha256(text)}-*.json")
        good = json.loads(stored.read_text())
        for changed in ({"backend": "rust"}, {"made_by": "llamatpl 0.0.1, minijinja 9.9.9"}, {"reason": 5}):
            stored.write_text(json.dumps({**good, **changed}))
            backend.forget()
            with backend.scope("transformers 5.23"):
                assert not backend.verdict(text).reason.endswith("(cached)"), changed
    finally:
        backend.use_disk_cache(None)


def test_a_jsonl_template_error_names_the_input_line(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}]}\n'
                    '{"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": null}]}\n')
    done = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(data), "--version", "3.1", "--format", "ids"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith(f"{data}:2: official:3.1 line ")


@pytest.mark.parametrize("fixture", ["tool-round-trip", "tools-in-system", "tool-result-string"])
def test_tool_conversations_take_the_fast_path(fixture):
    """Tool definitions have no `content`; only messages are read for missing values."""
    (path,) = [f for f in FIXTURES if f.stem == fixture]
    conversation = llamatpl.load_conversation(str(path))
    tpl = resolve_template("official:3.1")
    with backend.forced(backend.MINIJINJA):
        render_text(tpl.text, conversation, special_tokens=tpl.special_tokens, name=tpl.name)
    assert backend.LAST.get().backend == backend.MINIJINJA


def _filtered(hf_tokenizer, filters: str, content: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """``{{ messages[0].content | filters }}`` on the forced fast path and through transformers:
    ("ok", text) or ("raises", "") each."""
    text = "{{ messages[0].content | " + filters + " }}"
    conversation = Conversation.from_data([{"role": "user", "content": content}])
    try:
        expected = "ok", hf_render(hf_tokenizer, text, conversation.to_data())
    except Exception:  # noqa: BLE001 - any failure of the oracle is a raise (jinja2 has no bool filter)
        expected = "raises", ""
    with backend.forced(backend.MINIJINJA):
        try:
            fast = "ok", render_text(text, conversation, special_tokens={}, today=None, name="filters")
        except LlamatplError:
            fast = "raises", ""
    return fast, expected


_TEXT_FILTERS = ["lower", "upper", "title", "capitalize", "escape", "e", "trim", "string"]


@pytest.mark.parametrize("name", _TEXT_FILTERS)
@given(content=st.text(alphabet=st.sampled_from("aZ 1'\"&<>/-([{ \u01c6\u01c5\u00df\u03a3\u0130x\t\n"), max_size=24))
def test_text_filters_give_jinja2s_text_on_the_fast_path(hf_tokenizer, name, content):
    """A trial found ``title`` and ``escape`` written by minijinja's own rules on long contents that the
    backend check never saw (``Don'T``, ``&#x27;``): these filters run jinja2's rule on the fast path."""
    fast, expected = _filtered(hf_tokenizer, name, content)
    assert fast == expected and expected[0] == "ok"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", " 3 ", "1_0.5", "1e3", "x", "2", "0.1"])
@pytest.mark.parametrize("filters", ["float", "float(1.5)", "float|round(1)", "bool"])
def test_number_filters_give_jinja2s_text_or_its_error_on_the_fast_path(hf_tokenizer, value, filters):
    fast, expected = _filtered(hf_tokenizer, filters, value)
    assert fast == expected


_LIST_FILTERS = ["int", "int|round(1)", "list|sort|join(',')", "list|sort(reverse=true)|join", "list|unique|join",
                 "list|min", "list|max", "length", "first", "last", "reverse|join", "default('x')", "count",
                 "list|sort(case_sensitive=true)|join", "list|unique(case_sensitive=true)|join"]


@pytest.mark.parametrize("filters", _LIST_FILTERS)
@given(content=st.text(alphabet=st.sampled_from("aAbB1 \u00df\u0130\u01c6\u01c5-.+e"), max_size=10))
def test_other_fast_filters_give_jinja2s_text_or_its_error(hf_tokenizer, filters, content):
    """The gate's other filters on text a check conversation would not hold (case, digits, signs)."""
    fast, expected = _filtered(hf_tokenizer, filters, content)
    assert fast == expected
