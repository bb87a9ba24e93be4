"""Stage 5, training data: token ids with assistant masks read off the rendered template, written to
Parquet or JSONL (``llamatpl prepare``), in batches for ``datasets`` and Ray Data (``encode_batch``),
and templates with ``{% generation %}`` blocks for transformers and TRL (``llamatpl export``).
"""

from .batches import encode_batch

__all__ = ["encode_batch"]
