"""The differential check behind the fast backend (see :mod:`llamatpl.rendering.backend`).

The check replays a fixed corpus through the caller's own render path (transformers' variables, or
a serving engine's request handling) with every render done on both jinja2 and minijinja, the same
variables in both: the lint probe conversations, the bundled fixtures, and :data:`GENERATED`
conversations drawn from ``llamatpl.strategies`` with a fixed seed (so every process checks the
same ones). The clock is pinned (``strftime_now`` reads 26 Jul 2024) so outputs are comparable.
Importing this module installs the check; ``llamatpl.render`` and the CLI import it.
"""

from __future__ import annotations

import functools
import json
import random
import threading
from pathlib import Path
from typing import Any

from ..errors import LlamatplError
from ..rendering import backend
from ..rendering.conversation import Conversation, load_conversation
from ..rendering.environment import pinned_today, restore_today
from ..resources import bundled_dir
from ..verification.compare import VERIFY_TODAY
from .run import PROBES

# (strategy version, tool calls per turn at most, how many): 3.1 covers 3.0's and 3.2's shapes and
# built-in tools, two calls a turn make the official templates raise, 3.2-vision adds image parts.
GENERATED = (("3.1", 1, 140), ("3.1", 2, 40), ("3.2-vision", 1, 60))
SEED = 20241126


@functools.lru_cache(maxsize=1)
def corpus() -> tuple[Conversation, ...]:
    """Probes, fixtures and generated conversations, in that order (built once per process)."""
    probes = [Conversation.from_data(data, name=f"probe {name}") for name, data in PROBES.items()]
    fixtures = [load_conversation(str(path)) for path in sorted(bundled_dir("fixtures").glob("*.json"))]
    return (*probes, *fixtures, *_generated_cached())


BUNDLED = Path(__file__).resolve().parent / "check_conversations.json"


def _generated_cached() -> list[Conversation]:
    """The generated conversations as bundled with llamatpl (drawn once with :func:`write_bundled`):
    drawing them, and importing hypothesis, would be most of a check's cost. Drawn afresh only when
    the file is missing or unreadable."""
    try:
        stored = json.loads(BUNDLED.read_text(encoding="utf-8"))
        return [Conversation.from_data(data, name=name) for name, data in stored]
    except (OSError, ValueError, TypeError, LlamatplError):
        return _generated()


def write_bundled(path: Path = BUNDLED) -> int:
    """Draw the generated conversations (:data:`GENERATED`, :data:`SEED`) and write them, one a line;
    refuses when one would not read back equal. ``python -m llamatpl.probes.backends`` runs it."""
    drawn = _generated()
    records = [[c.name, c.to_data()] for c in drawn]
    lines = [json.dumps(record, ensure_ascii=True) for record in records]
    if [json.loads(line) for line in lines] != records:
        raise LlamatplError("a generated conversation does not survive JSON; not written")
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    return len(records)


def _generated() -> list[Conversation]:
    """Drawn in a thread of its own, so a check that starts inside a running hypothesis test
    (a property test that renders) does not disturb that test's own drawing."""
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(_draw_all()), daemon=True)
    worker.start()
    worker.join()
    if not box or isinstance(box[0], BaseException):
        raise LlamatplError(f"cannot generate the backend check's conversations: {box[0] if box else 'no result'}")
    result: list[Conversation] = box[0]
    return result


def _draw_all() -> list[Conversation] | BaseException:
    try:
        from hypothesis.control import BuildContext
        from hypothesis.internal.conjecture.data import ConjectureData

        from ..verification.strategies import conversations

        rng = random.Random(SEED)
        out: list[Conversation] = []
        for version, calls, count in GENERATED:
            strategy = conversations(version=version, max_tool_calls=calls)
            for _ in range(count):
                data = ConjectureData(random=rng, max_choices=10_000)
                with BuildContext(data, wrapped_test=_draw_all):
                    out.append(data.draw(strategy))
        return out
    except Exception as exc:  # noqa: BLE001 - reported by the caller; the template stays on jinja2
        return exc


def check(scope: backend.Scope) -> None:
    """Run the check for ``scope`` and store a verdict for every template text it rendered."""
    assert scope.rerender is not None
    try:
        conversations = corpus()
    except LlamatplError:
        return
    day = pinned_today(VERIFY_TODAY)
    try:
        with backend.differential() as results:
            for number, conversation in enumerate(conversations, 1):
                results.current = f"check conversation {number} ({conversation.name})"
                try:
                    scope.rerender(conversation)
                except LlamatplError:
                    pass  # a raise (noted when the template raised) or a request the engine refuses
                if results.limit_hit or results.differences:
                    break
    finally:
        restore_today(day)
    backend.record_check(results, scope.label, len(conversations))


backend.install_checker(check)

if __name__ == "__main__":
    print(f"{write_bundled()} conversations written to {BUNDLED}")
