"""Format detection: a template's prompt format is found first, and every command says it."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from llamatpl.lint import Source, all_rules, lint_source
from llamatpl.versions import detect_format

CHATML = ("{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
          "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")
LLAMA4 = ("{%- for message in messages %}{{- '<|header_start|>' + message.role + '<|header_end|>\\n\\n' }}"
          "{%- if message.content is string %}{{- message.content }}{%- else %}{%- for c in message.content %}"
          "{%- if c.type == 'image' %}{{- '<|image|>' }}{%- endif %}{%- endfor %}{%- endif %}{{- '<|eot|>' }}"
          "{%- endfor %}")
MISTRAL = "{%- for message in messages %}{{- '[INST] ' + message.content + ' [/INST]' }}{%- endfor %}"


@pytest.mark.parametrize("version", ["3.0", "3.1", "3.2", "3.2-vision"])
def test_official_templates_are_llama3_format_of_their_version(version):
    found = detect_format((ROOT / "templates" / "official" / f"{version}.jinja").read_text())
    assert found.is_llama3 and found.version == version and found.reason


@pytest.mark.parametrize(("text", "family"), [(CHATML, "chatml"), (LLAMA4, "llama4"), (MISTRAL, "mistral"),
                                              ("{{ messages[0].content }}", "other")])
def test_other_formats_are_not_llama3(text, family):
    found = detect_format(text)
    assert found.family == family and found.version is None
    assert "not Llama 3.x" in found.describe()


@pytest.mark.parametrize("text", [CHATML, LLAMA4, MISTRAL])
def test_another_format_gets_no_llama_rule_finding_and_an_info_saying_its_format(text):
    found = lint_source(Source("t.jinja", text), all_rules())
    assert not [f for f in found if f.code.startswith("LL")]
    assert [f.code for f in found if f.code == "LT009"] == ["LT009"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True, cwd=ROOT)


def test_every_command_says_the_format(tmp_path):
    path = tmp_path / "chatml.jinja"
    path.write_text(CHATML)
    caps = json.loads(_run("caps", str(path), "--format", "json").stdout)
    assert caps["format"]["family"] == "chatml" and caps["format"]["llama_version"] is None
    assert "ChatML, not Llama 3.x" in _run("caps", str(path)).stdout.splitlines()[0]
    rendered = _run("render", str(ROOT / "fixtures" / "plain-chat.json"), "--template", str(path))
    assert rendered.stdout.startswith("<|im_start|>user\n") and "ChatML, not Llama 3.x" in rendered.stderr
    diff = json.loads(_run("diff", "3.1", str(path), "--format", "json").stdout)
    assert diff["format_a"]["family"] == "llama3" and diff["format_b"]["family"] == "chatml"
    assert diff["features"]["format"]["a"] != diff["features"]["format"]["b"]
    verify = json.loads(_run("verify", str(path), "-n", "3", "--format", "json").stdout)
    assert verify["format"].startswith("ChatML, not Llama 3.x")
    lint = json.loads(_run("lint", str(path), "--format", "json").stdout)
    assert [f["code"] for f in lint] == ["LT009"]
