"""llamatpl's speed goals, measured side by side in one run (ratios, not absolute timings).

    python bench/run.py            # the full run (a 100,000-conversation JSONL)
    python bench/run.py --quick    # 10,000 conversations, fewer repeats

Needs the test extra (transformers) for the comparisons. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "llamatpl"]
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _wall(cmd: list[str], repeat: int) -> float:
    """Median wall time of a command, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_startup(repeat: int) -> None:
    help_s = _wall([shutil.which("llamatpl") or "llamatpl", "--help"], repeat)
    lint_s = _wall([shutil.which("llamatpl") or "llamatpl", "lint", "templates/official/3.1.jinja", "--version", "3.1"],
                   repeat)
    print(f"startup: llamatpl --help {help_s * 1000:.0f} ms (goal < 250 ms); "
          f"lint official 3.1 {lint_s * 1000:.0f} ms (goal < 1000 ms)")


def bench_render(repeat: int) -> None:
    import timeit

    from transformers.utils.chat_template_utils import render_jinja_template

    from llamatpl import load_conversation, render
    from llamatpl.rendering.templates import resolve_template

    template = resolve_template(version="3.1")
    ratios = []
    for path in sorted((ROOT / "fixtures").glob("*.json")):
        conv = load_conversation(str(path))
        if conv.continue_final_message:
            continue
        data = conv.to_data()
        extra = {k: v for k, v in data.items() if k not in ("messages", "tools", "add_generation_prompt")}

        def theirs() -> str:
            return render_jinja_template([data["messages"]], tools=data.get("tools"), chat_template=template.text,
                                         add_generation_prompt=conv.add_generation_prompt,
                                         bos_token="<|begin_of_text|>", eos_token="<|eot_id|>", **extra)[0][0]

        def ours() -> str:
            return render(conv, version="3.1")

        assert theirs() == ours(), path.name
        number = 300
        t = min(timeit.repeat(theirs, number=number, repeat=repeat))
        o = min(timeit.repeat(ours, number=number, repeat=repeat))
        ratios.append(t / o)
    print(f"render: llamatpl.render is {statistics.geometric_mean(ratios):.2f}x transformers' render_jinja_template "
          f"(geometric mean over {len(ratios)} fixtures, min {min(ratios):.2f}x, max {max(ratios):.2f}x; "
          f"byte-identical; goal >= 1.2x)")


def bench_verify() -> None:
    from llamatpl.verification.search import verify_template
    from llamatpl.rendering.templates import resolve_template

    template = resolve_template("official:3.0")
    verify_template(template, examples=20)  # load the tokenizer first, as the CLI's start does
    report = verify_template(template, examples=1000, seed=0)
    total = sum(report.timings.values())
    where = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in report.timings.items())
    print(f"verify: official 3.0 template, 1000 examples in {report.seconds:.2f} s "
          f"({report.examples / report.seconds:.0f} conversations/s; goal < 4 s); time: {where}")


def _make_jsonl(path: Path, n: int) -> None:
    fixtures = [json.loads(p.read_text()) for p in sorted((ROOT / "fixtures").glob("*.json"))]
    fixtures = [f for f in fixtures if not f.get("continue_final_message")]
    with path.open("w") as out:
        for i in range(n):
            conv = json.loads(json.dumps(fixtures[i % len(fixtures)]))
            conv["messages"][-1]["content"] = f"{conv['messages'][-1].get('content') or ''} #{i}"
            out.write(json.dumps(conv) + "\n")


def _hf_loop(path: Path, folder: Path) -> float:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    start = time.perf_counter()
    with path.open() as lines:
        for line in lines:
            data = json.loads(line)
            messages = data.pop("messages")
            tools = data.pop("tools", None)
            agp = data.pop("add_generation_prompt", True)
            tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=agp, tokenize=True,
                                          return_dict=False, **data)
    return time.perf_counter() - start


def bench_scale(n: int) -> None:
    from llamatpl.tokens.export import export_tokenizer

    work = Path(tempfile.mkdtemp(prefix="llamatpl-bench-"))
    try:
        data = work / "conversations.jsonl"
        _make_jsonl(data, n)
        folder = export_tokenizer("3.1", work / "hf")
        hf = _hf_loop(data, folder)
        results = {}
        # GNU time forks the command from a small process, so the peak memory it reports is the
        # command's own (a child forked from this large process would inherit our high-water mark).
        timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
        for jobs in (1, 2):
            start = time.perf_counter()
            done = subprocess.run([*timer, *CLI, "render", str(data), "--version", "3.1", "--format", "ids", "--jobs",
                                   str(jobs), "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, check=True)
            peak = int(done.stderr.split()[-1]) if timer else 0
            results[jobs] = (time.perf_counter() - start, peak)
        print(f"scale: {n:,} conversations to token ids: transformers apply_chat_template loop {n / hf:,.0f}/s; "
              f"llamatpl render --jobs 1 {n / results[1][0]:,.0f}/s ({hf / results[1][0]:.2f}x), "
              f"--jobs 2 {n / results[2][0]:,.0f}/s ({hf / results[2][0]:.2f}x); "
              f"peak RSS of the llamatpl process {results[1][1] / 1024:.0f} MiB (the same for any file size: it streams)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_lint() -> None:
    work = Path(tempfile.mkdtemp(prefix="llamatpl-lint-"))
    try:
        sources = sorted((ROOT / "templates").glob("*/*.jinja")) + sorted((ROOT / "tests" / "data" / "lint").glob("*/*.jinja"))
        for i in range(200):
            shutil.copy(sources[i % len(sources)], work / f"t{i:03}.jinja")
        line = []
        for jobs in (1, 2):
            seconds = _wall([*CLI, "lint", str(work), "--jobs", str(jobs), "--format", "json"], 1)
            line.append(f"--jobs {jobs} {200 / seconds:.0f} templates/s")
        print("lint: a folder of 200 templates: " + ", ".join(line))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 conversations and fewer repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else 5
    print(f"llamatpl benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    bench_startup(repeat)
    bench_render(repeat)
    bench_verify()
    bench_lint()
    bench_scale(10_000 if args.quick else 100_000)


if __name__ == "__main__":
    main()
