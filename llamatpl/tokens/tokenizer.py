"""The Llama 3 tokenizer, loaded offline from the ``tokenizer.model`` that ``llama-models`` ships.

It is Meta's tiktoken BPE (128,000 ranks) with Meta's split pattern and 256 special tokens, whose
*names* depend on the version: in Llama 3.0 the ids 128004, 128005, 128008, 128010 and 128011 are
still ``<|reserved_special_token_N|>``, so ``<|eom_id|>`` or ``<|python_tag|>`` in a 3.0 prompt is
plain text. The 3.2-vision tokenizer adds ``<|image|>`` as id 128256 (the id transformers' tokenizer
and Meta's ``ChatFormat`` output both use).

Two encodings matter:

* :meth:`LlamaTokenizer.encode_prompt`: what a server does with a rendered prompt: special-token
  text becomes control tokens, no BOS is added. tiktoken's ``encode(allowed_special="all")`` cuts
  the text at each special token and runs the BPE on the pieces between them on their own; we make
  the same cuts and run the BPE on each piece with no special token allowed, which skips the
  per-call conversion of the 256-token allowed set (about a quarter of the time on a chat prompt)
  and gives the cuts to callers that need them (:meth:`LlamaTokenizer.cut`). The ids come back
  packed, as tiktoken's own ``encode_to_numpy`` takes them: native 32-bit integers in bytes, not a
  Python list (building and then packing a list of ints was a third of a training row's tokenizing);
* :meth:`LlamaTokenizer.encode_text`: what Meta's reference does with a piece of content: special
  token text stays text, and very long runs are split exactly as Meta's ``Tokenizer.encode`` splits them.

The BPE file is read once per process, and only when tokens are first needed.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import LlamatplError
from ..versions import normalize_version

PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
BASE_VOCAB = 128_000
BOS_ID = 128_000
SPECIAL_TOKEN_TEXT = re.compile(r"<\|[A-Za-z0-9_]+\|>")

_SHAPE = re.compile(r"(<\|[^|]{1,64}\|>)")  # what a special token looks like (see LlamaTokenizer.cut)

_NAMED_30 = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 6: "<|start_header_id|>",
             7: "<|end_header_id|>", 9: "<|eot_id|>"}
_NAMED_31 = {**_NAMED_30, 4: "<|finetune_right_pad_id|>", 8: "<|eom_id|>", 10: "<|python_tag|>"}

# Meta's Tokenizer.encode splits its input this way before tiktoken sees it.
_MAX_ENCODE_CHARS = 400_000
_MAX_RUN_CHARS = 25_000
# ordinary pieces of a prompt up to this many characters have their ids remembered, this many at most
REMEMBERED_CHARS = 2048
REMEMBERED_PIECES = 4096
ID_BYTES = 4  # packed ids: native int32 (tiktoken's buffers are uint32; every id is below 2**31)
NO_SPECIAL: frozenset[str] = frozenset()
assert array("i").itemsize == ID_BYTES


def pack_ids(ids: list[int]) -> bytes:
    """Token ids as packed ids (native int32 bytes: :meth:`LlamaTokenizer.encode_packed`)."""
    return array("i", ids).tobytes()


def unpack_ids(packed: bytes) -> list[int]:
    """Packed ids as a list of token ids."""
    return array("i", packed).tolist()


def special_tokens(version: str) -> dict[str, int]:
    """The special-token table (text -> id) of a Llama version's tokenizer."""
    v = normalize_version(version)
    named = _NAMED_30 if v == "3.0" else _NAMED_31
    table: dict[str, int] = {}
    reserved = 0
    for offset in range(256):
        name = named.get(offset)
        if name is None:
            name = f"<|reserved_special_token_{reserved}|>"
            reserved += 1
        table[name] = BASE_VOCAB + offset
    if v == "3.2-vision":
        table["<|image|>"] = BASE_VOCAB + 256
    return table


def tokenizer_model_path() -> Path:
    """Where ``llama-models`` keeps Meta's ``tokenizer.model`` (found without importing the package)."""
    spec = importlib.util.find_spec("llama_models")
    if spec is None or not spec.submodule_search_locations:
        raise LlamatplError("the Llama 3 tokenizer needs the llama-models package: pip install llama-models")
    path = Path(next(iter(spec.submodule_search_locations))) / "llama3" / "tokenizer.model"
    if not path.is_file():
        raise LlamatplError(f"llama-models is installed but {path} is missing")
    return path


@lru_cache(maxsize=1)
def _mergeable_ranks() -> dict[bytes, int]:
    from tiktoken.load import load_tiktoken_bpe

    return load_tiktoken_bpe(str(tokenizer_model_path()))


