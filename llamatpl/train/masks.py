"""Assistant masks read off the rendered template, for any template: no list of known formats.

For each assistant message ``i`` the template itself says where the assistant's own text starts
and ends, by rendering two prefixes of the conversation (the way NVIDIA's Megatron-Bridge does):

* ``messages[:i]`` with the generation prompt ends where the assistant starts generating (after
  its header), and
* ``messages[:i+1]`` without it ends after the assistant's turn (its content or tool call,
  ``<|python_tag|>`` and the closing ``<|eot_id|>`` / ``<|eom_id|>`` included).

Both must be prefixes of the whole prompt; a template that rewrites earlier turns when a later one
arrives cannot give a mask, and the message where that happens is named. Under a serving engine the
prefixes are the engine's own closed / generation-prompt renders of the messages it reads
(:meth:`llamatpl.engines.Engine.prefix`), whatever it does to a trailing assistant message
(:func:`llamatpl.verification.prefix.assistant_spans`). The character spans then
become a 0/1 mask over the prompt's tokens, tokenized as a server does (special-token text parsed,
no BOS added): a token is the assistant's when any of its bytes lies in a span, as transformers'
``return_assistant_tokens_mask`` counts it (:func:`llamatpl.tokens.spans.encode_with_mask`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any

from ..errors import UsageError
from ..probes import install_backend_check
from ..rendering import backend
from ..rendering.conversation import Conversation
from ..rendering.environment import remembering_json
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.messages import part_of
from ..rendering.opacity import content_is_opaque
from ..rendering.prefixes import fast_prefixes
from ..rendering.renderer import TRANSFORMERS, render_text
from ..rendering.templates import ChatTemplate
from ..tokens.spans import encode_with_mask
from ..tokens.tokenizer import LlamaTokenizer, UserTokenizer, get_tokenizer, unpack_ids
from ..verification.prefix import MaskError, assistant_spans, cut
from .shapes import Shapes

__all__ = ["IGNORE_INDEX", "Encoded", "MaskError", "MaskJob", "assistant_spans", "labels_of"]

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy (and transformers, TRL) skips


@dataclass(frozen=True)
class Encoded:
    """One conversation as training data: the prompt, its token ids and the assistant mask."""

    prompt: str
    input_ids: list[int]
    assistant_mask: list[int]
    spans: tuple[tuple[int, int], ...]  # the assistant's character spans in ``prompt``

    @property
    def labels(self) -> list[int]:
        return labels_of(self.input_ids, self.assistant_mask)


def labels_of(input_ids: Sequence[int], assistant_mask: Sequence[int]) -> list[int]:
    """The ids where the mask is 1, :data:`IGNORE_INDEX` elsewhere."""
    return [t if m else IGNORE_INDEX for t, m in zip(input_ids, assistant_mask)]


@dataclass(frozen=True)
class MaskJob:
    """How to turn conversations into training rows: the template, the engine and a pinned date.

    ``today`` is pinned (to the day the job was made, by default) so that every prefix of a
    conversation renders the same date line. Picklable, set once per worker process.
    """

    template: ChatTemplate
    engine: Any = None  # an llamatpl.engines.Engine; None renders as transformers does
    today: date | None = None
    limits: Limits = DEFAULT_LIMITS
    transformers: str = TRANSFORMERS
    generation_prompt: bool | None = None  # overrides each conversation's add_generation_prompt
    user_tokenizer: Any = None  # a llamatpl.tokens.UserTokenizer (the model's own); None: Meta's Llama 3

    def __post_init__(self) -> None:
        if self.today is None:
            object.__setattr__(self, "today", date.today())

    @property
    def checks(self) -> str:
        """How input is read: llamatpl's checks, or as the engine's request body."""
        return "llamatpl" if self.engine is None or self.engine.name == "transformers" else "request"

    @property
    def tokenizer(self) -> LlamaTokenizer | UserTokenizer:
        if self.user_tokenizer is not None:
            return self.user_tokenizer  # type: ignore[no-any-return]
        return get_tokenizer(self.template.version)

    def load(self) -> None:
        """Read the tokenizer's tables now (before worker processes fork, so they share them)."""
        tokenizer = self.tokenizer
        if isinstance(tokenizer, LlamaTokenizer):
            tokenizer.byte_lengths()

    def check_tokenizer(self) -> None:
        """A usage error when the template's own tokenizer defines special tokens that Meta's Llama 3
        tokenizer lacks and no tokenizer was given: its ids would spell them as text."""
        if self.user_tokenizer is not None or self.template.path is None:
            return
        from ..tokens.vocabulary import tokens_beside

        defined = tokens_beside(self.template.path) or frozenset()
        known = get_tokenizer(self.template.version).special_tokens
        missing = sorted(t for t in defined if t.startswith("<") and t not in known
                         and t not in self.template.special_tokens.values())
        if missing:
            raise UsageError(f"{self.template.name}: its tokenizer defines {', '.join(missing[:3])}"
                             f"{' ...' if len(missing) > 3 else ''}, which Meta's Llama 3 tokenizer lacks: "
                             f"pass --tokenizer {self.template.path if self.template.path.is_dir() else self.template.path.parent} "
                             "(the model's own tokenizer)")

    def read(self, data: Any, name: str) -> Conversation:
        if self.checks == "request":
            return Conversation.from_request(data, name=name)
        return Conversation.from_data(data, name=name)

    def render(self, conversation: Conversation) -> str:
        """The prompt, on minijinja where the backend check showed jinja2's bytes for the template (the
        check runs at the first render when its verdict is unknown: training renders many conversations)."""
        with self._checking():
            return self._render(conversation)

    @staticmethod
    def _checking() -> AbstractContextManager[None]:
        if not backend.checker_installed():
            install_backend_check()
        return backend.checking()

    def _render(self, conversation: Conversation) -> str:
        if self.engine is not None:
            return str(self.engine.render(conversation, self.template, today=self.today, limits=self.limits))
        return render_text(self.template.text_for(has_tools=conversation.tools is not None), conversation,
                           special_tokens=self.template.special_tokens, today=self.today, limits=self.limits,
                           name=self.template.name, transformers=self.transformers)

    def encode(self, conversation: Conversation) -> Encoded:
        """The prompt, its ids and the assistant mask for one conversation."""
        prompt, ids, mask, spans = self._encode(conversation)
        return Encoded(prompt, unpack_ids(ids), list(mask), spans)

    def encode_row(self, conversation: Conversation) -> tuple[bytes, bytearray]:
        """:meth:`encode`'s ids and mask as a training row stores them: the ids packed as native int32
        bytes, the mask one byte (0 or 1) a token."""
        _, ids, mask, _ = self._encode(conversation)
        return ids, mask

    def _encode(self, conversation: Conversation) -> tuple[str, bytes, bytearray, tuple[tuple[int, int], ...]]:
        from_json = conversation.__dict__.get("_from_json", False)
        if self.generation_prompt is not None:
            request = None if conversation.request is None else {
                **conversation.request, "add_generation_prompt": self.generation_prompt}
            conversation = replace(conversation, add_generation_prompt=self.generation_prompt, request=request)
        shapes = self._shapes(conversation)
        if shapes is None:
            prompt, spans = self._render_spans(conversation)
        else:  # conversations of a shape already rendered render nothing
            prompt, spans = shapes.encode(conversation, self._render_spans, max_chars=self.limits.max_chars,
                                          from_json=from_json)
        ids, mask = encode_with_mask(self.tokenizer, prompt, spans)
        return prompt, ids, mask, spans

    def _render_spans(self, conversation: Conversation) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The prompt and the assistant's spans in it, from renders of the conversation and its prefixes."""
        with remembering_json(), self._checking():  # the prefixes write the same tool definitions and arguments again
            prompt = self._render(conversation)
            return prompt, assistant_spans(conversation, self._prefixes(conversation), prompt, engine=self.engine)

    def _shapes(self, conversation: Conversation) -> Shapes | None:
        """This job's rendered shapes (:mod:`.shapes`), where the conversation can be read off one: as
        transformers renders it, with a content-opaque template, no differential check recording."""
        if self.engine is not None or backend.recording() is not None or \
                not content_is_opaque(self.template.text_for(has_tools=conversation.tools is not None)):
            return None
        shapes: Shapes | None = self.__dict__.get("_shape_store")
        if shapes is None:
            shapes = Shapes()
            object.__setattr__(self, "_shape_store", shapes)
        return shapes

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a worker) without the shapes rendered here."""
        state = dict(self.__dict__)
        state.pop("_shape_store", None)
        return state

    def _prefixes(self, conversation: Conversation) -> Callable[[int, bool], str]:
        """:meth:`prefix` for ``conversation``, just rendered: straight on minijinja where its render went
        (:func:`llamatpl.rendering.prefixes.fast_prefixes`)."""
        slow = partial(self._prefix, conversation)
        fast = None if self.engine is not None else fast_prefixes(
            self.template.text_for(has_tools=conversation.tools is not None), conversation,
            special_tokens=self.template.special_tokens, today=self.today, limits=self.limits,
            transformers=self.transformers)
        if fast is None:
            return slow

        def prefix(count: int, generation_prompt: bool) -> str:
            out = fast(count, generation_prompt)
            return slow(count, generation_prompt) if out is None else out

        return prefix

    def prefix(self, conversation: Conversation, count: int, generation_prompt: bool) -> str:
        """The first ``count`` messages, closed or with the generation prompt, as the engine reads the
        whole conversation (:meth:`llamatpl.engines.Engine.prefix`): where the turns of its prompt are."""
        with self._checking():
            return self._prefix(conversation, count, generation_prompt)

    def _prefix(self, conversation: Conversation, count: int, generation_prompt: bool) -> str:
        if self.engine is not None:
            return str(self.engine.prefix(conversation, count, generation_prompt, self.template, today=self.today,
                                          limits=self.limits))
        return self._render(part_of(cut(conversation, count, generation_prompt), conversation))
