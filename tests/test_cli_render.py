"""``llamatpl render`` as a user meets it: exact bytes on stdout, one-line errors with exit 2."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from llamatpl import __version__, load_conversation, render

PLAIN = str(ROOT / "fixtures" / "plain-chat.json")


def run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True,
                          input=stdin, timeout=120, cwd=ROOT)


def test_piped_render_is_the_exact_prompt():
    proc = run("render", PLAIN, "--version", "3.1")
    assert proc.returncode == 0
    assert proc.stdout == render(load_conversation(PLAIN), version="3.1")
    assert proc.stdout.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_ids_and_json_formats():
    ids = json.loads(run("render", PLAIN, "-V", "3.1", "--format", "ids").stdout)
    assert ids[:2] == [128000, 128006] and ids[-1] == 271
    record = json.loads(run("render", PLAIN, "-V", "3.0", "--format", "json").stdout)
    assert record["template"] == "official:3.0" and record["version"] == "3.0"
    assert record["prompt"].startswith("<|begin_of_text|>") and record["ids"][0] == 128000


def test_no_generation_prompt_and_stdin():
    proc = run("render", "-", "-V", "3.0", "--no-generation-prompt", stdin='[{"role": "user", "content": "x"}]')
    assert proc.stdout == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>"


def test_jsonl_gives_one_json_line_per_conversation(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text('[{"role": "user", "content": "a"}]\n[{"role": "user", "content": "b\\n"}]\n')
    lines = run("render", str(path), "-V", "3.0").stdout.splitlines()
    assert [json.loads(line)[-40:] for line in lines] == [
        render([{"role": "user", "content": c}], version="3.0")[-40:] for c in ("a", "b\n")]


def test_pretty_view_keeps_bracketed_text():
    proc = run("render", "-", "-V", "3.0", "--format", "pretty", stdin='[{"role": "user", "content": "[/INST] [b]x[/b]"}]')
    assert proc.returncode == 0
    assert "[/INST] [b]x[/b]" in proc.stdout and "official:3.0" in proc.stdout


@pytest.mark.parametrize(("args", "stdin", "expected"), [
    (("render", "nope.json"), None, "nope.json: no such file"),
    (("render", "-"), "{not json", "<stdin>: not valid JSON"),
    (("render", PLAIN, "--version", "3.9"), None, "unknown Llama version '3.9'"),
    (("render", "-", "-V", "3.1"), '[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": []}]',
     "official:3.1 line 71: template error: This model only supports single tool-calls at once!"),
    (("render", PLAIN, "--today", "yesterday"), None, "--today: 'yesterday' is not a date"),
])
def test_errors_are_one_line_and_exit_2(args, stdin, expected):
    proc = run(*args, stdin=stdin)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_version_flag():
    assert run("--version").stdout.strip() == f"llamatpl {__version__}"
