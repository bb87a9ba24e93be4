"""A terminal view of a prompt: special tokens coloured, one turn a line, whitespace made visible.

Built from :class:`rich.text.Text` pieces, never from markup strings, so prompt text such as
``[/INST]`` is shown as it is. Only the pretty view goes through rich; exact output does not.
"""

from __future__ import annotations

import re

from rich.text import Text

from ..tokens.tokenizer import SPECIAL_TOKEN_TEXT

_STYLES = {
    "<|begin_of_text|>": "bold green",
    "<|start_header_id|>": "cyan",
    "<|end_header_id|>": "cyan",
    "<|eot_id|>": "bold magenta",
    "<|eom_id|>": "bold yellow",
    "<|python_tag|>": "bold yellow",
    "<|image|>": "bold blue",
}
_TURN_ENDS = ("<|eot_id|>", "<|eom_id|>")
_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n|$)")


def visible_whitespace(text: str) -> Text:
    """Text with newlines shown as ``↵`` (then broken), trailing blanks as ``·``, tabs as ``→``."""
    out = Text()
    for line_no, line in enumerate(text.split("\n")):
        if line_no:
            out.append("↵", style="dim")
            out.append("\n")
        match = _TRAILING_SPACE.search(line)
        body, tail = (line[: match.start()], line[match.start():]) if match else (line, "")
        out.append(body.replace("\t", "→"))
        if tail:
            out.append(tail.replace(" ", "·").replace("\t", "→"), style="reverse dim")
    return out


def prompt_text(prompt: str) -> Text:
    """The whole prompt as styled text, with a visual line break after each turn's end token."""
    out = Text()
    position = 0
    for match in SPECIAL_TOKEN_TEXT.finditer(prompt):
        out.append_text(visible_whitespace(prompt[position:match.start()]))
        token = match.group()
        out.append(token, style=_STYLES.get(token, "bold red"))
        if token in _TURN_ENDS:
            out.append("\n")
        position = match.end()
    out.append_text(visible_whitespace(prompt[position:]))
    return out
