"""Write a verify report: a readable text report or the JSON document tools consume."""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..verification.search import Report
from ..tokens.tokenizer import get_tokenizer
from .visible import snippet, visible


def report_json(report: Report) -> dict[str, Any]:
    f = report.failure
    return {
        "ok": report.ok,
        "template": report.template,
        "version": report.version,
        "dialect": report.dialect,
        "examples": report.examples,
        "category": (f.category or f.inherent) if f else None,
        "counterexample": f.conversation.to_data() if f else None,
        "error": f.error if f else None,
        "text_divergence": f.text_divergence if f else None,
        "first_divergence": f.first_divergence if f else None,
        "expected_ids": f.expected_ids if f else [],
        "actual_ids": f.actual_ids if f else [],
        "inherent": {k: report.inherent.get(k, 0) for k in ("boundary-merge", "special-token-injection")},
        "engine": report.engine,
        "rejected": report.rejected,
        "first_rejection": report.first_rejection,
        "seconds": round(report.seconds, 3),
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def write_json(report: Report, out: TextIO) -> None:
    out.write(json.dumps(report_json(report), ensure_ascii=False) + "\n")


def _write_prefix(report: Report, out: TextIO, head: str, rate: float, seed: int | None) -> None:
    f = report.failure
    if f is None:
        out.write(f"PASS {head}: {report.examples} conversations prefix-stable (every earlier turn renders the "
                  f"same when a later one arrives); {rate:.0f} conversations/s\n")
        return
    seeded = f", seed {seed}" if seed is not None else ""
    out.write(f"FAIL {head}: {f.category} after {report.examples} conversations{seeded}\n\n")
    out.write("Smallest conversation that breaks it (save it and re-run with --conversation FILE):\n")
    out.write(json.dumps(f.conversation.to_data(), ensure_ascii=False) + "\n\n")
    out.write(f"{f.error}:\n")
    at = f.text_divergence or 0
    out.write(f"  prefix: {snippet(f.expected, at)}\n")
    out.write(f"  whole : {snippet(f.rendered or '', at)}\n")


def write_text(report: Report, out: TextIO, *, seed: int | None = None) -> None:
    engine = "" if report.engine == "transformers" else f", as {report.engine} builds it"
    head = f"{report.template} (Llama {report.version}, reference dialect {report.dialect}{engine})"
    rate = report.examples / report.seconds if report.seconds else 0.0
    inherent = ", ".join(f"{k} {n}" for k, n in sorted(report.inherent.items())) or "none"
    f = report.failure
    if report.rejected:
        out.write(f"{report.engine} rejected {report.rejected} of {report.examples} conversations "
                  f"(not counted as passes); the first: {report.first_rejection}\n")
    if f is None and not report.accepted:
        out.write(f"FAIL {head}: {report.engine} rejected every conversation, so nothing was verified\n")
        return
    if report.prefix:
        _write_prefix(report, out, head, rate, seed)
        return
    if f is None:
        out.write(f"PASS {head}: {report.accepted} conversations token-exact with Meta's reference, "
                  f"except inherent differences ({inherent}); {rate:.0f} conversations/s\n")
        if report.inherent and not report.strict:
            out.write("Inherent differences come from tokenizing a string; --strict makes them fail.\n")
        out.write(_where_time_went(report))
        return
    category = f.category or f.inherent
    seeded = f", seed {seed}" if seed is not None else ""
    out.write(f"FAIL {head}: {category} after {report.examples} conversations{seeded}\n\n")
    out.write("Smallest conversation that breaks it (save it and re-run with --conversation FILE):\n")
    out.write(json.dumps(f.conversation.to_data(), ensure_ascii=False) + "\n\n")
    if f.category == "raises":
        out.write(f"The template raised: {f.error}\n")
        return
    if f.text_divergence is not None and f.rendered is not None:
        at = f.text_divergence
        out.write(f"Text differs at character {at}:\n")
        out.write(f"  rendered : {snippet(f.rendered, at)}\n")
        out.write(f"  reference: {snippet(f.expected, at)}\n\n")
    if f.first_divergence is not None:
        out.write(f"Tokens differ at token {f.first_divergence}:\n")
        out.write(_aligned(f.actual_ids, f.expected_ids, f.first_divergence, report.version))
    out.write(f"\nInherent token differences seen: {inherent}\n")


def _aligned(actual: list[int], expected: list[int], at: int, version: str, around: int = 3) -> str:
    tokenizer = get_tokenizer(version)

    def cell(ids: list[int], i: int) -> str:
        if i >= len(ids):
            return "(end)"
        return f"{ids[i]} {visible(repr(tokenizer.token_text(ids[i])))}"

    rows = [f"  {'#':>6}  {'rendered':<32}  reference"]
    for i in range(max(0, at - around), at + around + 1):
        if i >= len(actual) and i >= len(expected):
            break
        mark = ">" if i == at else " "
        rows.append(f"{mark} {i:>6}  {cell(actual, i):<32}  {cell(expected, i)}")
    return "\n".join(rows) + "\n"


def _where_time_went(report: Report) -> str:
    total = sum(report.timings.values()) or 1.0
    parts = ", ".join(f"{stage} {100 * t / total:.0f}%" for stage, t in report.timings.items())
    return f"Time: {report.seconds:.2f} s ({parts}).\n"
