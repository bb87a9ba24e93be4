"""The bundled official templates are Meta's published files, byte for byte."""

import hashlib

import pytest

from conftest import ROOT, official_text

PUBLISHED_SHA256 = {  # ../shared/FACTS.md, from each model's tokenizer_config.json
    "3.0": "ba03a121d097859c7b5b9cd03af99aafe95275210d2876f642ad9929a150f122",
    "3.1": "e10ca381b1ccc5cf9db52e371f3b6651576caee0a630b452e2816b2d404d4b65",
    "3.2": "5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4",
    "3.2-vision": "53ff0dc467531d098a8bdd2ba38a3b2c157c9a90e96e16a0a79aa86476d47eea",
}


@pytest.mark.parametrize("version", sorted(PUBLISHED_SHA256))
def test_official_template_matches_published_hash(version):
    data = (ROOT / "templates" / "official" / f"{version}.jinja").read_bytes()
    assert hashlib.sha256(data).hexdigest() == PUBLISHED_SHA256[version]


def test_seed_corruption_is_kept_as_a_fixture():
    corrupted = (ROOT / "fixtures" / "templates" / "3.1-seed-triple-eom.jinja").read_text()
    official = official_text("3.1")
    assert corrupted.count('{{- "<|eom_id|>" }}') == 3
    assert official.count('{{- "<|eom_id|>" }}') == 1
    assert corrupted != official
