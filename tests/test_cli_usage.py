"""Usage mistakes read as click reports them: the command's usage line, the error, exit 2; never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize(("args", "error"), [
    (("render", "fixtures/plain-chat.json", "--bogus"), "No such option: --bogus"),
    (("render",), "Missing argument"),
    (("lint",), "Missing argument"),
    (("render", "fixtures/plain-chat.json", "--engine", "nope"), "--engine: 'nope' is not one of"),
    (("render", "fixtures/plain-chat.json", "--engine-args", "--foo"), "--engine-args: transformers has no flag '--foo'"),
])
def test_usage_mistakes_are_usage_errors(args, error):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Usage: llamatpl {args[0]} ")
    assert f"Error: {error}" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
