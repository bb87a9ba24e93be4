"""Write a verify report: a readable text report or the JSON document tools consume."""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..verification.compare import Verdict
from ..verification.search import Feature, Report
from ..tokens.tokenizer import get_tokenizer
from .visible import snippet, visible


def report_json(report: Report) -> dict[str, Any]:
    f = report.failure
    return {
        "ok": report.ok,
        "template": report.template,
        "version": report.version,
        "format": report.format,
        "dialect": report.dialect,
        "examples": report.examples,
        "category": (f.category or f.inherent) if f else None,
        "counterexample": f.conversation.to_data() if f else None,
        "error": f.error if f else None,
        "disputed": [str(r) for r in f.reasons] if f else [],
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
        "features": {name: _feature_json(feature) for name, feature in report.features.items()},
    }


def _feature_json(feature: Feature) -> dict[str, Any]:
    f = feature.failure
    return {
        "status": feature.status,
        "category": (f.category or f.inherent) if f else None,
        "counterexample": f.conversation.to_data() if f else None,
        "note": feature.note or None,
        "disputed": [str(r) for r in f.reasons] if f else [],
        "examples": feature.examples,
        "rejected": feature.rejected,
    }


def write_json(report: Report, out: TextIO) -> None:
    out.write(json.dumps(report_json(report), ensure_ascii=False) + "\n")


def _write_prefix(report: Report, out: TextIO, head: str, rate: float, seed: int | None) -> None:
    f = report.failure
    if report.rejected:  # refused by the engine, or turns that cannot be located (as prepare refuses them)
        out.write(f"{report.rejected} of {report.examples} conversations could not be checked (not counted as "
                  f"passes); the first: {report.first_rejection}\n")
    if f is None and not report.accepted:
        out.write(f"FAIL {head}: no conversation could be checked\n")
        return
    if f is None:
        out.write(f"PASS {head}: {report.accepted} conversations prefix-stable (every earlier turn renders the "
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
    """The verdict line, a compact table of feature areas, then the details of each failing area."""
    engine = "" if report.engine == "transformers" else f", as {report.engine} builds it"
    llama = f"Llama {report.version}" if report.format.startswith("Llama 3") or not report.format else report.format
    head = f"{report.template} ({llama}, reference dialect {report.dialect}{engine})"
    rate = report.examples / report.seconds if report.seconds else 0.0
    if report.prefix:
        _write_prefix(report, out, head, rate, seed)
        return
    inherent = ", ".join(f"{k} {n}" for k, n in sorted(report.inherent.items())) or "none"
    failing = [(name, f) for name, f in report.features.items()
               if f.status in ("fail", "disputed") and f.failure is not None]
    disputed = sum(f.status == "disputed" for _, f in failing)
    unsupported = sum(f.status == "unsupported" for f in report.features.values())
    aside = f"; {unsupported} feature area{'s' if unsupported != 1 else ''} unsupported" if unsupported else ""
    if report.rejected:
        out.write(f"{report.engine} rejected {report.rejected} of {report.examples} conversations "
                  f"(not counted as passes); the first: {report.first_rejection}\n")
    if not failing and not report.accepted:
        out.write(f"FAIL {head}: {report.engine} rejected every conversation, so nothing was verified\n")
    elif not failing:
        out.write(f"PASS {head}: {report.accepted} conversations token-exact with Meta's reference, "
                  f"except inherent differences ({inherent}){aside}; {rate:.0f} conversations/s\n")
    else:
        seeded = f", seed {seed}" if seed is not None else ""
        counts = f"{len(failing) - disputed} of {len(report.features)} feature areas fail"
        if disputed:
            counts += f" and {disputed} rest on points where Meta's sources disagree"
        out.write(f"FAIL {head}: {counts}, after {report.examples} conversations{seeded}\n")
    out.write(_table(report))
    if not failing:
        if report.inherent and not report.strict and report.accepted:
            out.write("Inherent differences come from tokenizing a string; --strict makes them fail.\n")
        out.write(_where_time_went(report))
        return
    shown: dict[str, str] = {}  # a given conversation can fail several areas: show it once
    for name, feature in failing:
        assert feature.failure is not None
        kind = "disputed " if feature.status == "disputed" else ""
        out.write(f"\n== {name}: {kind}{feature.failure.category or feature.failure.inherent} "
                  f"after {_plural(feature.examples, 'conversation')}\n")
        key = json.dumps(feature.failure.conversation.to_data(), sort_keys=True)
        if key in shown:
            out.write(f"(the same conversation as {shown[key]} above)\n")
            continue
        shown[key] = name
        _details(feature.failure, report.version, out)
    out.write(f"\nInherent token differences seen: {inherent}\n")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _table(report: Report) -> str:
    rows = []
    for name, feature in report.features.items():
        f = feature.failure
        if feature.status in ("fail", "disputed") and f is not None:
            detail = f.category or f.inherent or ""
            points = sorted({r.point for r in f.reasons})
            if points:
                kind = "disputed" if all(r.disputed for r in f.reasons) else "departs"
                detail += f" ({kind}: {', '.join(points)})"
        else:
            detail = feature.note or f"{feature.accepted} conversations"
        rows.append(f"  {name:<24} {feature.status:<12} {detail}")
    return "\n".join(rows) + "\n" if rows else ""


def _details(f: Verdict, version: str, out: TextIO) -> None:
    for reason in f.reasons:
        out.write(f"{reason}\n")
    out.write("Smallest conversation that breaks it (save it and re-run with --conversation FILE):\n")
    out.write(json.dumps(f.conversation.to_data(), ensure_ascii=False) + "\n")
    if f.category == "raises":
        out.write(f"The template raised: {f.error}\n")
        return
    if f.text_divergence is not None and f.rendered is not None:
        at = f.text_divergence
        out.write(f"Text differs at character {at}:\n")
        out.write(f"  rendered : {snippet(f.rendered, at)}\n")
        out.write(f"  reference: {snippet(f.expected, at)}\n")
    if f.first_divergence is not None:
        out.write(f"Tokens differ at token {f.first_divergence}:\n")
        out.write(_aligned(f.actual_ids, f.expected_ids, f.first_divergence, version))


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
