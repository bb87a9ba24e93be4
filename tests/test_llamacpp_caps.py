"""``caps --engine llama.cpp``: llama.cpp's own probe verdicts (common/jinja/caps.cpp:caps_get, b10573),
its portability warnings, and hostile templates under the llama.cpp flavour.

The verdicts for the bundled templates are reasoned out from caps.cpp (see the comments); the
three content cases are llama.cpp's own tests (tests/test-jinja.cpp test_caps, kept as data).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llamatpl.cli import app
from llamatpl.engines.llamacpp import capabilities, portability_warnings
from llamatpl.engines.llamacpp_caps import NAMES, probe
from llamatpl.rendering.templates import resolve_template

DATA = json.loads((Path(__file__).parent / "data" / "llamacpp" / "llamacpp_tests.json").read_text())
Y, N = True, False
# (system_role, tools, tool_calls, parallel_tool_calls, object_arguments, string_content, typed_content)
EXPECTED = {
    # reads system content; never reads tools or tool_calls, so both tool probes leave them false
    "official:3.0": (Y, N, N, N, N, Y, N),
    # tojson reads arguments deeply (object args); "only supports single tool-calls" raises on two
    "official:3.1": (Y, Y, Y, N, Y, Y, N),
    "official:3.2": (Y, Y, Y, N, Y, Y, N),
    # loops over every message's content looking for images: every string-content probe raises,
    # so the tool probes fail too; the loop marks content as read as an array (typed)
    "official:3.2-vision": (Y, N, N, N, N, N, Y),
    # the tuned templates read every call, deeply (tojson), and take string content
    "tuned:3.1": (Y, Y, Y, Y, Y, Y, N),
    "tuned:3.2": (Y, Y, Y, Y, Y, Y, N),
    "tuned:3.2-vision": (Y, Y, Y, Y, Y, Y, N),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_template_verdicts(name):
    found = probe(resolve_template(name).text).as_dict()
    assert tuple(found[n] for n in NAMES) == EXPECTED[name]


@pytest.mark.parametrize("case", DATA["caps"], ids=lambda c: c["source"].split(", ")[-1])
def test_llamacpps_own_caps_tests(case):
    found = probe(case["template"])
    assert (found.string_content, found.typed_content) == (case["string_content"], case["typed_content"])


def test_system_role_is_decided_by_reading_not_printing():
    # the content is read (compared) but never printed: llama.cpp still says the role is supported
    assert probe("{% if messages[0].content %}x{% endif %}").system_role is True
    assert probe("{% for m in messages %}{{ m.role }}{% endfor %}").system_role is False


def test_caps_cli_json_and_text():
    runner = CliRunner()
    result = runner.invoke(app, ["caps", "official:3.1", "--engine", "llama.cpp", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["engine"] == "llama.cpp" and doc["verdicts"] == "llama.cpp b10573 common/jinja/caps.cpp"
    assert set(doc["capabilities"]) == set(NAMES)
    assert doc["capabilities"]["parallel_tool_calls"]["supported"] is False
    text = runner.invoke(app, ["caps", "official:3.1", "--engine", "llama.cpp"]).stdout
    assert text.splitlines()[0] == "official:3.1 (Llama 3.1): llama.cpp b10573 common/jinja/caps.cpp verdicts"
    assert capabilities(resolve_template("official:3.1"))["object_arguments"]["supported"] is True


def test_portability_warnings_name_construct_and_line():
    text = "{{ '%s'|format(x) }}\n{{ d.items }}\n{{ xs|selectattr('a.b', 'equalto', 1)|list }}\n"
    found = {(w.line, w.construct) for w in portability_warnings(text)}
    assert found == {(1, "format filter"), (2, ".items"), (3, "selectattr with a dotted attribute")}
    assert portability_warnings(resolve_template("official:3.1").text) == []
    assert [w.line for w in portability_warnings(resolve_template("official:3.2-vision").text)] == [32]


def test_render_warns_on_stderr():
    runner = CliRunner()
    body = Path(__file__).parent.parent / "fixtures" / "plain-chat.json"
    result = runner.invoke(app, ["render", str(body), "-t", "official:3.2-vision", "-e", "llama.cpp",
                                 "--today", "2026-12-02"])
    assert result.exit_code == 0
    assert "warning: official:3.2-vision line 32: for over a string:" in result.stderr


CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from llamatpl.errors import LlamatplError
from llamatpl.engines.prompt import render
from llamatpl.rendering.limits import Limits
from llamatpl.rendering.templates import ChatTemplate
tpl = ChatTemplate("hostile", sys.argv[1], "3.1", "given")
try:
    render({"messages": [{"role": "user", "content": "hi"}]}, template=tpl, engine="llama.cpp",
           limits=Limits(seconds=2))
    print(json.dumps({"error": None}))
except LlamatplError as exc:
    print(json.dumps({"error": type(exc).__name__}))
"""
HOSTILE = ["{{ 'x' * 4000000000 }}",
           "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
           "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
           "{{ '{}'|format('x' * 4000000000) }}",
           "{{ messages|selectattr('role')|map(attribute='__class__')|list }}{{ ().__class__.__mro__ }}"]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_templates_are_stopped_in_probes_and_render(template):
    done = subprocess.run([sys.executable, "-c", CHILD, template], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout)["error"] in ("LimitExceeded", "SandboxViolation", "RenderError")