class LlamaTokenizer:
    """Meta's Llama 3 BPE with one version's special tokens."""

    def __init__(self, version: str) -> None:
        import tiktoken

        self.version = normalize_version(version)
        self.special_tokens = special_tokens(self.version)
        self.id_to_special = {i: t for t, i in self.special_tokens.items()}
        self._encoding = tiktoken.Encoding(
            name=f"llama{self.version}",
            pat_str=PATTERN,
            mergeable_ranks=_mergeable_ranks(),
            special_tokens=self.special_tokens,
        )
        self._byte_lengths: list[int] | None = None
        self._runs: dict[str, bytes] = {}  # short ordinary pieces already encoded (see encode_packed)
        self._special_ids = {token: pack_ids([token_id]) for token, token_id in self.special_tokens.items()}
        core = self._encoding._core_bpe
        # ids straight into a buffer (tiktoken 0.6 and later, as its encode_to_numpy does), or through a list
        self._ordinary_packed = getattr(core, "encode_to_tiktoken_buffer", self._packed)

    def cut(self, text: str) -> list[str]:
        """``text`` cut as tiktoken cuts it: ordinary text (maybe empty) at even places, a special
        token at each odd place between them.

        Every special token is ``<|name|>`` with no ``|`` in the name, so a special token in the
        text is a match of :data:`_SHAPE`, and matches never overlap one: when every match is a
        special token (the usual prompt), one split in C is the cut. Otherwise the text is walked:
        only the token that can start at a ``<|`` ends at the next ``|>``, and a dictionary lookup
        there finds it (faster than a 256-way regular expression over the whole prompt)."""
        pieces = _SHAPE.split(text)
        if all(map(self.special_tokens.__contains__, itertools.islice(pieces, 1, None, 2))):
            return pieces
        return self._walk(text)

    def _walk(self, text: str) -> list[str]:
        specials = self.special_tokens
        pieces: list[str] = []
        start = 0
        at = text.find("<|")
        while at != -1:
            end = text.find("|>", at + 2)
            if end == -1:
                break
            candidate = text[at:end + 2]
            if candidate in specials:
                pieces += (text[start:at], candidate)
                start = end + 2
                at = text.find("<|", start)
            else:
                at = text.find("<|", at + 1)
        pieces.append(text[start:])
        return pieces

    def encode_prompt(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        """Tokenize a rendered prompt as a server does: special tokens parsed, no BOS added.

        ``add_special_tokens=True`` shows what a pipeline that adds them again gets (a second BOS).
        """
        ids = unpack_ids(b"".join(self.encode_packed(text)[1]))
        return [BOS_ID, *ids] if add_special_tokens else ids

    def encode_packed(self, text: str) -> tuple[list[str], list[bytes]]:
        """(:meth:`cut`'s pieces, the ids of each piece packed as native int32 bytes: an ordinary
        piece's run, or one special token). ``b"".join`` of the second is the prompt's ids.

        Short pieces recur from prompt to prompt (role names, the date lines and system prompts a
        data set repeats), so their ids are remembered, up to :data:`REMEMBERED_PIECES` of them."""
        pieces = self.cut(text)
        ordinary = self._ordinary_packed
        remembered = self._runs
        parts: list[bytes] = pieces[:]  # type: ignore[assignment]  # each place filled below
        parts[1::2] = map(self._special_ids.__getitem__, pieces[1::2])
        for at in range(0, len(pieces), 2):
            piece = pieces[at]
            short = len(piece) <= REMEMBERED_CHARS
            run = remembered.get(piece) if short else None
            if run is None:
                try:
                    run = bytes(ordinary(piece, NO_SPECIAL))
                except UnicodeEncodeError:  # a lone surrogate: tiktoken's Python layer repairs it first
                    run = self._packed(piece)
                if short:
                    if len(remembered) >= REMEMBERED_PIECES:
                        remembered.clear()
                    remembered[piece] = run
            parts[at] = run
        return pieces, parts

    def _packed(self, piece: str, allowed: frozenset[str] = NO_SPECIAL) -> bytes:
        """One ordinary piece's ids through tiktoken's ``encode_ordinary`` (which mends lone
        surrogates as tiktoken's ``encode`` does), packed. ``allowed`` is never read: it is there so
        that this stands in for ``encode_to_tiktoken_buffer(piece, allowed)``."""
        return pack_ids(self._encoding.encode_ordinary(piece))

    def encode_text(self, text: str) -> list[int]:
        """Tokenize content as Meta's reference does: special-token text is plain text."""
        out: list[int] = []
        for start in range(0, len(text), _MAX_ENCODE_CHARS):
            for piece in _split_long_runs(text[start:start + _MAX_ENCODE_CHARS]):
                out.extend(self._encoding.encode_ordinary(piece))
        return out

    def decode(self, ids: list[int]) -> str:
        return self._encoding.decode(ids)

    def token_text(self, token_id: int) -> str:
        """The text of one token (special tokens by name; partial UTF-8 shown with replacement)."""
        special = self.id_to_special.get(token_id)
        if special is not None:
            return special
        return self._encoding.decode_single_token_bytes(token_id).decode("utf-8", errors="replace")

    def is_special(self, token_id: int) -> bool:
        return token_id in self.id_to_special

    def byte_lengths(self) -> list[int]:
        """Each token id's length in UTF-8 bytes (special tokens: their text), indexed by id."""
        if self._byte_lengths is None:
            table = [0] * (max(self.id_to_special) + 1)
            for token, rank in _mergeable_ranks().items():
                table[rank] = len(token)
            for token_id, text in self.id_to_special.items():
                table[token_id] = len(text.encode("utf-8"))
            self._byte_lengths = table
        return self._byte_lengths

    def token_bytes(self, token_id: int) -> bytes:
        """The exact bytes of one token (a special token's text in UTF-8)."""
        special = self.id_to_special.get(token_id)
        return special.encode() if special is not None else self._encoding.decode_single_token_bytes(token_id)


def _split_long_runs(s: str) -> list[str]:
    """Split ``s`` where a run of whitespace or of non-whitespace passes Meta's 25,000-char limit."""
    if len(s) <= _MAX_RUN_CHARS:
        return [s]
    pieces, start, run, in_space = [], 0, 0, s[0].isspace()
    for i, ch in enumerate(s):
        now_space = ch.isspace()
        if now_space != in_space:
            run, in_space = 1, now_space
        else:
            run += 1
            if run > _MAX_RUN_CHARS:
                pieces.append(s[start:i])
                start, run = i, 1
    pieces.append(s[start:])
    return pieces


@lru_cache(maxsize=None)
def get_tokenizer(version: str) -> LlamaTokenizer:
    """The tokenizer of ``version``, built once per process."""
    return LlamaTokenizer(normalize_version(version))


def quiet_transformers() -> None:
    """Keep transformers' import-time advisories (no PyTorch...) off a CLI's stderr."""
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def has_double_bos(ids: list[int]) -> bool:
    """True when a prompt's ids start with BOS twice: the template wrote one, the tokenizer added one."""
    return ids[:2] == [BOS_ID, BOS_ID]


class UserTokenizer:
    """A user's own tokenizer (a ``tokenizer.json`` or a local model folder), through transformers.

    It has the interface of :class:`LlamaTokenizer` that comparing prompts needs.
    """

    def __init__(self, path: str) -> None:
        quiet_transformers()
        import os

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # worker processes fork after it is loaded
        try:
            from transformers import AutoTokenizer, PreTrainedTokenizerFast
        except ImportError:
            raise LlamatplError("--tokenizer needs transformers: pip install 'llamatpl[transformers]'") from None
        p = Path(path)
        self._tok: Any
        try:
            if p.is_file():
                self._tok = PreTrainedTokenizerFast(tokenizer_file=str(p))
            elif p.is_dir():
                self._tok = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
            else:
                raise LlamatplError(f"{path}: no such tokenizer file or model folder")
        except LlamatplError:
            raise
        except Exception as exc:  # noqa: BLE001 - transformers raises many kinds on a bad folder
            raise LlamatplError(f"{path}: cannot load a tokenizer ({type(exc).__name__}: {exc})") from None
        self.name = path
        self.special_tokens = {t: self._tok.convert_tokens_to_ids(t) for t in self._tok.all_special_tokens}
        for added in self._tok.added_tokens_decoder.values():
            if added.special:
                self.special_tokens[added.content] = self._tok.convert_tokens_to_ids(added.content)
        self.id_to_special = {i: t for t, i in self.special_tokens.items()}

    def encode_prompt(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        return list(self._tok(text, add_special_tokens=add_special_tokens)["input_ids"])

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The prompt's ids (as :meth:`encode_prompt`) and each token's character span in ``text``."""
        out = self._tok(text, add_special_tokens=False, return_offsets_mapping=True)
        return list(out["input_ids"]), [(int(a), int(b)) for a, b in out["offset_mapping"]]

    def encode_text(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return str(self._tok.decode(ids))

    def token_text(self, token_id: int) -> str:
        return self.id_to_special.get(token_id) or str(self._tok.decode([token_id]))

    def is_special(self, token_id: int) -> bool:
        return token_id in self.id_to_special
