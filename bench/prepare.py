"""``llamatpl prepare`` throughput, side by side in one run (goals from issue 12).

    python bench/prepare.py                       # 1,000,000 chats and 100,000 tool conversations
    python bench/prepare.py --rows 20000 --tool-rows 5000 --rounds 1   # a shorter run

Two generated JSONL files of training conversations, each measured on its own:

* **chat**: instruction-tuning rows as SFT sets have them: an optional system prompt, one to three
  user/assistant exchanges of a few sentences to a few paragraphs (words drawn from a fixed list
  with a fixed seed; about 390 tokens a row);
* **tools**: the fixtures official 3.1 renders, in turn, each made unique and ending with an
  assistant turn: short rows (about 150 tokens) with tool definitions, calls and results, where
  rendering is the largest share of the work.

On each file it measures:

* the floor: tiktoken encoding of the already rendered prompts in one loop (no rendering, no masks);
* a plain transformers loop: ``apply_chat_template`` then the tokenizer (no masks), if installed;
* ``llamatpl prepare -o OUT.parquet`` with 1 and 2 jobs: conversations/s and peak RSS of the
  largest process; and peak RSS with a quarter of the rows (memory must be flat in the row count).

The floor and the two runs are measured ``--rounds`` times, interleaved, and the best of each is
reported, with each round's own ratios and their median: on the 2-core virtual machines this was written on, the
same run's time moved by up to 30% from one minute to the next (time stolen by the host), so one
measurement of each says more about the machine than about the code.

Goals: one job >= 0.6x the floor, two jobs >= 1.8x one job, memory flat.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
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


WORDS = """the a of to and in is it that for you was with on as have be at one this from by not but what all
were when we there can an your which their said if do will each about how up out them then she many some so
these would other into has more her two like him see time could no make than first been its who now people my
made over did down only way find use may water long little very after words called just where most know model
data train learn token prompt answer question reason tool call result weather city paper table chart number
value list order first second third because however therefore example simple small large new old good best""".split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 22))]
    if rng.random() < 0.2:
        words[rng.randrange(len(words))] = str(rng.randint(2, 2048))
    return " ".join(words).capitalize() + rng.choice(".....?!:")


def _text(rng: random.Random, sentences: tuple[int, int]) -> str:
    paragraphs = []
    for _ in range(rng.randint(1, 1 + sentences[1] // 6)):
        paragraphs.append(" ".join(_sentence(rng) for _ in range(rng.randint(*sentences))))
    return "\n\n".join(paragraphs)


def make_chats(path: Path, rows: int, seed: int = 12) -> None:
    """SFT-style rows: optional system prompt, 1-3 exchanges, the assistant's turn last."""
    rng = random.Random(seed)
    systems = [_text(random.Random(n), (1, 3)) for n in range(8)]
    with open(path, "w", encoding="utf-8") as out:
        for n in range(rows):
            messages = [{"role": "system", "content": rng.choice(systems)}] if rng.random() < 0.5 else []
            for _ in range(rng.choice((1, 1, 2, 3))):
                messages.append({"role": "user", "content": _text(rng, (1, 4))})
                messages.append({"role": "assistant", "content": _text(rng, (3, 10))})
            out.write(json.dumps({"messages": messages, "add_generation_prompt": False}) + "\n")


def make_tool_rows(path: Path, rows: int) -> None:
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


def render_prompts(path: Path, out: Path) -> None:
    """The rendered prompts of ``path``, one JSON string a line, for :func:`floor` (rendered once)."""
    from llamatpl.rendering.conversation import iter_conversations
    from llamatpl.rendering.templates import resolve_template
    from llamatpl.train.masks import MaskJob

    job = MaskJob(resolve_template("official:3.1"), today=TODAY)
    with open(out, "w", encoding="utf-8") as prompts:
        for conversation in iter_conversations(str(path)):
            prompts.write(json.dumps(job.render(conversation)) + "\n")


def floor(prompts: Path) -> tuple[float, float]:
    """Conversations/s of tiktoken alone over the rendered prompts (10,000 read at a time, untimed)."""
    from llamatpl.tokens.tokenizer import get_tokenizer

    encoding = get_tokenizer("3.1")._encoding  # tiktoken's own Encoding, as a server would call it
    rows, spent, tokens = 0, 0.0, 0
    with open(prompts, encoding="utf-8") as lines:
        while chunk := [json.loads(line) for line in itertools.islice(lines, 10_000)]:
            start = time.perf_counter()
            for prompt in chunk:
                tokens += len(encoding.encode(prompt, allowed_special="all"))
            spent += time.perf_counter() - start
            rows += len(chunk)
    return rows / spent, tokens / rows


