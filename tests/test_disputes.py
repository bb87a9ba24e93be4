"""Points where Meta's sources disagree: a failure resting on one is reported as disputed, and
``--dialect POINT=SOURCE`` follows the chosen source (docs/reference.md)."""

import pytest

from conftest import ROOT
from llamatpl.errors import UsageError
from llamatpl.verification.compare import verify_conversation
from llamatpl.verification.reference.disputes import POINTS, SOURCES, resolve_dialect

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
ASK = {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": TOOLS}


@pytest.fixture
def tools_in_system_32(tmp_path):
    """The official 3.2 template with functions in the system message by default, as Meta's 3.2 doc has them."""
    text = (ROOT / "templates" / "official" / "3.2.jinja").read_text()
    assert "{%- set tools_in_user_message = true %}" in text
    path = tmp_path / "doc-style-3.2.jinja"
    path.write_text(text.replace("{%- set tools_in_user_message = true %}", "{%- set tools_in_user_message = false %}"))
    return str(path)


def test_a_failure_resting_on_a_disputed_point_is_reported_as_disputed(tools_in_system_32):
    verdict = verify_conversation(tools_in_system_32, ASK, version="3.2")
    assert not verdict.ok
    assert [str(r) for r in verdict.reasons] == [
        "disputed (tools-placement): Meta's 3.2 doc puts functions in the system message"]


def test_dialect_picks_the_source_per_point(tools_in_system_32):
    assert verify_conversation(tools_in_system_32, ASK, version="3.2", dialect="official,tools-placement=doc").ok
    assert verify_conversation("official:3.2", ASK, dialect="official,tools-placement=template").ok
    # a template fault is a fault against every source: no reason is given
    json_text = {"messages": [{"role": "user", "content": "w"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": "{\"a\": 1}"}}]}], "tools": TOOLS,
        "add_generation_prompt": False}
    verdict = verify_conversation("official:3.1", json_text)
    assert verdict.category == "tool-call" and verdict.reasons == ()


def test_the_official_31_date_lines_disagree_with_the_plain_chat_of_meta_s_doc():
    no_date = {"messages": [{"role": "system", "content": "You are a helpful assistant"},
                            {"role": "user", "content": "Answer who are you in the form of jeopardy?"}]}
    verdict = verify_conversation("official:3.1", no_date, dialect="official,date-lines=doc")
    assert verdict.category == "system-block"
    assert [r.point for r in verdict.reasons] == ["date-lines"] and verdict.reasons[0].source == "template"


def test_doc_dialect_reproduces_meta_s_31_plain_chat_example():
    """llama_models/llama3_1/prompt_format.md lines 52-54, byte for byte."""
    from llamatpl.rendering.conversation import Conversation
    from llamatpl.verification.reference import encode

    import llama_models
    from pathlib import Path
    doc = (Path(llama_models.__file__).parent / "llama3_1" / "prompt_format.md").read_text().split("\n")
    shown = "\n".join(doc[51:57]) + "\n"  # the prompt ends in the assistant header and "\n\n"
    conv = Conversation.from_data({"messages": [
        {"role": "system", "content": "You are a helpful assistant"},
        {"role": "user", "content": "Answer who are you in the form of jeopardy?"}]})
    prompt = encode(conv, version="3.1", dialect=resolve_dialect("official,date-lines=doc", "3.1")).prompt
    assert prompt == shown


@pytest.mark.parametrize("spec", ["official,tools-placement=nowhere", "official,no-such-point=doc",
                                  "official,python-tag=doc,tool-definitions=doc"])
def test_bad_dialect_specs_are_usage_errors(spec):
    with pytest.raises(UsageError, match="--dialect"):
        resolve_dialect(spec, "3.1")


def test_every_point_has_answers_from_meta_sources_only():
    for point in POINTS:
        assert {a.source for a in point.answers} <= set(SOURCES), point.name
