#!/usr/bin/env bash
# Build the vLLM 0.33.0 oracle virtualenv used by tests/test_engine_vllm_oracle.py.
# Usage: .ci/vllm-venv.sh VENV_DIR
# Idempotent: does nothing when VENV_DIR/READY exists, and keeps an earlier install that imports.
# vLLM pins transformers <5.21, so it lives in a venv of its own. CPU only: torch from the CPU wheel,
# vLLM without its dependencies, then the packages its chat-rendering path imports. READY is written
# only once vLLM's own OnlineRenderer has rendered a request (tests/oracles/vllm_render.py --self-check).
set -euo pipefail
venv="${1:?usage: vllm-venv.sh VENV_DIR}"
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -f "$venv/READY" ]; then
    exit 0
fi
if ! "$venv/bin/python" -c "import vllm, transformers, fastapi, openai_harmony, xgrammar" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    pip="$venv/bin/python -m pip"
    $pip install -q --upgrade pip
    $pip install -q torch==2.13.0
    $pip install -q --no-deps vllm==0.33.0
    $pip install -q 'transformers>=5.16.1,<5.21' tokenizers huggingface_hub pydantic openai \
        oss-harmony msgspec cachetools regex numpy pyyaml psutil sentencepiece tiktoken protobuf \
        blake3 cloudpickle pybase64 orjson partial-json-parser jsonschema pillow requests tqdm \
        py-cpuinfo cbor2 pyzmq aiohttp prometheus_client 'fastapi[standard]' xgrammar llguidance \
        einops
fi
# llama-models only for the tokenizer.model file it ships (the oracle's model folder); its deps are not needed
"$venv/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llama_models') is None)" \
    || "$venv/bin/python" -m pip install -q --no-deps llama-models==0.3.0
VLLM_TARGET_DEVICE=cpu HF_HUB_OFFLINE=1 "$venv/bin/python" "$here/tests/oracles/vllm_render.py" --self-check
touch "$venv/READY"
