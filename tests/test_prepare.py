"""``llamatpl prepare`` and ``encode_batch``: rows in input order, atomic output, bad lines handled as
the issue asks, and the same rows through HF datasets (``map``, ``load_dataset("parquet")``) and Ray Data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llamatpl.errors import InputError, UsageError
from llamatpl.rendering.templates import resolve_template
from llamatpl.train.files import prepare_file
from llamatpl.train.masks import MaskJob
from llamatpl.verification.compare import VERIFY_TODAY

ROOT = Path(__file__).resolve().parent.parent
# conversations with one shape of message object, as an Arrow table holds them (no content parts)
SAME_SHAPE = ["plain-chat", "multi-turn", "system-prompt", "tool-round-trip", "unicode", "no-generation-prompt"]
BAD = '{"messages": [{"role": "user", "content": 5}]}'


def _line(stem: str) -> str:
    return json.dumps(json.loads((ROOT / "fixtures" / f"{stem}.json").read_text(encoding="utf-8")), ensure_ascii=False)


def _data(tmp_path: Path, count: int, bad_at: tuple[int, ...] = ()) -> Path:
    path = tmp_path / "data.jsonl"
    lines = [BAD if n in bad_at else _line(SAME_SHAPE[n % len(SAME_SHAPE)]) for n in range(1, count + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llamatpl", *args], capture_output=True, text=True, cwd=ROOT)


def _job() -> MaskJob:
    return MaskJob(resolve_template("official:3.1"), today=VERIFY_TODAY)


def _jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rows_in_input_order_with_line_numbers_and_labels(tmp_path):
    data = _data(tmp_path, 12)
    out = tmp_path / "out.jsonl"
    done = run("prepare", str(data), "-o", str(out), "--today", "2024-07-26")
    assert done.returncode == 0, done.stderr
    rows = _jsonl_rows(out)
    assert [r["line"] for r in rows] == list(range(1, 13))
    job = _job()
    for row, text in zip(rows, data.read_text().splitlines()):
        encoded = job.encode(job.read(json.loads(text), "x"))
        assert row["input_ids"] == encoded.input_ids and row["assistant_mask"] == encoded.assistant_mask
        assert row["labels"] == [t if m else -100 for t, m in zip(row["input_ids"], row["assistant_mask"])]
    assert "wrote 12 rows" in done.stderr


def test_stop_names_the_bad_line_and_writes_nothing(tmp_path):
    data = _data(tmp_path, 20, bad_at=(7,))
    out = tmp_path / "out.parquet"
    out.write_text("an older file stays as it was")
    done = run("prepare", str(data), "-o", str(out), "--jobs", "2")
    assert done.returncode == 2
    assert done.stderr.startswith(f"{data}:7: messages[0].content:") and done.stderr.count("\n") == 1
    assert out.read_text() == "an older file stays as it was"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_skip_keeps_every_good_row_with_any_jobs(tmp_path, jobs):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    bad = (5, 3001, 4999)
    data = _data(tmp_path, 5000, bad_at=bad)
    out, errors = tmp_path / "out.parquet", tmp_path / "errors.jsonl"
    done = run("prepare", str(data), "-o", str(out), "--on-error", "skip", "--errors", str(errors),
               "--jobs", str(jobs), "--today", "2024-07-26")
    assert done.returncode == 1
    assert pq.read_table(out, columns=["line"]).column("line").to_pylist() == [n for n in range(1, 5001) if n not in bad]
    assert [r["line"] for r in _jsonl_rows(errors)] == list(bad)
    assert [line.split(": ")[0] for line in done.stderr.splitlines()[:3]] == [f"{data}:{n}" for n in bad]


def test_interrupt_leaves_no_output_file(tmp_path):
    data = _data(tmp_path, 50)
    out = tmp_path / "out.jsonl"

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_file(str(data), out, _job(), progress=interrupt)
    assert list(tmp_path.iterdir()) == [data]


def test_library_stop_raises_and_usage_errors(tmp_path):
    data = _data(tmp_path, 3, bad_at=(2,))
    with pytest.raises(InputError, match=r"data.jsonl:2: messages\[0\]"):
        prepare_file(str(data), tmp_path / "out.jsonl", _job())
    with pytest.raises(UsageError, match="--errors"):
        prepare_file(str(data), tmp_path / "out.jsonl", _job(), errors=tmp_path / "e.jsonl")
    assert run("prepare", str(data), "-o", str(tmp_path / "out.csv")).returncode == 2


def test_without_pyarrow_parquet_says_how_to_get_it(tmp_path, monkeypatch):
    from llamatpl.train.sinks import RowSink

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(UsageError, match=r"pip install 'llamatpl\[train\]'"):
        RowSink(tmp_path / "out.parquet")


# --------------------------------------------------------------- beyond one machine


def _cli_parquet(tmp_path: Path, data: Path) -> list[dict]:
    """The CLI's rows, read back with HF datasets (offline) by their column names."""
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "rows.parquet"
    assert run("prepare", str(data), "-o", str(out), "--today", "2024-07-26").returncode == 0
    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.column_names == ["input_ids", "assistant_mask", "labels", "line"]
    return [{k: row[k] for k in ("input_ids", "assistant_mask", "labels")} for row in loaded]


