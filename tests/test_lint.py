"""Lint: each rule fails its failing template and passes its passing one; the engine around them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from llamatpl.formatting.lint_output import GithubFormatter, SarifFormatter
from llamatpl.lint import Finding, Source, all_rules, lint_paths, lint_source, select_rules
from llamatpl.lint.docs import markdown

DATA = Path(__file__).parent / "data" / "lint"
CASES = sorted(DATA.glob("*/*.jinja"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_rule_on_its_failing_and_passing_template(path):
    code = path.parent.name
    kind, version = path.stem.split("-", 1)
    found = lint_source(Source(str(path), path.read_text()), select_rules([code]), version=version)
    # what only TGI's request handling causes (tools=[] gets a no_tool function, tool calls arrive as
    # text) no template can pass: a passing template passes for every other engine
    found = [f for f in found if kind == "fail" or f.engines != ("tgi",)]
    assert all(f.code == code for f in found)
    if kind == "fail":
        assert found, f"{code} did not fire on {path}"
        assert all(f.line >= 1 for f in found)
    else:
        assert found == [], found


def test_every_rule_has_a_failing_and_a_passing_template():
    for rule in all_rules():
        assert list((DATA / rule.code).glob("fail-*.jinja")), rule.code
        assert list((DATA / rule.code).glob("pass-*.jinja")), rule.code


def _codes(path, **kw):
    return {f.code for f in lint_paths([str(path)], **kw)}


def test_expected_findings_on_official_and_seed_templates():
    official = ROOT / "templates" / "official"
    c31 = _codes(official / "3.1.jinja")
    assert {"LL110", "LL111", "LL112"} <= c31 and not {"LL101", "LL103", "LL105"} & c31
    c30 = _codes(official / "3.0.jinja")  # trimming is Llama 3.0's reference
    assert not {"LL101", "LL103", "LL104", "LL110"} & c30
    assert "LL103" in _codes(ROOT / "fixtures" / "templates" / "3.1-seed-triple-eom.jinja")
    no_trim = _codes(ROOT / "tests" / "data" / "verify" / "3.0-no-trim.jinja")
    assert "LL110" in no_trim and not {"LL101", "LL103", "LL104"} & no_trim


def test_findings_point_at_the_responsible_line():
    found = {f.code: f.line for f in lint_paths([str(ROOT / "templates" / "official" / "3.1.jinja")])}
    lines = (ROOT / "templates" / "official" / "3.1.jinja").read_text().split("\n")
    assert "tool_call.arguments | tojson" in lines[found["LL112"] - 1]
    assert "is iterable" in lines[found["LL111"] - 1]
    assert "trim" in lines[found["LL110"] - 1]


def test_docs_rules_md_is_current():
    assert (ROOT / "docs" / "rules.md").read_text() == markdown(), "run: llamatpl rules --markdown > docs/rules.md"


def test_suppression_file_wide_and_next_line_and_it_changes_no_output(tmp_path):
    from llamatpl import render

    text = (ROOT / "templates" / "official" / "3.1.jinja").read_text()
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if "is iterable" in line)
    suppressed = "\n".join([*lines[:at], "{#- llamatpl: disable-next-line=LL111 -#}", *lines[at:]])
    suppressed = "{#- llamatpl: disable=LL110 -#}\n" + suppressed
    path = tmp_path / "t.jinja"
    path.write_text(suppressed)
    codes = _codes(path, version="3.1")
    assert "LL110" not in codes and "LL111" not in codes and "LL112" in codes
    for fixture in ("tool-round-trip", "whitespace-content", "builtin-brave-search"):
        conv = json.loads((ROOT / "fixtures" / f"{fixture}.json").read_text())
        assert render(conv, template=str(path), version="3.1") == render(conv, version="3.1")


def test_config_in_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.llamatpl.lint]\nignore = ["LL11"]\nversion = "3.0"\n')
    tpl = tmp_path / "t.jinja"
    tpl.write_text((ROOT / "templates" / "official" / "3.0.jinja").read_text())
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "lint", "t.jinja", "-f", "json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout) == []


def test_tokenizer_config_findings_point_at_the_chat_template_key(tmp_path):
    config = tmp_path / "tokenizer_config.json"
    config.write_text(json.dumps({"bos_token": "<|begin_of_text|>",
                                  "chat_template": (ROOT / "tests" / "data" / "verify" / "3.0-no-trim.jinja").read_text()}, indent=1))
    found = [f for f in lint_paths([str(tmp_path)]) if f.code == "LL110"]
    assert found and found[0].path == str(config) and found[0].line == 3 and "(template line 3)" in found[0].message


def test_hostile_template_is_findings_not_a_crash(tmp_path):
    path = tmp_path / "evil.jinja"
    path.write_text("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
                    "{{ ''.__class__.__mro__ }}")
    codes = _codes(path, version="3.1")
    assert {"LT005", "LT007"} <= codes


def test_github_and_sarif_formats():
    import io

    finding = Finding("a,b:c.jinja", 3, None, "LL110", "content-trim", "warning", "50% trimmed\nsecond line")
    out = io.StringIO()
    fmt = GithubFormatter(out)
    fmt.start(); fmt.handle(finding); fmt.stop()
    assert out.getvalue() == ("::warning file=a%2Cb%3Ac.jinja,line=3,title=LL110 content-trim::"
                              "50%25 trimmed%0Asecond line\n")
    out = io.StringIO()
    fmt = SarifFormatter(out)
    fmt.start(); fmt.handle(finding); fmt.stop()
    doc = json.loads(out.getvalue())
    assert doc["version"] == "2.1.0" and doc["runs"][0]["tool"]["driver"]["name"] == "llamatpl"
    result = doc["runs"][0]["results"][0]
    assert result["ruleId"] == "LL110" and result["message"]["text"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "a,b:c.jinja" and location["region"]["startLine"] == 3


@pytest.mark.parametrize(("args", "code"), [
    (["tests/data/lint/LL116/pass-3.0.jinja", "--version", "3.0"], 0),
    (["templates/official/3.0.jinja"], 1),
    (["tests/data/lint/LT001/fail-3.0.jinja"], 1),
    (["templates/official/3.0.jinja", "--select", "NOPE"], 2),
    (["missing.jinja"], 2),
])
def test_lint_exit_codes(args, code):
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "lint", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == code, proc.stdout + proc.stderr
    if code == 2:
        assert proc.stderr.count("\n") == 1


def test_rules_command_lists_and_explains():
    listing = subprocess.run([sys.executable, "-m", "llamatpl", "rules"], capture_output=True, text=True, timeout=60)
    assert all(rule.code in listing.stdout for rule in all_rules())
    one = subprocess.run([sys.executable, "-m", "llamatpl", "rules", "content-trim"], capture_output=True, text=True,
                         timeout=60)
    assert one.stdout.startswith("LL110 content-trim") and "Anti-pattern" in one.stdout


def test_caps_by_probing():
    from llamatpl.probes.caps import capabilities
    from llamatpl.rendering.templates import resolve_template

    official = {c.name: c.supported for c in capabilities(resolve_template("official:3.1"))}
    assert official["tools"] and official["tool_calls"] and not official["parallel_tool_calls"]
    assert not official["string_arguments"] and not official["typed_content"]
    looping = {c.name: c.supported for c in capabilities(resolve_template(str(DATA / "LL115" / "pass-3.1.jinja")))}
    assert looping["parallel_tool_calls"]


def test_lint_reads_the_template_in_a_gguf_file(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template((ROOT / "tests" / "data" / "verify" / "3.0-no-trim.jinja").read_text())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    found = list(lint_paths([str(tmp_path)]))
    assert {f.code for f in found} >= {"LL110"} and all(f.path == str(path) for f in found)
