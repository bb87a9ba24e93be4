"""vLLM's own prompt for (template, request) pairs: an oracle for tests/test_engine_vllm_oracle.py.

Runs inside the vLLM 0.33.0 virtualenv (``.ci/vllm-venv.sh``), never inside llamatpl's. It builds the
server the way vLLM's render-only launcher does (``entrypoints/launchers/render/app_state.py``):
``make_arg_parser`` -> ``AsyncEngineArgs.from_cli_args(...).create_model_config()`` -> ``VllmConfig``
-> ``renderer_from_config`` -> ``OnlineRenderer``, over a local model folder holding a tiny
``LlamaForCausalLM`` config and the Llama 3 tokenizer converted offline from llama-models'
``tokenizer.model``. No weights are loaded and nothing is fetched.

Batch mode (default): a JSON object ``{"cases": [{"template": TEXT, "request": BODY,
"server_args": [FLAGS...]}, ...]}`` on stdin; on stdout ``{"results": [...]}``, each
``{"prompt": TEXT}`` or ``{"rejected": REASON}`` in order. ``--self-check`` renders one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
NAMED = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 4: "<|finetune_right_pad_id|>", 6: "<|start_header_id|>",
         7: "<|end_header_id|>", 8: "<|eom_id|>", 9: "<|eot_id|>", 10: "<|python_tag|>"}
# the tool-calling server FACTS.md names as the default: vllm serve M --enable-auto-tool-choice ...
DEFAULT_SERVER_ARGS = ["--enable-auto-tool-choice", "--tool-call-parser", "llama3_json"]
SELF_CHECK_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
                       "{{ m.content }}<|eot_id|>{% endfor %}"
                       "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")


def tokenizer_model() -> Path:
    spec = importlib.util.find_spec("llama_models")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("vllm_render: llama-models is not installed in this venv (pip install --no-deps llama-models)")
    return Path(next(iter(spec.submodule_search_locations))) / "llama3" / "tokenizer.model"


def make_model_folder(folder: Path) -> None:
    """A weightless Llama 3 model folder: tiny config.json plus the real tokenizer."""
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    names = []
    reserved = 0
    for offset in range(256):
        name = NAMED.get(offset)
        if name is None:
            name = f"<|reserved_special_token_{reserved}|>"
            reserved += 1
        names.append(name)
    backend = TikTokenConverter(vocab_file=str(tokenizer_model()), pattern=PATTERN,
                                extra_special_tokens=names).converted()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|begin_of_text|>",
                                        eos_token="<|eot_id|>")
    tokenizer.save_pretrained(str(folder))
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
              "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
              "num_hidden_layers": 1, "vocab_size": 128256, "max_position_embeddings": 8192,
              "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "bos_token_id": 128000, "eos_token_id": 128009,
              "torch_dtype": "float32"}
    (folder / "config.json").write_text(json.dumps(config))


class Server:
    """vLLM's config, tokenizer and renderer for the model folder, built once; an OnlineRenderer per
    (server flags, chat template)."""

    def __init__(self, folder: Path) -> None:
        from vllm.config import VllmConfig
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.entrypoints.common.cli_args import make_arg_parser
        from vllm.renderers import renderer_from_config
        from vllm.utils.argparse_utils import FlexibleArgumentParser

        self.folder = folder
        self.parser = make_arg_parser(FlexibleArgumentParser())
        args = self.parser.parse_args(["--model", str(folder)])
        model_config = AsyncEngineArgs.from_cli_args(args).create_model_config()
        self.vllm_config = VllmConfig(model_config=model_config)
        self.renderer = renderer_from_config(self.vllm_config)
        self.online: dict[tuple[tuple[str, ...], str], Any] = {}

    def online_renderer(self, server_args: list[str], template: str) -> Any:
        from vllm.entrypoints.common.cli_args import resolve_default_chat_template_kwargs
        from vllm.renderers.online_renderer import OnlineRenderer

        key = (tuple(server_args), template)
        if key not in self.online:
            args = self.parser.parse_args(["--model", str(self.folder), *server_args])
            self.online[key] = OnlineRenderer(
                model_config=self.vllm_config.model_config, renderer=self.renderer, request_logger=None,
                chat_template=template, chat_template_content_format=args.chat_template_content_format,
                trust_request_chat_template=args.trust_request_chat_template,
                trust_request_mm_kwargs=args.trust_request_mm_kwargs,
                enable_auto_tools=args.enable_auto_tool_choice,
                exclude_tools_when_tool_choice_none=args.exclude_tools_when_tool_choice_none,
                tool_parser=args.tool_call_parser, tool_strict_level=args.tool_strict_level,
                reasoning_parser=args.reasoning_parser,
                default_chat_template_kwargs=resolve_default_chat_template_kwargs(args),
                reasoning_effort_map=args.reasoning_effort_map, log_error_stack=False)
        return self.online[key]

    async def render(self, template: str, body: Any, server_args: list[str]) -> dict[str, str]:
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
        from vllm.entrypoints.serve.engine.protocol import ErrorResponse

        try:
            request = ChatCompletionRequest.model_validate(body)
            online = self.online_renderer(server_args, template)
            result = await online.render_chat(request)
        except Exception as exc:  # noqa: BLE001 - every refusal is an answer here
            return {"rejected": f"{type(exc).__name__}: {exc}"}
        if isinstance(result, ErrorResponse):
            return {"rejected": f"ErrorResponse: {result.error.message}"}
        _conversation, engine_inputs = result
        (engine_input,) = engine_inputs
        ids = engine_input.get("prompt_token_ids")
        text = engine_input.get("prompt")
        if text is None:
            text = self.renderer.get_tokenizer().decode(ids, skip_special_tokens=False)
        return {"prompt": text}


def main() -> None:
    logging.disable(logging.WARNING)
    self_check = "--self-check" in sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="vllm-oracle-") as tmp:
        folder = Path(tmp)
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet):  # keep stdout for the JSON answer
            make_model_folder(folder)
            server = Server(folder)
        if self_check:
            body = {"messages": [{"role": "user", "content": "Hello!"}]}
            with contextlib.redirect_stdout(quiet):
                out = asyncio.run(server.render(SELF_CHECK_TEMPLATE, body, DEFAULT_SERVER_ARGS))
            want = ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")
            if out.get("prompt") != want:
                sys.exit(f"vllm_render self-check failed: {out}")
            print("vllm_render: self-check passed (vLLM's OnlineRenderer renders)")
            return
        cases = json.load(sys.stdin)["cases"]

        async def run_all() -> list[dict[str, str]]:
            return [await server.render(c["template"], c["request"], c.get("server_args", DEFAULT_SERVER_ARGS))
                    for c in cases]

        with contextlib.redirect_stdout(quiet):
            results = asyncio.run(run_all())
        json.dump({"results": results}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
