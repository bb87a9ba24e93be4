"""Hostile templates end in a clear limit or sandbox error: no code runs, nothing hangs or blows up.

Each case runs in a child process capped at 2 GiB of address space, so a guard that fails shows up
as a memory error (and a failed test) instead of taking the machine down. Every case runs on both
backends: ``minijinja`` forces the fast path wherever its gate lets a template through (no
differential check needed), and must end in the same error as jinja2.
"""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamatpl.rendering import limits

CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from llamatpl.rendering.conversation import Conversation
from llamatpl.errors import LlamatplError
from llamatpl.rendering.limits import Limits
from llamatpl.rendering import backend
from llamatpl.rendering.renderer import render_text
conv = Conversation.from_data({"messages": [{"role": "user", "content": "hi"}]})
try:
    with backend.forced(sys.argv[2]):
        out = render_text(sys.argv[1], conv, special_tokens={}, limits=Limits(seconds=2))
    print(json.dumps({"rendered": len(out)}))
except LlamatplError as exc:
    print(json.dumps({"error": type(exc).__name__, "reason": exc.reason, "message": exc.message}))
"""

CASES = {
    "string repetition": ("{{ 'x' * 4000000000 }}", "LimitExceeded", "size limit"),
    "tower of powers": ("{{ 10 ** (10 ** 10) }}", "LimitExceeded", "size limit"),
    "squaring loop": ("{% set ns = namespace(x=3) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
                      "LimitExceeded", "size limit"),
    "nested loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% for k in range(100000) %}"
                     "{% endfor %}{% endfor %}{% endfor %}", "LimitExceeded", "time limit"),
    "doubling with ~": ("{% set ns = namespace(x='ab') %}{% for i in range(64) %}{% set ns.x = ns.x ~ ns.x %}"
                        "{% endfor %}", "LimitExceeded", "size limit"),
    "doubling a list": ("{% set ns = namespace(x=[1]) %}{% for i in range(64) %}{% set ns.x = ns.x + ns.x %}"
                        "{% endfor %}", "LimitExceeded", "size limit"),
    "output flood": ("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxxxxxxxx{% endfor %}{% endfor %}",
                     "LimitExceeded", "size limit"),
    "recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "LimitExceeded", "recursed too deep"),
    "center": ("{{ 'x'|center(4000000000) }}", "LimitExceeded", "size limit"),
    "str.ljust": ("{{ 'x'.ljust(4000000000) }}", "LimitExceeded", "size limit"),
    "str.format width": ("{{ '{:>999999999}'.format(1) }}", "LimitExceeded", "size limit"),
    "printf width": ("{{ '%0999999999d' % 1 }}", "LimitExceeded", "size limit"),
    "replace blow-up": ("{% set s = 'x' * 1000000 %}{{ s|replace('x', s) }}", "LimitExceeded", "size limit"),
    "join blow-up": ("{% set s = 'y' * 1000000 %}{{ range(100000)|join(s) }}", "LimitExceeded", "size limit"),
    "indent blow-up": ("{% set s = '\\n' * 1000000 %}{{ s|indent(1000000) }}", "LimitExceeded", "size limit"),
    "tojson indent": ("{{ messages|tojson(indent=100000000) }}", "LimitExceeded", "size limit"),
    "lipsum": ("{{ lipsum(100000000) }}", "LimitExceeded", "size limit"),
    # these pass the fast path's gate, so minijinja runs them (fuel and its recursion limit stop it)
    "doubling with ~, unrolled": ("{% set s = messages[0].content %}" + "{% set s = s ~ s %}" * 48 + "{{ s }}",
                                  "LimitExceeded", "size limit"),
    "doubling by recursion": ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f(messages[0].content) }}",
                              "LimitExceeded", "size limit"),
    # a list (or dict) that holds the last one twice: cheap to build by reference, exponential to write out
    "nesting doubled, tojson": ("{% set ns = namespace(s=['x']) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}"
                                "{% endfor %}{{ ns.s|tojson|length }}", "LimitExceeded", "size limit"),
    "nesting doubled, unrolled, printed": ("{% set s = [messages[0].content] %}" + "{% set s = [s, s] %}" * 48
                                           + "{{ s }}", "LimitExceeded", "size limit"),
    "nesting doubled, unrolled dict, tojson": ("{% set s = {'a': messages[0].content} %}"
                                               + "{% set s = {'a': s, 'b': s} %}" * 48 + "{{ s|tojson }}",
                                               "LimitExceeded", "size limit"),
    "nesting doubled, through a name, joined": ("{% set s = [messages] %}"
                                                + "{% set t = s %}{% set s = [s, t] %}" * 48
                                                + "{{ [s]|join }}{{ s ~ '' }}", "LimitExceeded", "size limit"),
    "nesting doubled by recursion": ("{% macro f(s, n) %}{% if n < 60 %}{{ f([s, s], n + 1) }}{% else %}"
                                     "{{ s|tojson }}{% endif %}{% endmacro %}{{ f(messages, 0) }}",
                                     "LimitExceeded", "size limit"),
    "class escape": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "SandboxViolation", None),
    "self escape": ("{{ self.__init__.__globals__ }}", "SandboxViolation", None),
    "list mutation": ("{{ messages.append({'role': 'x'}) }}", "SandboxViolation", None),
    "dict mutation": ("{{ messages[0].update({'role': 'x'}) }}", "SandboxViolation", None),
    "namespace dunder": ("{% set ns = namespace() %}{% set ns.__class__ = 1 %}", "SandboxViolation", None),
}


@pytest.mark.parametrize("backend", ["jinja2", "minijinja"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_template_is_stopped(name, backend):
    template, kind, reason = CASES[name]
    proc = subprocess.run([sys.executable, "-c", CHILD, template, backend], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result.get("error") == kind, result
    if reason:
        assert result["reason"].startswith(reason) or result["reason"] == reason, result
    assert "\n" not in result["message"]


def test_hostile_template_through_the_cli_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "evil.jinja"
    bad.write_text("{{ 'x' * 4000000000 }}")
    conv = tmp_path / "c.json"
    conv.write_text('[{"role": "user", "content": "hi"}]')
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(conv), "--template", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "size limit" in proc.stderr


NESTING = ("{% set ns = namespace(s=['x']) %}{% for m in messages %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}"
           "{{ ns.s|tojson|length }}")


def _address_space_capped() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("backend", ["jinja2", "minijinja", "auto"])
@pytest.mark.parametrize("template", [NESTING, NESTING.replace("|tojson|length", "")], ids=["tojson", "printed"])
def test_nesting_in_a_loop_over_messages_is_one_line_exit_2(tmp_path, backend, template):
    """The user's report: 40 messages doubled a nested list to 2**40 leaves (minijinja aborted, jinja2 ran for
    minutes). Now the gate keeps it off minijinja and jinja2 measures the value before writing it."""
    bad = tmp_path / "evil.jinja"
    bad.write_text(template)
    conv = tmp_path / "c.json"
    conv.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}] * 40}))
    proc = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(conv), "--template", str(bad)],
                          capture_output=True, text=True, timeout=60, preexec_fn=_address_space_capped,
                          env={**os.environ, "LLAMATPL_BACKEND": backend})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"{bad} line 1: size limit"), proc.stderr


@pytest.mark.parametrize("text", [
    "{% if true %}" * 3000 + "x" + "{% endif %}" * 3000,
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
], ids=["3000-nested-ifs", "5000-nested-parentheses"])
def test_too_deep_for_the_parser_is_a_syntax_finding_and_a_one_line_error(tmp_path, text):
    path = tmp_path / "deep.jinja"
    path.write_text(text)
    conv = tmp_path / "c.json"
    conv.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    lint = subprocess.run([sys.executable, "-m", "llamatpl", "lint", str(path), "--version", "3.0"],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 1 and "LT001 does not parse: nested too deeply to parse" in lint.stdout, lint.stderr
    render = subprocess.run([sys.executable, "-m", "llamatpl", "render", str(conv), "--template", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert render.returncode == 2 and render.stderr == f"{path}: line 1: nested too deeply to parse\n"


JSON_DATA = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                         max_leaves=30)


@given(JSON_DATA)
def test_the_measure_before_writing_never_exceeds_the_text(value):
    """The size walk is a lower bound of what json.dumps and str() write, so it refuses nothing that fits."""
    sizes: dict[int, int] = {}
    if isinstance(value, (list, dict)):
        measured = limits._written(value, sizes, 1 << 60, "test")
        assert measured <= len(json.dumps(value, ensure_ascii=False))
        assert measured <= len(str(value))
