"""``encode_batch``: training rows for a batch of conversations, beyond one machine.

The same function serves ``datasets.Dataset.map(encode_batch, batched=True, num_proc=N, fn_kwargs=...)``
(a batch is a dict of column lists) and Ray Data's ``map_batches(encode_batch, fn_kwargs=...)`` (a
dict of numpy arrays): it returns ``input_ids``, ``assistant_mask`` and ``labels`` columns, one row
per conversation, equal to the rows ``llamatpl prepare`` writes for the same conversations.

A conversation is read from the ``column`` column: a JSON string (a whole conversation, as a line of
a JSONL file) or a list of messages, in which case the batch's other conversation columns
(``tools``, ``documents``, ``add_generation_prompt``, ...) go with it. Arrow-backed tables give every
message object the union of the keys seen in the column, the absent ones as null; null keys are
dropped before rendering, as transformers 5.23 does. Tool-call arguments given as objects get the
same union, which changes their JSON: keep them as JSON strings (or the whole conversation as one).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..errors import InputError, LlamatplError
from ..rendering.renderer import TRANSFORMERS
from ..rendering.templates import resolve_template
from .masks import MaskJob

CONVERSATION_KEYS = ("tools", "documents", "add_generation_prompt", "continue_final_message", "date_string",
                     "builtin_tools", "tools_in_user_message", "custom_tools")


def plain(value: Any) -> Any:
    """numpy arrays and scalars (Ray Data, pandas) as plain lists, dicts and Python scalars; null
    values inside objects dropped."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return [plain(v) for v in value]
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    return value


@functools.lru_cache(maxsize=8)
def _job(template: str | None, version: str | None, engine: str, engine_args: str, today: date | None,
         transformers: str | None, generation_prompt: bool | None, tokenizer: str | None) -> MaskJob:
    from ..engines import get_engine
    from ..tokens.tokenizer import UserTokenizer

    chosen = None if engine == "transformers" and not engine_args else get_engine(
        engine, engine_args=engine_args, transformers=transformers)
    job = MaskJob(resolve_template(template, version=version), engine=chosen, today=today,
                  transformers=transformers or TRANSFORMERS, generation_prompt=generation_prompt,
                  user_tokenizer=UserTokenizer(tokenizer) if tokenizer else None)
    job.check_tokenizer()
    return job


def conversation_data(batch: Mapping[str, Any], index: int, column: str, name: str = "") -> Any:
    """Row ``index`` of ``batch`` as conversation data (a JSON string column is parsed)."""
    value = batch[column][index]
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{name or f'row {index}'}: {column}: not JSON ({exc})") from None
    data: dict[str, Any] = {"messages": plain(value)}
    for key in CONVERSATION_KEYS:
        if key in batch and batch[key][index] is not None:
            data[key] = plain(batch[key][index])
    return data


def encode_batch(batch: Mapping[str, Any], indices: Sequence[int] | None = None, *, template: str | None = None,
                 version: str | None = None, column: str = "messages", engine: str = "transformers",
                 engine_args: str = "", today: date | str | None = None, transformers: str | None = None,
                 generation_prompt: bool | None = None, tokenizer: str | None = None) -> dict[str, list[Any]]:
    """``input_ids``, ``assistant_mask`` and ``labels`` for each conversation of ``batch``.

    ``template``/``version`` choose the template as everywhere (``official:3.1`` by default);
    ``today`` pins the date line (pass one for reproducible rows across processes and days);
    ``generation_prompt=False`` is ``prepare --no-generation-prompt``; ``tokenizer`` is ``--tokenizer``
    (a model's own tokenizer.json or folder). A bad row raises
    :class:`~llamatpl.errors.InputError` naming it: by its index in the dataset when ``indices`` is
    given (``Dataset.map(..., with_indices=True)``), else by its index in the batch.
    """
    pinned = date.fromisoformat(today) if isinstance(today, str) else today
    job = _job(template, version, engine, engine_args, pinned, transformers, generation_prompt, tokenizer)
    out: dict[str, list[Any]] = {"input_ids": [], "assistant_mask": [], "labels": []}
    if column not in batch:
        raise InputError(f"encode_batch: the batch has no {column!r} column (columns: {', '.join(batch)})")
    for index in range(len(batch[column])):
        name = f"row {indices[index]}" if indices is not None else f"row {index} of the batch"
        try:
            encoded = job.encode(job.read(conversation_data(batch, index, column, name), name))
        except LlamatplError as exc:
            if exc.message.startswith(f"{name}:"):
                raise
            raise InputError(f"{name}: {exc.message}") from None
        out["input_ids"].append(encoded.input_ids)
        out["assistant_mask"].append(encoded.assistant_mask)
        out["labels"].append(encoded.labels)
    return out
