"""Many conversations: JSONL streams in order, --jobs gives the same bytes, errors name the line."""

import json
import subprocess
import sys

from conftest import FIXTURES, ROOT
from llamatpl import load_conversation, render
from llamatpl.tokens import get_tokenizer


def _jsonl(tmp_path, n=60):
    convs = [json.loads(p.read_text()) for p in FIXTURES if "continue" not in p.stem]
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(convs[i % len(convs)]) + "\n" for i in range(n)))
    return path, [convs[i % len(convs)] for i in range(n)]


def run(*args):
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


def test_jobs_render_the_same_ids_in_order_as_the_library(tmp_path):
    path, convs = _jsonl(tmp_path)
    one = run("render", str(path), "-V", "3.1", "-f", "ids", "--jobs", "1")
    two = run("render", str(path), "-V", "3.1", "-f", "ids", "--jobs", "2")
    assert one.returncode == 0 and one.stdout == two.stdout and one.stderr == ""
    expected = [get_tokenizer("3.1").encode_prompt(render(c, version="3.1")) for c in convs]
    assert [json.loads(line) for line in one.stdout.splitlines()] == expected


def test_bad_line_in_a_parallel_run_is_one_line_naming_it(tmp_path):
    path, _ = _jsonl(tmp_path, 10)
    path.write_text(path.read_text() + '{"messages": [{"role": "robot", "content": "x"}]}\n')
    proc = run("render", str(path), "-V", "3.1", "-f", "ids", "--jobs", "2")
    assert proc.returncode == 2 and proc.stderr.strip() == f"{path}:11: messages[0].role: 'robot' is not one of " \
                                                            "system, user, assistant, tool, ipython"


def test_progress_bar_is_drawn_on_a_terminal_stderr_and_stdout_stays_exact(tmp_path):
    import os
    import pty

    path, convs = _jsonl(tmp_path, 5)
    leader, follower = pty.openpty()  # stderr is a terminal, so the bar is shown by default
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(path), "-V", "3.0"], stdout=subprocess.PIPE,
                          stderr=follower, text=True, timeout=300, cwd=ROOT, env={**os.environ, "COLUMNS": "100"})
    os.close(follower)
    drawn = b""
    try:
        while chunk := os.read(leader, 65536):
            drawn += chunk
    except OSError:  # the terminal is gone once everything is read
        pass
    os.close(leader)
    assert b"rendering" in drawn
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [render(c, version="3.0") for c in convs]


def test_lint_jobs_give_the_same_findings(tmp_path):
    for i, name in enumerate(["3.0", "3.1", "3.2", "3.2-vision"] * 2):
        (tmp_path / f"t{i}.jinja").write_text((ROOT / "templates" / "official" / f"{name}.jinja").read_text())
    one = run("lint", str(tmp_path), "-f", "json")
    two = run("lint", str(tmp_path), "-f", "json", "--jobs", "2")
    assert one.returncode == two.returncode == 1 and json.loads(one.stdout) == json.loads(two.stdout)


def test_single_fixture_still_writes_exact_bytes():
    fixture = str(ROOT / "fixtures" / "unicode.json")
    assert run("render", fixture, "-V", "3.2", "--today", "2024-07-26").stdout == render(
        load_conversation(fixture), version="3.2", today="2024-07-26")


def test_jobs_write_every_good_row_before_a_bad_line(tmp_path):
    """A bad line in the middle of a chunk of work must not take the good lines of that chunk with it."""
    import subprocess
    import sys

    path = tmp_path / "data.jsonl"
    lines = [json.dumps({"messages": [{"role": "user", "content": f"hi {i}"}]}) for i in range(300)]
    lines.insert(200, "{not json")
    path.write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(path), "--format", "ids", "--jobs", "2",
                           "--version", "3.1"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{path}:201: not valid JSON")
    assert len(done.stdout.splitlines()) == 200