def transformers_loop(path: Path, folder: Path, limit: int) -> float | None:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    from llamatpl.tokens.export import export_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(export_tokenizer("3.1", folder)))
    with open(path, encoding="utf-8") as lines:
        rows = [json.loads(line) for line in itertools.islice(lines, limit)]
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
    # compiled modules kept, as an installed package has them (some shells set PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    return rows / (time.perf_counter() - start), int(done.stdout.split()[-1]) // 1024


def measure(kind: str, data: Path, quarter: Path, work: Path, rows: int, rounds: int) -> None:
    prompts = work / f"{kind}-prompts.jsonl"
    render_prompts(data, prompts)
    bases, ones, twos, one_mem, two_mem = [], [], [], 0, 0
    tokens = 0.0
    for n in range(rounds):  # interleaved, so a slow spell of the machine touches each measure alike
        base, tokens = floor(prompts)
        one, mem1 = prepare(data, work / f"{kind}-one.parquet", 1)
        two, mem2 = prepare(data, work / f"{kind}-two.parquet", 2)
        bases.append(base)
        ones.append(one)
        twos.append(two)
        one_mem, two_mem = max(one_mem, mem1), max(two_mem, mem2)
        print(f"[{kind}] round {n + 1}: floor {base:,.0f}/s, one job {one:,.0f}/s = {one / base:.2f}x, "
              f"two jobs {two:,.0f}/s = {two / one:.2f}x one job", flush=True)
    base, one, two = max(bases), max(ones), max(twos)
    print(f"[{kind}] {rows:,} conversations, {tokens:.0f} tokens each on average (official 3.1); "
          f"best of {rounds} rounds below")
    print(f"[{kind}] floor: tiktoken over the rendered prompts {base:,.0f}/s", flush=True)
    hf = transformers_loop(data, work / "tok", 20_000)
    if hf is not None:
        print(f"[{kind}] transformers apply_chat_template + tokenizer loop (no masks, first 20,000): {hf:,.0f}/s",
              flush=True)
    # each round's ratio compares runs made minutes apart; the best of each may come from different rounds
    one_ratio = statistics.median(o / b for o, b in zip(ones, bases))
    two_ratio = statistics.median(t / o for t, o in zip(twos, ones))
    print(f"[{kind}] prepare --jobs 1: {one:,.0f}/s = {one / base:.2f}x the floor, median of the rounds' ratios "
          f"{one_ratio:.2f}x (goal >= 0.6x)" + (f", {one / hf:.2f}x the transformers loop" if hf else ""), flush=True)
    print(f"[{kind}] prepare --jobs 2: {two:,.0f}/s = {two / one:.2f}x one job, median of the rounds' ratios "
          f"{two_ratio:.2f}x (goal >= 1.8x)", flush=True)
    _, small_mem = prepare(quarter, work / f"{kind}-quarter.parquet", 1)
    print(f"[{kind}] peak RSS: {one_mem} MiB (1 job), {two_mem} MiB (largest process, 2 jobs), "
          f"{small_mem} MiB with a quarter of the rows (goal: flat)", flush=True)
    for name in ("one", "two", "quarter"):
        (work / f"{kind}-{name}.parquet").unlink()
    prompts.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="chat rows")
    parser.add_argument("--tool-rows", type=int, default=100_000, help="tool-conversation rows")
    parser.add_argument("--rounds", type=int, default=3, help="times each speed is measured (the best is reported)")
    args = parser.parse_args()
    print(f"llamatpl prepare on {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for kind, rows, make in (("chat", args.rows, make_chats), ("tools", args.tool_rows, make_tool_rows)):
            if rows:
                make(work / f"{kind}.jsonl", rows)
                make(work / f"{kind}-quarter.jsonl", max(1, rows // 4))
                measure(kind, work / f"{kind}.jsonl", work / f"{kind}-quarter.jsonl", work, rows, args.rounds)


if __name__ == "__main__":
    main()
