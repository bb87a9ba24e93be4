"""Stage 3, tokens: the Llama 3 tokenizer (tiktoken over llama-models' BPE), per-version special tokens,
users' own tokenizers through transformers, and Meta's tokenizer exported in transformers' format.

A rendered prompt is tokenized as a server does: special-token text parsed, no BOS added.
"""

from .tokenizer import (
    BOS_ID,
    SPECIAL_TOKEN_TEXT,
    LlamaTokenizer,
    UserTokenizer,
    get_tokenizer,
    has_double_bos,
    special_tokens,
    tokenizer_model_path,
)

__all__ = ["BOS_ID", "SPECIAL_TOKEN_TEXT", "LlamaTokenizer", "UserTokenizer", "get_tokenizer", "has_double_bos",
           "special_tokens", "tokenizer_model_path"]