KWARGS = {"template": "official:3.1", "today": "2024-07-26"}


def test_datasets_map_gives_the_cli_rows(tmp_path):
    datasets = pytest.importorskip("datasets")
    from llamatpl.train import encode_batch

    data = _data(tmp_path, 60)
    want = _cli_parquet(tmp_path, data)
    # whole conversations as JSON text, and the messages/tools columns of a JSON dataset (Arrow-unified)
    texts = datasets.Dataset.from_dict({"conversation": data.read_text().splitlines()})
    mapped = texts.map(encode_batch, batched=True, batch_size=16, num_proc=2, remove_columns=["conversation"],
                       fn_kwargs={**KWARGS, "column": "conversation"})
    assert [dict(row) for row in mapped] == want
    table = datasets.load_dataset("json", data_files=str(data), split="train", cache_dir=str(tmp_path / "cache"))
    mapped = table.map(encode_batch, batched=True, batch_size=16, remove_columns=table.column_names, fn_kwargs=KWARGS)
    assert [dict(row) for row in mapped] == want


def test_ray_data_map_batches_gives_the_cli_rows(tmp_path):
    ray = pytest.importorskip("ray")
    import ray.data

    from llamatpl.train import encode_batch

    data = _data(tmp_path, 30)
    want = _cli_parquet(tmp_path, data)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # rows in input order
    try:
        texts = ray.data.read_text(str(data))  # as the docs show: each line in the "text" column
        messages = ray.data.from_items([json.loads(t) for t in data.read_text().splitlines()])
        for ds, column in ((texts, "text"), (messages, "messages")):
            rows = ds.map_batches(encode_batch, batch_size=8, fn_kwargs={**KWARGS, "column": column}).take_all()
            assert [{k: [int(x) for x in row[k]] for k in want[0]} for row in rows] == want
    finally:
        ray.shutdown()


def test_no_generation_prompt_ends_each_row_with_the_assistants_own_end_token(tmp_path):
    from llamatpl.verification.reference import encode
    from llamatpl.rendering.conversation import Conversation
    from llamatpl.tokens import get_tokenizer

    data = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(data) + "\n")
    rows = {}
    for flag in ((), ("--no-generation-prompt",)):
        out = tmp_path / f"out{len(flag)}.jsonl"
        assert run("prepare", str(path), "-o", str(out), "--version", "3.0", *flag).returncode == 0
        rows[bool(flag)] = json.loads(out.read_text())
    plain = rows[True]
    expected = encode(Conversation.from_data({**data, "add_generation_prompt": False}), version="3.0")
    assert plain["input_ids"] == expected.ids(get_tokenizer("3.0"))  # Meta's reference, closed turn
    assert plain["input_ids"][-1] == 128009 and plain["assistant_mask"][-1] == 1
    assert rows[False]["input_ids"][-4:] == [128006, 78191, 128007, 271]  # the default keeps the header
    assert rows[False]["assistant_mask"][-4:] == [0, 0, 0, 0]


