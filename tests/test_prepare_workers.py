"""How ``prepare`` reads and shares its work: blocks of whole lines (against a naive reading of the
file), and the worker processes of ``llamatpl.train.workers.ordered`` (order, errors, a dying
worker, no process left behind)."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamatpl.errors import InputError
from llamatpl.rendering.conversation import line_blocks, number_lines, numbered_lines, read_block
from llamatpl.train.workers import WorkerDied, ordered

_LINE = st.lists(st.sampled_from([b"{}", b"x", b" ", b"\r", b"\t", b"\xc3\xa9", b"\xff", b'"a"', b"\r\n"]),
                 max_size=12).map(b"".join)


def _naive(data: bytes) -> list[tuple[int, bytes]]:
    """The non-blank lines and their numbers, the plain way: split at each newline."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    return [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]


@given(st.lists(_LINE, max_size=30), st.booleans(), st.booleans(), st.integers(1, 64))
def test_blocks_hold_the_files_lines_in_place(tmp_path_factory, lines, bom, final_newline, size):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path = tmp_path_factory.mktemp("blocks") / "data.jsonl"
    path.write_bytes(data)
    blocks = list(line_blocks(str(path), size))
    assert b"".join(block for _, _, block in blocks) == data
    assert all(read_block(str(path), offset, len(block)) == block for _, offset, block in blocks)
    assert all(block.endswith(b"\n") for _, _, block in blocks[:-1])  # whole lines only
    assert [pair for first, _, block in blocks for pair in number_lines(first, block)] == _naive(data)
    assert [(int(where.rpartition(":")[2]), line) for where, line in numbered_lines(str(path))] == _naive(data)


def test_blocks_refuse_gzip_and_name_a_missing_file(tmp_path):
    packed = tmp_path / "data.jsonl"
    packed.write_bytes(gzip.compress(b'{"messages": []}\n'))
    with pytest.raises(InputError, match="gzip-compressed"):
        list(line_blocks(str(packed)))
    with pytest.raises(InputError, match="no such file"):
        list(line_blocks(str(tmp_path / "absent.jsonl")))


def _double(task: int) -> int:
    time.sleep(random.Random(task).random() / 500)  # finishing out of order
    return task * 2


def _either(task: int | tuple[str, int]) -> int:
    return task[1] * 3 if isinstance(task, tuple) else task * 3


def _fails_in_a_worker(task: int) -> int:
    # from task 137 on, in a worker: the calling process encodes some tasks itself (which ones is
    # timing), so one task alone may never reach a worker
    if task >= 137 and multiprocessing.parent_process() is not None:
        raise ValueError(f"task {task} failed in a worker")
    return task


_DONE_HERE = [0]


def _dies_in_a_worker(task: int) -> int:
    """Dies on the first (task 0) or the fifth task a worker is given: which task the caller keeps is its own choice."""
    if multiprocessing.parent_process() is not None:
        _DONE_HERE[0] += 1
        if task == 0 or _DONE_HERE[0] == 5:
            os._exit(3)
    return task


@pytest.mark.parametrize(("processes", "ahead"), [(1, 1), (1, 4), (3, 2)])
def test_results_come_in_order_and_all_of_them(processes, ahead):
    assert list(ordered(iter(range(500)), _double, processes=processes, ahead=ahead)) == [t * 2 for t in range(500)]


def test_workers_are_sent_what_remote_makes_of_a_task():
    got = list(ordered(iter(range(200)), _either, processes=2, ahead=2, remote=lambda t: ("sent", t)))
    assert got == [t * 3 for t in range(200)]


def test_an_exception_in_a_worker_is_raised_here():
    with pytest.raises(ValueError, match=r"task \d+ failed in a worker"):
        for _ in ordered(iter(range(300)), _fails_in_a_worker, processes=2, ahead=2):
            pass


@pytest.mark.parametrize(("first", "ahead"), [(0, 1), (0, 3), (1, 2)])
def test_a_dying_worker_ends_the_run_with_its_exit_code(first, ahead):
    """Whether the death shows when reading its results or when sending it the next task."""
    started = time.monotonic()
    with pytest.raises(WorkerDied, match="exit code 3"):
        for _ in ordered(iter(range(first, 300)), _dies_in_a_worker, processes=1, ahead=ahead):
            pass
    assert time.monotonic() - started < 10


def test_closing_early_leaves_no_worker_behind():
    results = ordered(iter(range(10_000)), _double, processes=2, ahead=3)
    assert [next(results) for _ in range(10)] == [t * 2 for t in range(10)]
    results.close()
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


def _children(pid: int) -> list[str]:
    """The processes whose parent is ``pid`` (from /proc: no procps needed)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except (OSError, ValueError):
            continue
        if entry.isdigit() and fields[1] == str(pid):
            found.append(entry)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes from /proc")
def test_a_worker_killed_mid_run_is_one_line_and_leaves_no_file(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    line = json.dumps(json.loads((root / "fixtures" / "multi-turn.json").read_text(encoding="utf-8")))
    data, out = tmp_path / "data.jsonl", tmp_path / "out.parquet"
    data.write_text((line + "\n") * 40_000, encoding="utf-8")
    run = subprocess.Popen([sys.executable, "-m", "llamatpl", "prepare", str(data), "-o", str(out), "--jobs", "2",
                            "--no-progress"], cwd=root, stderr=subprocess.PIPE, text=True)
    deadline, children = time.monotonic() + 20, []
    while not children and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
        children = _children(run.pid)
    assert children, "no worker process seen"
    time.sleep(0.3)
    os.kill(int(children[0]), signal.SIGKILL)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 2
    assert stderr == "a worker process ended (killed by signal 9) before finishing its rows: out of memory?\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]
