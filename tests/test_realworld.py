"""Real-world templates (tests/data/realworld, sources in SOURCES): format, caps and lint judged by hand.

The expectations below were written by reading each template, not by running llamatpl on it:
which format it writes, which of the five tool capabilities a conversation can show in its prompt,
and which lint findings are true. llama.cpp's own capability detection (its caps.cpp probes, as
llamatpl/engines/llamacpp_caps.py models them) is the second truth: caps must never be behind it.
"""

from pathlib import Path

import pytest

from llamatpl.lint import lint_paths
from llamatpl.probes.caps import capabilities
from llamatpl.rendering.templates import resolve_template
from llamatpl.versions import detect_format

DATA = Path(__file__).parent / "data" / "realworld"
PHI, ALPACA, CHATML, HERMES = ("llamacpp-llama-cpp-microsoft-Phi-4-mini-instruct", "vllm-template_alpaca",
                               "vllm-template_chatml", "vllm-tool_chat_template_hermes")
JSON31, PYTHONIC, LLAMA4, MISTRAL, XLAM = ("vllm-tool_chat_template_llama3.1_json",
                                           "vllm-tool_chat_template_llama3.2_pythonic",
                                           "vllm-tool_chat_template_llama4_json", "vllm-tool_chat_template_mistral",
                                           "vllm-tool_chat_template_xlam_llama")
DEEPSEEK, MISTRAL_SMALL, NEMOTRON = ("llamacpp-deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",
                                     "llamacpp-mistralai-Mistral-Small-3.1-24B-Instruct-2503",
                                     "llamacpp-nvidia-Llama-3_3-Nemotron-Super-49B-v1_5")

# family, and the Llama 3.x version its markers show (3.1 JSON has strftime_now + the date lines: 3.2's text)
FORMATS = {PHI: ("phi", None), ALPACA: ("alpaca", None), CHATML: ("chatml", None), HERMES: ("chatml", None),
           JSON31: ("llama3", "3.2"), PYTHONIC: ("llama3", "3.2"), LLAMA4: ("llama4", None),
           MISTRAL: ("mistral", None), XLAM: ("llama3", "3.0"),
           # DeepSeek's own <｜User｜>/<｜Assistant｜> tokens; Nemotron: Llama 3 headers, no date lines
           DEEPSEEK: ("other", None), MISTRAL_SMALL: ("mistral", None), NEMOTRON: ("llama3", "3.0")}

# system role, tools, tool calls, parallel calls, tool results: what a reader of the template sees it write
CAPS = ("system_role", "tools", "tool_calls", "parallel_tool_calls", "tool_responses")
EXPECTED_CAPS = {
    PHI: (1, 1, 1, 1, 1), ALPACA: (1, 0, 0, 0, 0), CHATML: (1, 0, 0, 0, 1), HERMES: (1, 1, 1, 1, 1),
    JSON31: (1, 1, 1, 0, 1),  # raises on two calls
    PYTHONIC: (1, 1, 1, 1, 1), LLAMA4: (1, 1, 1, 1, 1), MISTRAL: (1, 1, 1, 1, 1), XLAM: (1, 1, 1, 1, 1),
    DEEPSEEK: (1, 0, 1, 1, 1),  # never reads tools; calls and results need arguments as JSON text (concatenated)
    MISTRAL_SMALL: (1, 1, 1, 1, 1), NEMOTRON: (1, 1, 1, 1, 1),
}

# lint under transformers: the findings judged true, by code and count
TRUE_FINDINGS = {
    PHI: {"LT009": 1}, ALPACA: {"LT009": 1}, CHATML: {"LT009": 1}, HERMES: {"LT009": 1}, MISTRAL: {"LT009": 1},
    LLAMA4: {"LT009": 1, "LT006": 1},
    JSON31: {"LL110": 5, "LL112": 1, "LL113": 1, "LL114": 2, "LL115": 2, "LT006": 1, "LT010": 1},
    PYTHONIC: {"LL110": 3, "LL113": 1, "LL114": 1, "LL116": 1, "LT006": 1, "LT011": 2},
    XLAM: {"LL116": 1},
    DEEPSEEK: {"LT009": 1}, MISTRAL_SMALL: {"LT009": 1, "LT006": 1},  # its default system message has the date
    NEMOTRON: {"LL116": 1},  # user content written as it comes: a part list prints as a Python list
}
# judged false: xLAM-2's Llama models are Llama 3.1 fine-tunes; its template has no 3.1 markers, so it
# is checked as 3.0, whose reference strips content
# Nemotron Super v1.5 is a Llama 3.3 fine-tune in the same position (its format writes content verbatim)
FALSE_FINDINGS = {XLAM: {"LL110": 1}, NEMOTRON: {"LL110": 1}}


