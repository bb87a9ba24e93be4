"""The fast backend's speed, measured side by side in one run (ratios, not absolute timings).

    python bench/backends.py            # per-call table, goal ratios, JSONL-to-ids throughput
    python bench/backends.py --quick    # fewer repeats, 5,000 conversations

Per call (blocks of 100 calls taking turns, each call timed alone, the 20th percentile kept: the
machines are shared and noisy), for each bundled template and two conversations (the tool round trip, a multi-turn chat):
transformers' ``render_jinja_template``; jinja2 (llamatpl's sandboxed environment, compiled once,
the variables built once); minijinja (the fast backend's call as llamatpl makes it for this
conversation, the variables built once); ``llamatpl.render`` given a ``Conversation`` (as the
library, JSONL and training paths hold one: its variables are prepared once per conversation
object) and given the plain dict (validated and prepared on every call). The backend is chosen by
the verdict, the check run first. Every output is checked byte-identical to transformers' first.

Then: a cold ``llamatpl render`` of one conversation in a new process with an empty cache
directory, automatic and with jinja2 forced (main's path), and JSONL to ids with jinja2 forced,
then automatic twice in the same cache directory (the first run draws the check's conversations
and runs the check; the second reads the verdict).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEMPLATES = ["official:3.0", "official:3.1", "official:3.2", "official:3.2-vision", "tuned:3.1", "tuned:3.2",
             "tuned:3.2-vision"]
CONVERSATIONS = ["tool-round-trip", "multi-turn"]


QUANTILE = 0.2


def _interleaved(fns: dict, calls: int, block: int = 100) -> dict[str, float]:
    """µs per call of each function: blocks of ``block`` calls, the functions' blocks taking turns,
    each call timed on its own; the 20th percentile of each. Blocks keep each function's caches
    warm, as in a process that renders many conversations; taking turns and the low percentile make
    other work on a shared machine (which only ever adds time, in bursts) hit every function alike."""
    times: dict[str, list[float]] = {label: [] for label in fns}
    clock = time.perf_counter
    for _ in range(max(1, calls // block)):
        for label, fn in fns.items():
            record = times[label].append
            for _ in range(block):
                start = clock()
                fn()
                record(clock() - start)
    return {label: sorted(xs)[int(QUANTILE * len(xs))] * 1e6 for label, xs in times.items()}


def measure(name: str, fixture: str, number: int, repeat: int) -> dict[str, float | str]:
    from transformers.utils.chat_template_utils import render_jinja_template

    from llamatpl import load_conversation, render
    from llamatpl.rendering import backend, fast, fastscan
    from llamatpl.rendering.environment import compile_template
    from llamatpl.rendering.limits import DEFAULT_LIMITS
    from llamatpl.rendering.renderer import template_context

    conv = load_conversation(str(ROOT / "fixtures" / f"{fixture}.json"))
    template = __import__("llamatpl").resolve_template(name)
    text = template.text_for(has_tools=conv.tools is not None)
    data = conv.to_data()
    extra = {k: v for k, v in data.items() if k not in ("messages", "tools", "add_generation_prompt")}

    def transformers() -> str:
        return render_jinja_template([data["messages"]], tools=data.get("tools"), chat_template=text,
                                     add_generation_prompt=conv.add_generation_prompt, **template.special_tokens,
                                     **extra)[0][0]

    variables = template_context(conv, template.special_tokens)
    compiled = compile_template(text)

    def jinja2() -> str:
        return compiled.render(variables)

    trim_chars = fastscan.scan(variables) & fastscan.TRIM_CHARS

    def minijinja() -> str | None:
        return fast.render(text, variables, DEFAULT_LIMITS, trim_chars)

    def llamatpl() -> str:
        return render(conv, template=template)

    def from_dict() -> str:
        return render(data, template=template)

    expected = transformers()
    with backend.checking():
        assert llamatpl() == expected, (name, fixture)
    assert from_dict() == expected, (name, fixture)
    assert jinja2() == expected, (name, fixture)
    row: dict[str, float | str] = {"backend": getattr(backend.LAST.get(), "backend", "?")}
    fast_out = minijinja()
    row["minijinja same bytes"] = "yes" if fast_out == expected else ("gave up" if fast_out is None else "NO")
    row.update(_interleaved({"transformers": transformers, "jinja2": jinja2, "minijinja": minijinja,
                             "llamatpl": llamatpl, "from dict": from_dict}, number * repeat // 5))
    return row


def table(number: int, repeat: int) -> None:
    import llamatpl.probes.backends  # noqa: F401 - the check, as llamatpl.render and the CLI install it

    print(f"{'template':20} {'conversation':16} {'transformers':>12} {'jinja2':>8} {'minijinja':>10} "
          f"{'llamatpl':>9} {'speed-up':>8} {'overhead':>8} {'from dict':>10}  backend (minijinja's bytes)")
    for name in TEMPLATES:
        for fixture in CONVERSATIONS:
            r = measure(name, fixture, number, repeat)
            fast_backend = r["backend"] == "minijinja"
            overhead = (f"{100 * (float(r['llamatpl']) - float(r['minijinja'])) / float(r['minijinja']):.0f}%"
                        if fast_backend else "-")
            print(f"{name:20} {fixture:16} {r['transformers']:>10.1f}µs {r['jinja2']:>6.1f}µs {r['minijinja']:>8.1f}µs "
                  f"{r['llamatpl']:>7.1f}µs {float(r['transformers']) / float(r['llamatpl']):>7.2f}x {overhead:>8} "
                  f"{r['from dict']:>8.1f}µs  {r['backend']} ({r['minijinja same bytes']})")


def goals(number: int, repeat: int) -> None:
    rounds = [measure("official:3.1", "tool-round-trip", number, repeat) for _ in range(3)]
    speedup = sorted(float(r["transformers"]) / float(r["llamatpl"]) for r in rounds)[1]
    overhead = sorted((float(r["llamatpl"]) - float(r["minijinja"])) / float(r["minijinja"]) for r in rounds)[1]
    print(f"goal: llamatpl.render on official 3.1, tool round trip: {speedup:.2f}x transformers' "
          f"render_jinja_template (goal >= 4x, floor 3x); llamatpl's overhead around minijinja "
          f"{100 * overhead:.0f}% of minijinja's own time (goal < 20%); median of 3 rounds")


def cold_render() -> None:
    """One conversation rendered by a new process with an empty cache directory (median of 3)."""
    results = {}
    for label, extra in (("jinja2 forced (main's path)", {"LLAMATPL_BACKEND": "jinja2"}), ("automatic", {})):
        times = []
        for _ in range(3):
            env = {**os.environ, **extra, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="llamatpl-bench-")}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "llamatpl", "render", str(ROOT / "fixtures" / "tool-round-trip.json"),
                            "--version", "3.1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        results[label] = sorted(times)[1]
    print("cold llamatpl render, one conversation, empty cache: " +
          ", ".join(f"{label} {seconds:.2f} s" for label, seconds in results.items()))


def throughput(n: int) -> None:
    """JSONL to ids with `llamatpl render --format ids`: jinja2 forced (before), then automatic twice
    in one cache directory (the first run includes drawing the check's conversations and the check)."""
    from run import _make_jsonl

    work = Path(tempfile.mkdtemp(prefix="llamatpl-bench-"))
    data = work / "conversations.jsonl"
    _make_jsonl(data, n)
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
    results = {}
    for label, extra in (("before", {"LLAMATPL_BACKEND": "jinja2"}), ("first", {}), ("second", {})):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llamatpl", "render", str(data), "--version", "3.1", "--format", "ids",
                        "--no-progress"], cwd=ROOT, env={**env, **extra}, stdout=subprocess.DEVNULL, check=True)
        results[label] = n / (time.perf_counter() - start)
    before = results["before"]
    print(f"JSONL to ids, {n:,} conversations, official 3.1, --jobs 1: before (jinja2) {before:,.0f}/s; "
          f"after, first run (check included) {results['first']:,.0f}/s ({results['first'] / before:.2f}x), "
          f"second run (verdict cached) {results['second']:,.0f}/s ({results['second'] / before:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    number, repeat = (300, 3) if args.quick else (1000, 5)
    print(f"llamatpl backends on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    table(number, repeat)
    goals(number, repeat)
    cold_render()
    throughput(5_000 if args.quick else 20_000)


if __name__ == "__main__":
    main()
