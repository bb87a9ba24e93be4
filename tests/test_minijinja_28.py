"""TGI's minijinja (Rust 2.8.0) reproduced on the minijinja 3.x binding, checked against minijinja
itself: the 2.9.0 Python binding (Rust minijinja 2.9.0 + minijinja-contrib pycompat; 2.8 -> 2.9 changed
nothing these templates touch) run in a child process from its own directory, since one environment
holds one minijinja. ``.ci/run`` installs it (``pip install --target``) and names the directory in
LLAMATPL_MINIJINJA_29. Every template builds its data inside itself, from literals: the 2.9 binding
would hand Python data to the template as Python objects, which TGI's serde path never does, and it
keeps dict literals in written order (TGI's build sorts them), so literals here have one key or
sorted keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llamatpl.errors import InvalidTemplate
from llamatpl.rendering.minijinja_backend import render_minijinja
from llamatpl.rendering.minijinja_loop_scope import with_persistent_loop_locals
from llamatpl.rendering.rust_text import minijinja_tojson, rust_debug

REFERENCE = os.environ.get("LLAMATPL_MINIJINJA_29", "")
needs_reference = pytest.mark.skipif(not (Path(REFERENCE) / "minijinja").is_dir(),
                                     reason="set LLAMATPL_MINIJINJA_29 to a `pip install --target` of minijinja==2.9.0")

# the 2.9 binding with TGI's set-up: pycompat on, the contrib filters TGI's build lacks removed
_REFERENCE_RENDER = """
import json, sys, minijinja
assert minijinja.__version__ if hasattr(minijinja, "__version__") else True
env = minijinja.Environment()
env.pycompat = True
for name in ("pluralize", "filesizeformat", "truncate", "striptags", "urlencode"):
    env.remove_filter(name)
out = []
for source in json.load(sys.stdin):
    try:
        out.append(env.render_str(source))
    except Exception as exc:
        out.append({"error": str(exc).splitlines()[0]})
json.dump(out, sys.stdout)
"""

UNPACKING = "ok\n{% for x in [1, 2] %}{% set a, b = x, x * 2 %}{% endfor %}"
TEMPLATES = [
    # printing: none, booleans, sequences and maps as 2.8's Debug
    "{{ none }}|{{ true }}|{{ false }}|{{ undefined_name }}|{{ [1, none, true, 'a\\tb', 2.5] }}",
    "{{ {'a': [1, {'b': none}]} }}|{{ [[]] }}|{{ {'k': 'v'}.items()|list }}|{{ 'a,b'.split(',') }}",
    "{% set x = none %}{{ x }}{{ y }}|{{ x is none }}|{{ [none] }}",
    "{{ 'None' }}{{ none }}{{ '' }}{{ nothing }}None",
    # tojson: compact, escapes, pretty
    "{{ {'a': [1, 2.5, none, true, '<&>\\''], 'b': 'é😀\\n'}|tojson }}",
    "{{ {'a': {'b': [1, {}], 'c': []}}|tojson(indent=2) }}|{{ [1]|tojson(true) }}|{{ 'x'|tojson }}",
    "{{ {'messages': [{'content': 'Hi', 'role': 'user'}]}|tojson }}",
    # loop locals persist across iterations in 2.8
    "{% for x in [1, 2, 3] %}{% if loop.first %}{% set y = x %}{% endif %}[{{ y }}]{% endfor %}[{{ y }}]",
    "{% set c = 0 %}{% for x in 'abc' %}{% set c = c + 1 %}{{ c }}{% if c >= 2 %}{% break %}{% endif %}{% endfor %}{{ c }}",
    "{% for x in [1, 2] %}{% for z in [3, 4] %}{% set last = z %}{% endfor %}{{ last }}{% set seen = x %}{% endfor %}{{ seen }}",
    "{% for x in [1, 2] %}{% with %}{% set w = x %}{% endwith %}[{{ w }}]{% set v %}{{ x }}!{% endset %}{% endfor %}",
    "{% for x in [1, 2] %}{{ v }}{% set v %}<{{ x }}>{% endset %}{% endfor %}",
    "{%- for x in [1, 2] -%}\n  {{ n }}\n  {%- set n = x -%}\n  ,\n{%- endfor %}",
    "{% for x in [] %}{% set q = 1 %}{% else %}{% set q = 2 %}{{ q }}{% endfor %}{{ q }}",
    "{% macro m() %}{% for x in [1, 2] %}{{ k }}{% set k = x %}{% endfor %}{% endmacro %}{{ m() }}",
    # pycompat methods and builtins both have
    "{{ ' a '.strip() }}|{{ 'ab'.upper() }}|{{ 'a'.startswith(('x', 'a')) }}|{{ {'a': 1}.get('a') }}|{{ x|d('z') }}",
]


@needs_reference
def test_same_output_as_minijinja_itself():
    run = subprocess.run([sys.executable, "-c", _REFERENCE_RENDER], input=json.dumps(TEMPLATES),
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": REFERENCE}, check=True)
    expected = json.loads(run.stdout)
    assert all(isinstance(e, str) for e in expected), expected
    assert [render_minijinja(t, {}) for t in TEMPLATES] == expected
    # 2.8's parser refuses tuple unpacking in `set` (3.x accepts it): a template that does not parse
    run = subprocess.run([sys.executable, "-c", _REFERENCE_RENDER], input=json.dumps([UNPACKING]),
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": REFERENCE}, check=True)
    assert "expected assignment operator" in json.loads(run.stdout)[0]["error"]
    with pytest.raises(InvalidTemplate, match="line 2: does not parse under minijinja: unexpected `,`"):
        render_minijinja(UNPACKING, {})


def test_printing_and_tojson_read_off_minijinja_28():
    """Hand-checked against minijinja 2.8.0's source: ``filters.rs`` ``tojson`` (serde_json, then
    ``<``, ``>``, ``&``, ``'`` escaped) and ``Debug`` for ``ValueRepr`` (``none``, Rust string escapes)."""
    assert minijinja_tojson({"b": [1.0, 1e16], "a": "<'&>"}) == '{"a":"\\u003c\\u0027\\u0026\\u003e","b":[1.0,1e16]}'
    assert minijinja_tojson([{}], indent=2) == "[\n  {}\n]"
    assert rust_debug({"b": None, "a": [True, "x\"\n\x01é"]}) == '{"a": [true, "x\\"\\n\\u{1}é"], "b": none}'
    assert rust_debug([1e-5, 1e16, 0.5, 2]) == "[1e-5, 1e16, 0.5, 2]"


def test_loop_scope_rewrite_keeps_lines_and_leaves_other_templates_alone():
    plain = "{% for m in messages %}{{ m.content }}{% endfor %}{% set x = 1 %}"
    assert with_persistent_loop_locals(plain) == plain
    source = "{%- for m in messages -%}\n{%- set x = m -%}\n  {{ x }}\n{%- endfor %}"
    rewritten = with_persistent_loop_locals(source)
    assert rewritten.count("\n") == source.count("\n") and rewritten != source


def test_none_and_undefined_print_as_in_28():
    """2.8 prints none as ``none`` and undefined as nothing; the binding gives the finalizer ``None``
    for both, so the worker tells them apart with a second render."""
    assert render_minijinja("{{ none }}|{{ u }}|{{ v.w if v }}|{{ bos_token }}None", {"bos_token": None}) == "none|||noneNone"
