"""Any chat template, rewritten with ``{% generation %}`` blocks for transformers and TRL.

The original text becomes a macro, untouched; the new template renders it once for the whole
prompt and once per assistant message for the two prefixes :mod:`llamatpl.train.masks` uses, then
writes the whole prompt back in slices, each assistant span inside ``{% generation %}``. So the
text is the original's, byte for byte, and ``return_assistant_tokens_mask=True`` marks what
llamatpl's mask marks: TRL's convention (the header outside the block; content, tool call and the
closing ``<|eot_id|>`` / ``<|eom_id|>`` inside). A conversation whose prefixes are not prefixes of
its prompt raises, as ``llamatpl prepare`` does, and so does one that starts with an assistant message
(its turn's start is the end of the empty conversation rendered with the generation prompt).

The block sits in the template's top level, where transformers' tracker counts the text written
before it; the cost is two extra renders per assistant message.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from ..verification.prefix import FIRST_IS_ASSISTANT

_NAME = "llamatpl_prompt"

_BODY = """\
{%- set llamatpl_full = NAME(messages, add_generation_prompt) -%}
{%- set llamatpl_at = namespace(done=0) -%}
{%- for llamatpl_message in messages -%}
{%- if llamatpl_message['role'] == 'assistant' -%}
{%- if loop.first -%}
{{- raise_exception('messages[0]: FIRST') -}}
{%- endif -%}
{%- set llamatpl_before = NAME(messages[:loop.index0], true) -%}
{%- if loop.last and not add_generation_prompt -%}
{%- set llamatpl_through = llamatpl_full -%}
{%- else -%}
{%- set llamatpl_through = NAME(messages[:loop.index], false) -%}
{%- endif -%}
{%- if not llamatpl_full.startswith(llamatpl_through) or not llamatpl_through.startswith(llamatpl_before) \
or llamatpl_before|length < llamatpl_at.done -%}
{{- raise_exception('messages[' ~ loop.index0 ~ ']: the template is not prefix-stable, so the assistant turn cannot be marked') -}}
{%- endif -%}
{{- llamatpl_full[llamatpl_at.done:llamatpl_before|length] -}}
{%- generation -%}
{{- llamatpl_full[llamatpl_before|length:llamatpl_through|length] -}}
{%- endgeneration -%}
{%- set llamatpl_at.done = llamatpl_through|length -%}
{%- endif -%}
{%- endfor -%}
{{- llamatpl_full[llamatpl_at.done:] -}}
"""


def with_generation_tags(template_text: str) -> str:
    """``template_text`` with ``{% generation %}`` around every assistant turn's generated text."""
    if re.search(r"{%-?\s*generation\b", template_text):
        raise UsageError("--generation-tags: the template already has {% generation %} blocks")
    if _NAME in template_text:
        raise UsageError(f"--generation-tags: the template already uses the name {_NAME}")
    # trim_blocks would eat a newline that starts the original; an output tag before `endmacro`
    # keeps lstrip_blocks from eating spaces that end it
    lead = "\n" if template_text.startswith(("\n", "\r")) else ""
    for ending in ("\r\n", "\n", "\r"):  # Jinja drops one newline that ends a template's source
        if template_text.endswith(ending):
            template_text = template_text[: -len(ending)]
            break
    return (f"{{%- macro {_NAME}(messages, add_generation_prompt) %}}{lead}{template_text}"
            f"{{{{ '' }}}}{{%- endmacro -%}}\n" + _BODY.replace("NAME", _NAME).replace("FIRST", FIRST_IS_ASSISTANT))
