"""Rule documentation generated from the rules' docstrings: ``llamatpl rules`` and ``docs/rules.md``."""

from __future__ import annotations

import inspect

from .catalog import all_rules
from .rule import Rule


def rule_doc(rule: type[Rule]) -> str:
    """The documentation of one rule: its module docstring (what, why, anti-pattern, best practice)."""
    module = inspect.getmodule(rule)
    return inspect.cleandoc((module.__doc__ if module else None) or rule.__doc__ or "")


def explain(rule: type[Rule]) -> str:
    versions = ", ".join(rule.versions)
    return f"{rule.code} {rule.name} ({rule.severity}; Llama {versions})\n\n{rule_doc(rule)}\n"


def summary(rule: type[Rule]) -> str:
    return rule_doc(rule).split("\n", 1)[0]


def markdown() -> str:
    """``docs/rules.md``: every rule, generated; ``tests/test_lint.py`` keeps the file current."""
    out = ["# Lint rules", "",
           "Generated from the rule modules' docstrings by `llamatpl rules --markdown`; do not edit by hand.", "",
           "| code | name | severity | versions | what |", "|---|---|---|---|---|"]
    rules = all_rules()
    for r in rules:
        what = summary(r).replace("|", "\\|")
        out.append(f"| [{r.code}](#{r.code.lower()}-{r.name}) | {r.name} | {r.severity} | {', '.join(r.versions)} "
                   f"| {what} |")
    for r in rules:
        body = rule_doc(r).split("\n", 1)
        out += ["", f"## {r.code} {r.name}", "", f"*{r.severity}*: {body[0]}"]
        if len(body) > 1:
            out += ["", _fence_examples(body[1].strip())]
    return "\n".join(out) + "\n"


def _fence_examples(text: str) -> str:
    """Turn reStructuredText ``::`` blocks into fenced Jinja blocks for Markdown."""
    out: list[str] = []
    state = "text"  # text -> waiting (after "::") -> code
    for line in text.split("\n"):
        if state == "code" and line.strip() and not line.startswith("    "):
            out += ["```", ""]
            state = "text"
        if state == "waiting" and line.strip():
            out.append("```jinja")
            state = "code"
        if state == "text" and line.endswith("::"):
            out.append(line[:-1])
            state = "waiting"
        elif state == "code":
            out.append(line[4:])
        elif state == "text":
            out.append(line)
    if state == "code":
        out.append("```")
    return "\n".join(out).replace("\n\n```\n", "\n```\n")