def test_no_path_given_can_destroy_the_input(tmp_path):
    """A new user's trial wiped data.jsonl with `--errors data.jsonl` and with `-o data.jsonl`."""
    data = _data(tmp_path, 3, bad_at=(2,))
    before = data.read_bytes()
    for args in (["-o", str(data)], ["-o", str(tmp_path / "out.jsonl"), "--on-error", "skip", "--errors", str(data)],
                 ["-o", str(tmp_path / "same.jsonl"), "--on-error", "skip", "--errors", str(tmp_path / "same.jsonl")],
                 ["-o", str(tmp_path)], ["-o", str(tmp_path / "out.jsonl"), "--on-error", "skip", "--errors",
                                         str(tmp_path / "missing" / "e.jsonl")]):
        done = run("prepare", str(data), *args)
        assert done.returncode == 2 and "Error: " in done.stderr and "internal error" not in done.stderr, args
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


def test_each_line_is_read_on_its_own(tmp_path):
    """Lines end at \\n only (as datasets reads JSONL); a line that is not UTF-8, or nested too deeply,
    is that line's error, so skip keeps every other row."""
    good = _line("plain-chat")
    data = tmp_path / "data.jsonl"
    data.write_bytes(b"\n".join([good.replace('"messages":', '"messages":\r').encode(), good.encode(),
                                 b'{"messages": "caf\xe9"}', b"[" * 100_000, good.encode()]) + b"\n")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    done = run("prepare", str(data), "-o", str(out), "--on-error", "skip", "--errors", str(errors))
    assert done.returncode == 1, done.stderr
    assert [r["line"] for r in _jsonl_rows(out)] == [1, 2, 5]
    assert [(r["line"], r["error"].split(": ", 1)[1]) for r in _jsonl_rows(errors)] == [
        (3, "not UTF-8 text (byte 18 of the line)"), (4, "not valid JSON: nested too deeply")]
    assert "internal error" not in done.stderr


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    data = _data(tmp_path, 2)
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, "-m", "llamatpl", "prepare", str(data), "-o", str(out)], cwd=ROOT,
                          capture_output=True, preexec_fn=lambda: os.umask(0o022))  # mkstemp alone gives 0600
    assert done.returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_termination_signal_leaves_no_partial_files(tmp_path):
    import signal
    import time

    data = _data(tmp_path, 20_000)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "llamatpl", "prepare", str(data), "-o", str(out),
                                "--on-error", "skip", "--errors", str(errors)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


def test_encode_batch_names_the_dataset_row_and_takes_the_generation_prompt_option(tmp_path):
    from llamatpl.train import encode_batch

    two_calls = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"type": "function", "function": {"name": "a", "arguments": {}}},
        {"type": "function", "function": {"name": "b", "arguments": {}}}]}]}
    batch = {"messages": [_line("plain-chat"), json.dumps(two_calls)]}
    with pytest.raises(InputError, match=r"^row 41: official:3.1 line \d+: "):
        encode_batch(batch, [40, 41], template="official:3.1", today="2024-07-26")
    with pytest.raises(InputError, match=r"^row 1 of the batch: "):
        encode_batch(batch, template="official:3.1", today="2024-07-26")
    closed = encode_batch({"messages": [_line("no-generation-prompt")]}, template="official:3.1",
                          today="2024-07-26", generation_prompt=False)
    cli = tmp_path / "cli.jsonl"
    (tmp_path / "d.jsonl").write_text(_line("no-generation-prompt") + "\n")
    assert run("prepare", str(tmp_path / "d.jsonl"), "-o", str(cli), "--no-generation-prompt",
               "--today", "2024-07-26").returncode == 0
    assert closed["input_ids"][0] == _jsonl_rows(cli)[0]["input_ids"]


CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def test_a_models_own_tokenizer(tmp_path):
    """A template whose tokenizer adds special tokens (ChatML on a Llama 3 vocabulary): prepare refuses to
    spell them as text with Meta's tokenizer, and with --tokenizer the ids and mask are transformers'."""
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from llamatpl.tokens.export import export_tokenizer

    folder = export_tokenizer("3.1", tmp_path / "model", chat_template=CHATML)
    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.save_pretrained(str(folder))
    conv = {"messages": [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello, you"}],
            "add_generation_prompt": False}
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(conv) + "\n")
    refused = run("prepare", str(data), "-o", str(tmp_path / "x.jsonl"), "--template", str(folder))
    assert refused.returncode == 2 and "<|im_end|>" in refused.stderr and "--tokenizer" in refused.stderr
    out = tmp_path / "out.jsonl"
    done = run("prepare", str(data), "-o", str(out), "--template", str(folder), "--tokenizer", str(folder))
    assert done.returncode == 0, done.stderr
    row = _jsonl_rows(out)[0]
    text = tok.apply_chat_template(conv["messages"], tokenize=False)
    assert row["input_ids"] == tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode([t for t, m in zip(row["input_ids"], row["assistant_mask"]) if m]) == "Hello, you<|im_end|>\n"


