"""Meta's reference encoding of a conversation, as labelled pieces (``encode``) and tokens.

    from llamatpl.reference import encode
    expected = encode(conversation, version="3.1")
    expected.prompt, expected.ids(get_tokenizer("3.1"))
"""

from .dialects import DIALECTS, Dialect, get_dialect
from .encoder import encode
from .pieces import Expected, Piece

__all__ = ["DIALECTS", "Dialect", "Expected", "Piece", "encode", "get_dialect"]
