"""caps probes each capability on its own, in several shapes, by markers only the probed part carries."""

from llamatpl.probes.caps import capabilities
from llamatpl.probes.shapes import CAPS_PROBES, CALL_VALUE, FUNCTION, RESULT, SECOND_VALUE, SYSTEM
from llamatpl.rendering.templates import ChatTemplate

HEAD = "{%- for m in messages %}"
TAIL = "{%- endfor %}"


def _caps(body: str) -> dict[str, bool]:
    tpl = ChatTemplate("t", HEAD + body + TAIL, "3.1", "given")
    return {c.name: c.supported for c in capabilities(tpl)}


def test_markers_occur_only_in_the_part_they_probe():
    for name, probe in CAPS_PROBES.items():
        users = " ".join(str(m.get("content")) for m in probe["messages"] if m["role"] == "user")
        assert not any(marker in users for marker in (FUNCTION, CALL_VALUE, SECOND_VALUE, RESULT, SYSTEM)), name


def test_a_template_that_drops_calls_does_not_pass_on_the_users_words():
    found = _caps("{{- m.role + ': ' + (m.content or '') + '\\n' }}")
    assert found["system_role"] and not found["tool_calls"] and not found["parallel_tool_calls"]


def test_one_raising_shape_does_not_hide_a_capability():
    # raises on a missing content key and on an object result; works for the other shapes
    body = ("{%- if m.role == 'tool' %}{{- 'result: ' + m.content }}{%- elif m.tool_calls %}"
            "{{- m['content'] }}{%- for c in m.tool_calls %}{{- c.function.name ~ c.function.arguments }}{%- endfor %}"
            "{%- else %}{{- m.content }}{%- endif %}")
    found = _caps(body)
    assert found["tool_calls"] and found["parallel_tool_calls"] and found["tool_responses"]


def test_a_template_writing_only_the_first_call_has_no_parallel_calls():
    body = ("{%- if m.tool_calls %}{{- m.tool_calls[0].function.arguments | tojson }}"
            "{%- elif m.role == 'tool' %}{{- m.content | tojson }}{%- else %}{{- m.content }}{%- endif %}")
    found = _caps(body)
    assert found["tool_calls"] and not found["parallel_tool_calls"] and found["tool_responses"]
