"""Every value a chapter's build glued is read by a page. The unit test
(tests/unit/test_book_rules.py) sees only keys written as literals; this one reads what the
build glued (``_build/jupyter_execute/chapters/*.glue.json``), so a key made by an f-string in a
loop is checked too. A claim's keys are the exception: ``glue_claim`` glues its fixed set
(``claims.KEYS``) whichever of them a page reads."""

from __future__ import annotations

import json
import re

import pytest

from rnn2transformer.book.claims import KEYS

from .conftest import CHAPTERS, ROOT

EXECUTED = ROOT / "_build" / "jupyter_execute"
READ = re.compile(r"\{glue(?::\w+)?\}`(?:([0-9a-z_]+)\.md::)?(\w+)")
PAGES = sorted((ROOT / "chapters").glob("*.md")) + sorted((ROOT / "book").glob("*.md"))


def read_keys(chapter: str) -> set[str]:
    """The keys of ``chapter`` (a stem) that some page reads."""
    return {key for page in PAGES for stem, key in READ.findall(page.read_text())
            if (stem or page.stem) == chapter}


def claim_keys(glued: set[str]) -> set[str]:
    """The keys glue_claim glued: every claim has a ``<key>_row`` beside the rest of its set."""
    claims = {key[:-len("_row")] for key in glued if key.endswith("_row")}
    return {f"{claim}_{suffix}" for claim in claims for suffix in KEYS
            if all(f"{claim}_{s}" in glued for s in KEYS)}


@pytest.mark.parametrize("entry", CHAPTERS)
def test_every_value_the_build_glued_is_read(site, entry):
    path = EXECUTED / f"{entry}.glue.json"
    assert path.exists(), f"{path} is missing: the build glued nothing for {entry}?"
    glued = set(json.loads(path.read_text()))
    unread = sorted(glued - claim_keys(glued) - read_keys(entry.split("/")[-1]))
    assert not unread, f"{entry} glued {unread}, which no page reads"
