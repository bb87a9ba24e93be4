"""verify per feature area: each area searched on its own and reported (pass / fail / disputed /
unsupported / rejected), --features, the JSON shape, and the tuned templates' documented departures."""

import json
import re
import subprocess
import sys

import pytest
from hypothesis import find

from conftest import ROOT
from llamatpl.engines.transformers import Transformers
from llamatpl.errors import UsageError
from llamatpl.rendering.templates import resolve_template
from llamatpl.strategies import conversations
from llamatpl.verification.areas import areas_for, areas_of
from llamatpl.verification.search import verify_template


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "llamatpl", "verify", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_official_31_is_a_map_not_its_first_crack():
    proc = _cli("official:3.1", "--format", "json", "--examples", "20")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    # today's top-level keys stay, and the first failing area's verdict is the top-level one
    assert {"ok", "category", "counterexample", "first_divergence", "expected_ids", "inherent", "engine",
            "rejected"} <= set(doc) and doc["ok"] is False
    features = doc["features"]
    assert list(features) == [a.name for a in areas_for("3.1")]
    assert all({"status", "category", "counterexample"} <= set(f) for f in features.values())
    # the official templates raise_exception on more than one call: a refusal, not a fault
    assert features["parallel-calls"]["status"] == "unsupported"
    assert "raises on purpose" in features["parallel-calls"]["note"]
    # JSON-text arguments encoded again (FACTS.md defect 2): a fault against every Meta source
    assert features["arguments-json-text"] == {**features["arguments-json-text"], "status": "fail",
                                               "category": "tool-call", "disputed": []}
    # trimming is where the 3.1 template and llama-models' ChatFormat disagree
    assert features["plain-chat"]["status"] == "disputed"
    assert features["plain-chat"]["disputed"] == ["disputed (content-trim): Meta's 3.1 template trims every "
                                                  "message's content"]
    assert doc["category"] == next(f["category"] for f in features.values() if f["status"] == "fail")


def test_text_output_is_a_table_first_then_details():
    proc = _cli("official:3.1", "--features", "plain-chat,parallel-calls,arguments-json-text", "-n", "20")
    lines = proc.stdout.split("\n")
    assert proc.returncode == 1 and lines[0].startswith("FAIL official:3.1")
    assert [line.split()[:2] for line in lines[1:4]] == [  # in the areas' own order
        ["plain-chat", "disputed"], ["arguments-json-text", "fail"], ["parallel-calls", "unsupported"]]
    assert "== arguments-json-text: tool-call" in proc.stdout and "== parallel-calls" not in proc.stdout


def test_features_option_restricts_and_unknown_names_are_usage_errors():
    report = verify_template(resolve_template("tuned:3.1"), examples=20, features=["plain-chat", "prefill"])
    assert list(report.features) == ["plain-chat", "prefill"] and report.ok
    with pytest.raises(UsageError, match="--features"):
        verify_template(resolve_template("tuned:3.1"), features=["bogus"])
    assert _cli("tuned:3.1", "--features", "bogus").returncode == 2


def test_a_template_that_ignores_system_messages_is_unsupported_there(tmp_path):
    text = (ROOT / "templates" / "official" / "3.0.jinja").read_text()
    assert "{% set loop_messages = messages %}" in text
    path = tmp_path / "no-system.jinja"
    path.write_text(text.replace("{% set loop_messages = messages %}",
                                 "{% set loop_messages = messages | rejectattr('role', 'equalto', 'system') | list %}"))
    report = verify_template(resolve_template(str(path), version="3.0"), examples=20,
                             features=["plain-chat", "system-message"])
    assert report.features["plain-chat"].status == "pass"
    system = report.features["system-message"]
    assert system.status == "unsupported" and "ignores" in system.note


class _RefusesPrefill(Transformers):
    """A stand-in serving engine that refuses continue_final_message requests."""

    name = "refuses-prefill"

    def render(self, conversation, template, **kwargs):
        if conversation.continue_final_message:
            raise self.reject(conversation, "continue_final_message", "not supported")
        return super().render(conversation, template, **kwargs)


def test_under_an_engine_refused_areas_are_rejected_never_passed():
    report = verify_template(resolve_template("tuned:3.1"), examples=20, engine=_RefusesPrefill(),
                             features=["plain-chat", "continue-final-message"])
    cfm = report.features["continue-final-message"]
    assert cfm.status == "rejected" and cfm.rejected == cfm.examples > 0
    assert report.features["plain-chat"].status == "pass" and report.rejected >= cfm.rejected


def test_tuned_31_against_meta_reports_exactly_its_documented_departures():
    documented = re.search(r"reports, per feature, exactly these five departures and no other\nfailure: (.*?)\n",
                           (ROOT / "docs" / "templates.md").read_text())
    assert documented, "docs/templates.md lists the departures"
    expected = set(re.findall(r"`([a-z-]+)`", documented.group(1)))
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{name}`" in readme.split("--dialect meta` reports exactly")[1][:200] for name in expected)
    report = verify_template(resolve_template("tuned:3.1"), examples=20, dialect="meta")
    failing = {name: f for name, f in report.features.items() if f.status != "pass"}
    assert failing and all(f.status == "fail" and f.failure.reasons for f in failing.values()), failing
    found = {r.point for f in failing.values() for r in f.failure.reasons}
    assert found == expected


def test_strategies_generate_continue_final_message_conversations():
    conv = find(conversations(version="3.1"), lambda c: bool(c.continue_final_message))
    assert conv.messages[-1]["role"] == "assistant" and not conv.add_generation_prompt
    assert conv.messages[-1]["content"].strip()


def test_given_conversations_are_sorted_into_areas():
    fixture = json.loads((ROOT / "fixtures" / "arguments-json-string.json").read_text())
    from llamatpl.rendering.conversation import Conversation
    assert {"arguments-json-text", "custom-tool-call"} <= set(areas_of(Conversation.from_data(fixture)))
    report = verify_template(resolve_template("tuned:3.1"), conversations=[Conversation.from_data(fixture)])
    assert report.ok and {"arguments-json-text", "custom-tool-call"} <= set(report.features)