def _path(name: str) -> Path:
    return DATA / f"{name}.jinja"


def test_every_sample_file_is_named_in_sources():
    sources = (DATA / "SOURCES").read_text()
    assert {p.stem for p in DATA.glob("*.jinja")} == set(FORMATS)
    assert all(f"{name}.jinja |" in sources for name in FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_is_found(name):
    found = detect_format(_path(name).read_text())
    assert (found.family, found.version) == FORMATS[name] and found.reason


@pytest.mark.parametrize("name", sorted(EXPECTED_CAPS))
def test_caps_agree_with_the_hand_judgment_and_are_never_behind_llama_cpp(name):
    from llamatpl.engines.llamacpp import capabilities as llamacpp_capabilities

    tpl = resolve_template(str(_path(name)))
    ours = {c.name: c.supported for c in capabilities(tpl)}
    assert tuple(int(ours[c]) for c in CAPS) == EXPECTED_CAPS[name]
    theirs = llamacpp_capabilities(tpl)
    behind = [c for c in CAPS if c in theirs and theirs[c]["supported"] and not ours[c]]
    assert behind == []


@pytest.mark.parametrize("name", sorted(TRUE_FINDINGS))
def test_lint_reports_the_findings_judged_by_hand(name):
    found: dict[str, int] = {}
    for finding in lint_paths([str(_path(name))], engines=["transformers"]):
        found[finding.code] = found.get(finding.code, 0) + 1
    expected = dict(TRUE_FINDINGS[name])
    for code, count in FALSE_FINDINGS.get(name, {}).items():
        expected[code] = expected.get(code, 0) + count
    assert found == expected


def test_no_llama_rule_fires_on_another_format():
    for name, (family, _) in FORMATS.items():
        if family != "llama3":
            assert not [f for f in lint_paths([str(_path(name))]) if f.code.startswith("LL")], name


def test_diff_reads_the_tool_header_apart_from_object_result_loss():
    # read by hand: vLLM's 3.1 JSON template writes every tool result under an ipython header; a
    # non-string result is walked as a list of content parts, so an object's keys write nothing
    from llamatpl.diffing.differ import diff_templates

    changed = diff_templates("official:3.1", str(_path(JSON31))).changed_features
    assert "tool_role_header" not in changed
    assert changed["object_tool_result"] == {"a": "written as JSON", "b": "dropped"}


def _caps_of(text_or_path):
    tpl = resolve_template(str(text_or_path))
    return {c.name: c for c in capabilities(tpl)}


def test_generation_prompt_and_continue_are_read_without_llama_headers(tmp_path):
    # read by hand: vLLM's ChatML template writes '<|im_start|>assistant\n' only under add_generation_prompt
    caps = _caps_of(_path(CHATML))
    assert caps["generation_prompt"].supported and "'<|im_start|>assistant\\n' added" in caps["generation_prompt"].detail
    assert caps["continue_final_message"].supported
    # the same template without its generation-prompt line never adds one
    never = tmp_path / "chatml-never.jinja"
    never.write_text(_path(CHATML).read_text().split("{% if add_generation_prompt %}")[0])
    assert not _caps_of(never)["generation_prompt"].supported
    # written always, whatever add_generation_prompt says: the prompt still ends with the reply opener
    always = tmp_path / "chatml-always.jinja"
    always.write_text(never.read_text() + "{{ '<|im_start|>assistant\\n' }}")
    assert _caps_of(always)["generation_prompt"].supported
    # Mistral's format has no assistant header: the prompt ends where the reply starts ('[/INST]')
    assert _caps_of(_path(MISTRAL))["generation_prompt"].supported


def test_a_final_message_the_template_does_not_end_with_is_not_continued(tmp_path):
    # transformers cuts the prompt after the final message's text; a ChatML template that writes
    # assistant text only once a user answers it leaves nothing to cut
    late = tmp_path / "chatml-late.jinja"
    late.write_text("{% for m in messages %}{% if m.role == 'user' %}<|im_start|>user\n{{ m.content }}<|im_end|>\n"
                    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    caps = _caps_of(late)
    assert caps["generation_prompt"].supported and not caps["continue_final_message"].supported
