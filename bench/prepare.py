"""``llamatpl prepare`` throughput, side by side in one run (goals from issue 12).

    python bench/prepare.py                 # 1,000,000 conversations (long: see the README)
    python bench/prepare.py --rows 20000    # a shorter run

Writes a JSONL of training conversations (the fixtures official 3.1 renders, in turn, each made
unique and ending with an assistant turn), then measures, on the same file:

* the floor: tiktoken encoding of the already rendered prompts in one loop (no rendering, no masks);
* a plain transformers loop: ``apply_chat_template`` then the tokenizer (no masks), if installed;
* ``llamatpl prepare -o OUT.parquet`` with 1 and 2 jobs: conversations/s and peak RSS of the
  largest process; and peak RSS with a quarter of the rows (memory must be flat in the row count).

Goals: one job >= 0.6x the floor, two jobs >= 1.8x one job, memory flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
TODAY = date(2024, 7, 26)
# run a command, then print the peak RSS (KiB) of its largest process
_PEAK = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); " \
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"


def conversations() -> list[dict]:
    """The fixtures the official 3.1 template renders (and a mask can be read from)."""
    from llamatpl.errors import LlamatplError
    from llamatpl.rendering.conversation import load_conversation
    from llamatpl.rendering.templates import resolve_template
    from llamatpl.train.masks import MaskJob

    job = MaskJob(resolve_template("official:3.1"), today=TODAY)
    found = []
    for path in sorted((ROOT / "fixtures").glob("*.json")):
        try:
            job.encode(load_conversation(str(path)))
        except LlamatplError:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        data = {"messages": data} if isinstance(data, list) else data
        if not data.get("continue_final_message") and any(m["role"] == "user" and isinstance(m["content"], str) for m in data["messages"]):
            found.append(data)
    return found


def make_jsonl(path: Path, rows: int) -> None:
    base = conversations()
    with open(path, "w", encoding="utf-8") as out:
        for n in range(rows):
            conv = json.loads(json.dumps(base[n % len(base)]))
            first_user = next(m for m in conv["messages"] if m["role"] == "user" and isinstance(m["content"], str))
            first_user["content"] += f" (#{n})"
            if conv["messages"][-1]["role"] != "assistant":  # training rows end with the assistant's turn
                conv["messages"].append({"role": "assistant", "content": f"Here you are (#{n})."})
            conv["add_generation_prompt"] = False
            out.write(json.dumps(conv, ensure_ascii=False) + "\n")


def floor(path: Path) -> float:
    """Conversations/s of tiktoken alone over the rendered prompts."""
    from llamatpl.rendering.conversation import iter_conversations
    from llamatpl.rendering.templates import resolve_template
    from llamatpl.tokens.tokenizer import get_tokenizer
    from llamatpl.train.masks import MaskJob

    job = MaskJob(resolve_template("official:3.1"), today=TODAY)
    prompts = [job.render(c) for c in iter_conversations(str(path))]
    tokenizer = get_tokenizer("3.1")
    start = time.perf_counter()
    for prompt in prompts:
        tokenizer.encode_prompt(prompt)
    return len(prompts) / (time.perf_counter() - start)


def transformers_loop(path: Path, folder: Path) -> float | None:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    from llamatpl.tokens.export import export_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(export_tokenizer("3.1", folder)))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    start = time.perf_counter()
    for data in rows:
        data = dict(data)
        messages, tools = data.pop("messages"), data.pop("tools", None)
        agp = data.pop("add_generation_prompt", True)
        data.setdefault("date_string", "26 Jul 2024")
        text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=agp, **data)
        tokenizer(text, add_special_tokens=False)
    return len(rows) / (time.perf_counter() - start)


def prepare(path: Path, out: Path, jobs: int) -> tuple[float, int]:
    """(conversations/s, peak RSS in MiB) of ``llamatpl prepare`` in a fresh process."""
    rows = sum(1 for _ in open(path, encoding="utf-8"))
    cmd = [sys.executable, "-c", _PEAK, sys.executable, "-m", "llamatpl", "prepare", str(path), "-o", str(out),
           "--jobs", str(jobs), "--today", TODAY.isoformat(), "--no-progress"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return rows / (time.perf_counter() - start), int(done.stdout.split()[-1]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, quarter = work / "data.jsonl", work / "quarter.jsonl"
        make_jsonl(data, args.rows)
        make_jsonl(quarter, max(1, args.rows // 4))
        print(f"llamatpl prepare on {os.cpu_count()} cores, {args.rows:,} conversations (official 3.1)")
        base = floor(data)
        print(f"floor: tiktoken over the rendered prompts {base:,.0f}/s", flush=True)
        hf = transformers_loop(data, work / "tok")
        if hf is not None:
            print(f"transformers apply_chat_template + tokenizer loop (no masks): {hf:,.0f}/s")
        one, one_mem = prepare(data, work / "one.parquet", 1)
        two, two_mem = prepare(data, work / "two.parquet", 2)
        _, small_mem = prepare(quarter, work / "quarter.parquet", 1)
        print(f"prepare --jobs 1: {one:,.0f}/s = {one / base:.2f}x the floor (goal >= 0.6x)"
              + (f", {one / hf:.2f}x the transformers loop" if hf else ""))
        print(f"prepare --jobs 2: {two:,.0f}/s = {two / one:.2f}x one job (goal >= 1.8x)")
        print(f"peak RSS: {one_mem} MiB (1 job), {two_mem} MiB (largest process, 2 jobs), "
              f"{small_mem} MiB with a quarter of the rows (goal: flat)")


if __name__ == "__main__":
    main()
