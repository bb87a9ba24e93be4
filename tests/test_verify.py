"""verify catches each kind of template fault with its category, and passes a correct template."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from llamatpl import strategies
from llamatpl.verification.compare import CATEGORIES, verify_conversation as verify
from llamatpl.verification.search import verify_template
from llamatpl.rendering.templates import resolve_template

DATA = Path(__file__).parent / "data" / "verify"

BROKEN = {
    "3.0-header-one-newline.jinja": "header",
    "3.0-double-bos.jinja": "bos",
    "3.0-no-eot.jinja": "end-token",
    "3.0-generation-prompt-ignored.jinja": "generation-prompt",
    "3.1-no-knowledge-date.jinja": "system-block",
}


@pytest.mark.parametrize(("name", "category"), sorted(BROKEN.items()))
def test_verify_catches_broken_template(name, category):
    report = verify_template(resolve_template(str(DATA / name)), examples=100, seed=0)
    assert not report.ok
    assert report.failure.category == category


def test_official_30_passes_against_the_30_reference_with_only_inherent_findings():
    # Llama 3.0's reference (meta-llama/llama3 llama/tokenizer.py:219 at 0053e6b) strips content, as
    # the official template's | trim does.
    report = verify_template(resolve_template("official:3.0"), version="3.0", examples=200, seed=0)
    assert report.ok, report.failure
    assert report.inherent["special-token-injection"] > 0  # the strategy does hunt for them
    strict = verify_template(resolve_template("official:3.0"), examples=200, seed=0, strict=True)
    assert not strict.ok and strict.failure.inherent in ("boundary-merge", "special-token-injection")


def test_a_30_template_without_trim_fails_with_a_content_category():
    report = verify_template(resolve_template(str(DATA / "3.0-no-trim.jinja"), version="3.0"), examples=100, seed=0)
    assert not report.ok and report.failure.category == "untrimmed-content"
    verdict = verify(str(DATA / "3.0-no-trim.jinja"), [{"role": "user", "content": "hi "}], version="3.0")
    assert verdict.category == "untrimmed-content" and verdict.reasons == ()  # 3.0's sources agree


# The official templates' known faults (../shared/FACTS.md), each pinned to its category so a change
# in a template's behaviour, or in llamatpl's judgement of it, is noticed.
KNOWN_FAULTS = [
    ("3.1", [{"role": "user", "content": " hi"}], {}, "trimmed-content"),
    ("3.1", [{"role": "user", "content": "w"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "f", "arguments": {}}}]}, {"role": "tool", "content": "sunny, 20C"}], {"tools": [{"type": "function", "function": {"name": "f"}}]}, "tool-output"),
    ("3.1", [{"role": "user", "content": "w"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "f", "arguments": "{\"a\": 1}"}}]}], {"tools": [{"type": "function", "function": {"name": "f"}}], "add_generation_prompt": False}, "tool-call"),
    ("3.1", [{"role": "user", "content": "w"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "f", "arguments": {"a": 1}}}]}], {"tools": [{"type": "function", "function": {"name": "f"}}], "builtin_tools": ["brave_search"], "add_generation_prompt": False}, "end-token"),
    ("3.1", [{"role": "user", "content": "run"}, {"role": "assistant", "tool_calls": [
        {"function": {"name": "code_interpreter", "arguments": {"code": "print(1)"}}}]}], {"builtin_tools": ["brave_search", "code_interpreter"], "add_generation_prompt": False}, "tool-call"),
    ("3.1", [{"role": "user", "content": "run"}], {"builtin_tools": ["code_interpreter"]}, "system-block"),
    ("3.2", [{"role": "user", "content": "hi\n"}], {}, "trimmed-content"),
    ("3.2-vision", [{"role": "system", "content": "Be brief. "}, {"role": "user", "content": "hi"}], {}, "trimmed-content"),
]


@pytest.mark.parametrize(("version", "messages", "extra", "category"), KNOWN_FAULTS)
def test_official_template_known_fault(version, messages, extra, category):
    verdict = verify(f"official:{version}", {"messages": messages, **extra})
    assert verdict.category == category, verdict


@pytest.mark.parametrize("version", ["3.1", "3.2", "3.2-vision"])
def test_every_later_official_template_fails_the_search_with_a_known_category(version):
    report = verify_template(resolve_template(f"official:{version}"), examples=100, seed=0)
    assert not report.ok and report.failure.category in CATEGORIES


def test_verify_cli_exit_codes_and_json(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "llamatpl", "verify", *args], capture_output=True, text=True,
                              timeout=300, cwd=ROOT)

    no_trim = str(DATA / "3.0-no-trim.jinja")
    bad = run(no_trim, "--version", "3.0", "--examples", "50", "--format", "json")
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["ok"] is False and doc["category"] == "untrimmed-content"
    assert set(doc) >= {"examples", "counterexample", "first_divergence", "expected_ids", "actual_ids", "inherent"}
    saved = tmp_path / "counterexample.json"
    saved.write_text(json.dumps(doc["counterexample"]))
    again = run(no_trim, "--version", "3.0", "--conversation", str(saved))
    assert again.returncode == 1 and "untrimmed-content" in again.stdout
    good = run("official:3.0", "--version", "3.0", "--examples", "50")
    assert good.returncode == 0 and good.stdout.startswith("PASS")
    assert run("official:3.0", "--examples", "0").returncode == 2


def test_same_seed_same_counterexample():
    tpl = resolve_template("official:3.1")
    a = verify_template(tpl, examples=60, seed=7).failure
    b = verify_template(tpl, examples=60, seed=7).failure
    assert a.conversation.to_data() == b.conversation.to_data()


def test_strategies_public_surface():
    public = {name for name in dir(strategies) if not name.startswith("_")}
    assert set(strategies.__all__) == public - {"annotations"}
    assert set(strategies.__all__) == {"contents", "conversations", "messages", "tool_calls", "tools"}


def test_runaway_template_fails_as_raises_after_one_deadline(tmp_path):
    from llamatpl.rendering.limits import Limits

    path = tmp_path / "loop.jinja"
    path.write_text("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    report = verify_template(resolve_template(str(path), version="3.0"), examples=20,
                             limits=Limits(seconds=0.5))
    assert not report.ok and report.failure.category == "raises" and report.failure.limited
    assert "time limit" in report.failure.error
