"""Shared test set-up: a deterministic hypothesis profile for CI, and transformers as the oracle."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Nothing at test time may reach the network: an accidental hub lookup must fail, not fetch.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# The CLI keeps the fast backend's verdicts under the user's cache directory: tests (and the CLI
# processes they start) use a fresh one of their own.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="llamatpl-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "fixtures").glob("*.json"))
OFFICIAL = ["3.0", "3.1", "3.2", "3.2-vision"]

settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=60, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def official_text(version: str) -> str:
    return (ROOT / "templates" / "official" / f"{version}.jinja").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def hf_tokenizer() -> Any:
    """A transformers fast tokenizer built offline (no hub): its ``apply_chat_template`` is the oracle."""
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")),
        bos_token="<|begin_of_text|>", eos_token="<|eot_id|>",
    )


def hf_render(tokenizer: Any, template: str, data: dict[str, Any]) -> str:
    """Render with transformers' own ``apply_chat_template`` (tokenize=False)."""
    data = json.loads(json.dumps(data))  # transformers must not share objects with llamatpl
    messages = data.pop("messages")
    tools = data.pop("tools", None)
    documents = data.pop("documents", None)
    cfm = data.pop("continue_final_message", False)
    agp = data.pop("add_generation_prompt", not cfm)
    return tokenizer.apply_chat_template(
        messages, tools=tools, documents=documents, chat_template=template, tokenize=False,
        add_generation_prompt=agp, continue_final_message=cfm, **data,
    )


@pytest.fixture(scope="session")
def hf_llama_folder(tmp_path_factory) -> Path:
    """Meta's 3.1 tokenizer exported in transformers' format (offline), with the official template."""
    pytest.importorskip("transformers")
    from llamatpl.tokens.export import export_tokenizer

    return export_tokenizer("3.1", tmp_path_factory.mktemp("llama31"))
