"""README's console examples stay true: each deterministic command's output appears in README as shown."""

import re
import subprocess

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```console\n\$ (?P<cmd>[^\n]+)\n(?P<out>.*?)```", re.S)
# lines that change from run to run (speed) or were shortened with "..." in README
VARIABLE = ("conversations/s", "...")


def _examples():
    for match in BLOCK.finditer(README):
        cmd = match.group("cmd")
        if cmd.startswith("llamatpl ") or cmd.startswith("echo "):
            yield pytest.param(cmd, match.group("out"), id=cmd[:60])


def _stable(text: str) -> str:
    """How far a search went depends on the installed hypothesis version, not on llamatpl."""
    return re.sub(r"after \d+ conversations", "after N conversations", text)


@pytest.mark.parametrize(("cmd", "shown"), list(_examples()))
def test_readme_example_output(cmd, shown):
    if "bad.json" in cmd or "my-3.0-no-trim" in cmd or "templates/ --" in cmd:
        pytest.skip("illustrates a file the reader has, not one in the repository")
    proc = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = shown.split("\n")
    if cmd.startswith("llamatpl verify"):
        lines = lines[:1]  # the counterexample hypothesis shrinks to can differ between its versions
    for line in lines:
        if line.startswith("$ "):
            break  # a second command in the same block
        if line and not any(v in line for v in VARIABLE):
            assert _stable(line) in _stable(proc.stdout), f"README shows {line!r} for `{cmd}`"
