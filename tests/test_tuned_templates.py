"""The tuned templates: token-exact over the verify strategy space, lint-clean, and a parser round trip."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES, ROOT
from llamatpl import parse_tool_calls, render
from llamatpl.lint import lint_paths
from llamatpl.verification.search import verify_template
from llamatpl.strategies import tool_calls
from llamatpl.rendering.templates import resolve_template
from llamatpl.toolcalls.parser import parse_output


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.2-vision"])
def test_tuned_template_is_token_exact_over_300_examples(version):
    report = verify_template(resolve_template(f"tuned:{version}"), examples=300, seed=0)
    assert report.ok, report.failure
    assert report.dialect == f"tuned-{version.removesuffix('-vision')}"


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.2-vision"])
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_tuned_template_is_token_exact_on_fixtures(version, fixture):
    report = verify_template(resolve_template(f"tuned:{version}"), conversations=[
        __import__("llamatpl").load_conversation(str(fixture))])
    assert report.ok, report.failure


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.2-vision"])
def test_tuned_template_has_no_lint_error_or_warning(version):
    found = [f for f in lint_paths([str(ROOT / "templates" / "tuned" / f"{version}.jinja")]) if f.fails]
    assert found == []


def _turn(version: str, calls: list) -> str:
    tools = [{"type": "function", "function": {"name": c["function"]["name"]}} for c in calls]
    prompt = render({"messages": [{"role": "user", "content": "go"}, {"role": "assistant", "tool_calls": calls}],
                     "tools": tools, "add_generation_prompt": False}, template=f"tuned:{version}")
    return prompt.rsplit("<|start_header_id|>assistant<|end_header_id|>\n\n", 1)[1]


def _plain(calls: list) -> list:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"]) if isinstance(c["function"]["arguments"], str)
             else c["function"]["arguments"]) for c in calls]


@pytest.mark.parametrize("version", ["3.1", "3.2"])
@given(calls=st.lists(tool_calls(), min_size=1, max_size=3))
def test_render_then_parse_gives_the_same_calls(version, calls):
    turn = _turn(version, calls)
    # JSON calls joined by "; " are vLLM's llama3_json form (Meta's decoder reads one JSON call)
    engine = {"engine": "vllm", "tool_call_parser": "llama3_json"} if turn.startswith("{") else {}
    assert _plain(parse_output(turn, version=version, **engine).tool_calls) == _plain(calls)


def test_builtin_calls_and_code_round_trip():
    prompt = render({"builtin_tools": ["brave_search", "code_interpreter"], "add_generation_prompt": False,
                     "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
                         {"function": {"name": "brave_search", "arguments": {"query": "gold price"}}}]}]},
                    template="tuned:3.1")
    turn = prompt.rsplit("<|end_header_id|>\n\n", 1)[1]
    assert turn == '<|python_tag|>brave_search.call(query="gold price")<|eom_id|>'
    assert _plain(parse_tool_calls(turn)) == [("brave_search", {"query": "gold price"})]
    assert _plain(parse_tool_calls("<|python_tag|>print(1)<|eom_id|>")) == [("code_interpreter", {"code": "print(1)"})]


@pytest.mark.parametrize("text", ["The weather is sunny.", "[not, calls]", "{\"no_name\": 1}", ""])
def test_text_that_is_not_a_call_is_content(text):
    assert parse_tool_calls(text, version="3.2") == []
    assert parse_output(text, version="3.2").content == text


def test_tuned_31_fixes_the_official_defects():
    conv = json.loads((ROOT / "fixtures" / "arguments-json-string.json").read_text())
    prompt = render(conv, template="tuned:3.1")
    assert '"parameters": {"origin": "SFO"' in prompt  # JSON text written once
    assert "[{\"flight\": \"UA 512\", \"price\": 289}]<|eot_id|>" in prompt  # string result as given
    assert "answer the original question in natural language" in prompt  # the default system line
    assert prompt.index('"search_flights"') < prompt.index("<|eot_id|>")  # tools in the system message
