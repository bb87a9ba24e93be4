"""Write Meta's Llama 3 tokenizer in transformers' format, offline, from the file llama-models ships.

The result behaves like the tokenizer in Meta's model repositories: the same ids, the version's
special tokens, and a post-processor that adds BOS when ``add_special_tokens=True`` (which is why a
pipeline that tokenizes a rendered prompt that way gets BOS twice).
"""

from __future__ import annotations

from pathlib import Path

from ..resources import read_bundled_template
from ..versions import normalize_version
from .tokenizer import BOS_ID, PATTERN, quiet_transformers, special_tokens, tokenizer_model_path


def export_tokenizer(version: str, folder: str | Path, *, chat_template: str | None = None) -> Path:
    """Save a transformers tokenizer for Llama ``version`` into ``folder`` and return the folder.

    ``chat_template`` defaults to the official template of that version.
    """
    quiet_transformers()
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    table = special_tokens(version)
    names = sorted(table, key=table.__getitem__)
    backend = TikTokenConverter(vocab_file=str(tokenizer_model_path()), pattern=PATTERN,
                                extra_special_tokens=names).converted()
    backend.post_processor = TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", BOS_ID)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|begin_of_text|>",
                                        eos_token="<|eot_id|>")
    tokenizer.chat_template = chat_template if chat_template is not None else read_bundled_template("official", normalize_version(version))
    out = Path(folder)
    tokenizer.save_pretrained(str(out))
    return out
