"""Write a diff report: plain unified diffs (text), a terminal view (pretty), or JSON."""

from __future__ import annotations

import json
from typing import TextIO

from ..diffing.differ import DiffReport


def write_json(report: DiffReport, out: TextIO) -> None:
    out.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")


def write_text(report: DiffReport, out: TextIO) -> None:
    a, b = report.a_name, report.b_name
    changed = report.changed_features
    out.write(f"{a} -> {b}: {len(changed)} feature{'s' if len(changed) != 1 else ''} differ\n")
    for name, v in changed.items():
        out.write(f"  {name}: {v['a']} -> {v['b']}\n")
    for conv in report.conversations:
        if conv.identical:
            continue
        out.write(f"\n=== {conv.name}")
        if conv.token_delta:
            d = conv.token_delta
            out.write(f" (tokens {d['a_tokens']} -> {d['b_tokens']}, first divergence at {d['first_divergence']}, "
                      f"+{d['added']} -{d['removed']})")
        out.write("\n")
        out.write(conv.unified(a, b))
    same = sum(c.identical for c in report.conversations)
    out.write(f"\n{same} of {len(report.conversations)} conversations render identically.\n")


def write_pretty(report: DiffReport, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .prompt_view import prompt_text

    console = Console(file=out, highlight=False)
    table = Table(title=f"{report.a_name} → {report.b_name}", title_justify="left")
    table.add_column("feature")
    table.add_column(report.a_name)
    table.add_column(report.b_name)
    rows = sorted(report.features.items(), key=lambda kv: kv[1]["a"] == kv[1]["b"])
    for name, v in rows:
        style = "bold" if v["a"] != v["b"] else "dim"
        table.add_row(Text(name, style=style), Text(v["a"], style=style), Text(v["b"], style=style))
    console.print(table)
    for conv in report.conversations:
        if conv.identical:
            continue
        head = Text(f"\n{conv.name}", style="bold")
        if conv.token_delta:
            d = conv.token_delta
            head.append(f"  tokens {d['a_tokens']} → {d['b_tokens']}, first divergence at {d['first_divergence']}",
                        style="dim")
        console.print(head)
        for line in conv.unified(report.a_name, report.b_name).splitlines()[2:]:
            if line.startswith("@@"):
                console.print(Text(line, style="cyan"))
                continue
            sign, body = line[:1], line[1:]
            styled = Text(sign, style={"+": "green", "-": "red"}.get(sign, "dim"))
            shown = prompt_text(body)
            if sign not in "+-":
                shown.stylize("dim")
            styled.append_text(shown)
            console.print(styled, soft_wrap=True)
    same = sum(c.identical for c in report.conversations)
    console.print(Text(f"\n{same} of {len(report.conversations)} conversations render identically.", style="dim"))
