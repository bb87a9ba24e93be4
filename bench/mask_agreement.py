"""How often llamatpl's training mask equals the assistant pieces of Meta's reference, per bundled template.

Generates N conversations per template (llamatpl.strategies, a fixed seed) and counts: the template
raised (unsupported by the template), token-exact with the reference (the mask must then agree), the
mask agreeing, and not token-exact (first difference named, the most common shown).

    python bench/mask_agreement.py [N]
"""

from __future__ import annotations

import collections
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llamatpl.errors import RenderError
from llamatpl.rendering.templates import resolve_template
from llamatpl.strategies import conversations
from llamatpl.train.check import check_mask
from llamatpl.train.masks import MaskError, MaskJob
from llamatpl.verification.compare import VERIFY_TODAY

TEMPLATES = ("official:3.0", "official:3.1", "official:3.2", "official:3.2-vision", "tuned:3.1", "tuned:3.2",
             "tuned:3.2-vision")


def survey(name: str, examples: int) -> collections.Counter[str]:
    tpl = resolve_template(name)
    job = MaskJob(tpl, today=VERIFY_TODAY)
    counts: collections.Counter[str] = collections.Counter()

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(conversations(version=tpl.version))
    def run(conv: object) -> None:
        try:
            result = check_mask(job, conv)
        except MaskError:
            counts["not prefix-stable"] += 1
            return
        except RenderError:
            counts["template raised"] += 1
            return
        counts["conversations"] += 1
        if result.token_exact:
            counts["token-exact"] += 1
            counts["token-exact, mask agrees" if result.agrees else "token-exact, MASK DIFFERS"] += 1

    run()
    return counts


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for name in TEMPLATES:
        print(name, dict(survey(name, examples)))


if __name__ == "__main__":
    main()