@pytest.mark.parametrize("jobs", [1, 3])
def test_stdin_gives_the_files_rows_and_names_its_lines(tmp_path, jobs):
    """``prepare -`` reads stdin (workers are sent the bytes, having no file to read them from)."""
    data = _data(tmp_path, 300, bad_at=(2, 250))
    from_file, from_stdin = tmp_path / "file.jsonl", tmp_path / "stdin.jsonl"
    assert run("prepare", str(data), "-o", str(from_file), "--on-error", "skip", "--today", "2024-07-26").returncode == 1
    done = subprocess.run([sys.executable, "-m", "llamatpl", "prepare", "-", "-o", str(from_stdin), "--on-error", "skip",
                           "--jobs", str(jobs), "--today", "2024-07-26"], input=data.read_bytes(),
                          capture_output=True, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    assert from_stdin.read_text() == from_file.read_text()
    assert [line.split(": ")[0] for line in done.stderr.decode().splitlines()[:2]] == ["<stdin>:2", "<stdin>:250"]


def _rows(count: int, start: int = 0):
    from array import array

    from llamatpl.train.sinks import Rows

    rows = Rows()
    for n in range(start, start + count):
        ids = array("i", range(n % 7 + 1)).tobytes()
        rows.add(n + 1, ids, bytearray([n % 2]) * (n % 7 + 1))
    return rows


@pytest.mark.parametrize("fail_at", [None, 2])
def test_row_groups_written_in_the_background_are_the_ones_written_in_line(tmp_path, monkeypatch, fail_at):
    pq = pytest.importorskip("pyarrow.parquet")
    from llamatpl.train import sinks

    monkeypatch.setattr(sinks, "ROW_GROUP", 10)
    written = {}
    for background in (False, True):
        path = tmp_path / f"{background}.parquet"
        sink = sinks.RowSink(path, background=background)
        calls = []
        original = sink._write_group

        def write(rows, original=original, calls=calls):
            calls.append(len(rows))
            if len(calls) == fail_at:
                raise OSError("No space left on device")
            original(rows)

        monkeypatch.setattr(sink, "_write_group", write)
        if fail_at is None:
            with sink:
                for start in range(0, 95, 19):
                    sink.write(_rows(19, start))
            written[background] = pq.read_table(path)
            assert pq.ParquetFile(path).num_row_groups == len(calls) > 3
        else:
            with pytest.raises(OSError, match="No space"):
                with sink:
                    for start in range(0, 95, 19):
                        sink.write(_rows(19, start))
            assert not path.exists() and not list(tmp_path.glob(".*.part"))
    if fail_at is None:
        assert written[True].equals(written[False])
        assert written[True].column("line").to_pylist() == list(range(1, 96))


def test_an_interrupt_while_a_row_group_is_written_in_the_background_leaves_no_file(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow.parquet")
    import threading

    from llamatpl.train import sinks

    monkeypatch.setattr(sinks, "ROW_GROUP", 10)
    path = tmp_path / "out.parquet"
    sink = sinks.RowSink(path, background=True)
    started, release = threading.Event(), threading.Event()
    original = sink._write_group

    def slow(rows):
        started.set()
        release.wait(5)
        original(rows)

    monkeypatch.setattr(sink, "_write_group", slow)
    with pytest.raises(KeyboardInterrupt):
        with sink:
            sink.write(_rows(19))
            assert started.wait(5)
            threading.Timer(0.2, release.set).start()  # the group finishes after the interrupt
            raise KeyboardInterrupt
    assert not path.exists() and not list(tmp_path.glob(".*.part"))
