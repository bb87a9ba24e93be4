"""diff: features found by probing, per-conversation text and token deltas, output and exit codes."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from llamatpl.diffing.differ import diff_templates as diff, token_delta

REQUIRED = {"format", "bos", "knowledge_date", "today_date_default", "environment_ipython", "tools_placement",
            "tool_role_header", "object_tool_result", "tool_call_format", "end_of_message_token", "python_tag", "content_trim",
            "generation_prompt", "system_prompt_default", "images", "multiple_tool_calls"}


def test_30_to_31_adds_dates_environment_and_ipython_header():
    changed = diff("3.0", "3.1").changed_features
    assert changed["knowledge_date"] == {"a": "no", "b": "yes"}
    assert changed["environment_ipython"]["a"] == "never" and "tools" in changed["environment_ipython"]["b"]
    assert changed["tool_role_header"] == {"a": "tool", "b": "ipython"}


def test_31_to_32_reads_the_clock_and_drops_builtin_calls():
    changed = diff("3.1", "3.2").changed_features
    assert changed["today_date_default"] == {"a": "fixed (26 Jul 2024)", "b": "clock (strftime_now)"}
    assert changed["python_tag"]["b"] == "never" and changed["end_of_message_token"]["b"] == "never"


@pytest.mark.parametrize(("a", "b"), [("3.1", "official:3.1"), ("official:3.2", "official:3.2")])
def test_a_template_against_itself_has_no_differences(a, b):
    report = diff(a, b)
    assert set(report.features) == REQUIRED
    assert not report.differs and all(c.token_delta is None for c in report.conversations)


def test_two_files_compare_by_behaviour_not_by_name(tmp_path):
    copy = tmp_path / "renamed.jinja"
    copy.write_text((ROOT / "templates" / "official" / "3.1.jinja").read_text())
    assert not diff(str(copy), "3.1").differs


def test_token_delta_against_an_independent_count():
    assert token_delta([1, 2, 3], [1, 2, 3]) is None
    assert token_delta([1, 2, 3, 4], [1, 9, 3]) == {"a_tokens": 4, "b_tokens": 3, "first_divergence": 1,
                                                    "added": 1, "removed": 2}


def test_conversation_file_raises_are_reported_per_conversation(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": '
                    '[{"function": {"name": "f", "arguments": {}}}, {"function": {"name": "g", "arguments": {}}}]}]}\n')
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "diff", "3.0", "3.1", "-c", str(path), "-f", "json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    doc = json.loads(proc.stdout)
    conv = doc["conversations"][0]
    assert conv["a_error"] is None and "single tool-calls" in conv["b_error"] and conv["identical"] is False


def test_cli_formats_and_exit_codes():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "llamatpl", "diff", *args], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)

    same = run("3.1", "official:3.1", "--exit-code")
    assert same.returncode == 0 and "21 of 21 conversations render identically" in same.stdout
    text = run("3.0", "3.1")
    assert text.returncode == 0 and "knowledge_date: no -> yes" in text.stdout and "\n+++ official:3.1" in text.stdout
    assert run("3.0", "3.1", "--exit-code").returncode == 1
    pretty = run("3.0", "3.1", "--format", "pretty")
    assert pretty.returncode == 0 and "knowledge_date" in pretty.stdout
    assert run("3.0", "nope.jinja").returncode == 2


def test_diff_of_given_conversations_reads_the_clock_unless_today_is_given(tmp_path):
    """3.2 writes strftime_now's date where 3.1 writes 26 Jul 2024: with the real clock they differ."""
    import datetime

    from llamatpl.rendering.conversation import Conversation
    from llamatpl.diffing.differ import diff_templates

    conv = Conversation.from_data({"messages": [{"role": "user", "content": "Weather?"}],
                                   "tools": [{"type": "function", "function": {"name": "get_weather"}}]})
    today = datetime.date.today()
    live = diff_templates("3.1", "3.2", conversations=[conv])
    assert (live.conversations[0].a == live.conversations[0].b) == (today == datetime.date(2024, 7, 26))
    assert "Today Date: " + today.strftime("%d %b %Y") in live.conversations[0].b
    pinned = diff_templates("3.1", "3.2", conversations=[conv], today=datetime.date(2024, 7, 26))
    assert pinned.conversations[0].a == pinned.conversations[0].b
    path = tmp_path / "c.json"
    path.write_text(json.dumps(conv.to_data()))
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "diff", "3.1", "3.2", "--conversation", str(path),
                           "--today", "2024-07-26", "-f", "text"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "1 of 1 conversations render identically" in proc.stdout
