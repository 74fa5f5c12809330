"""No outcome word is typed into the prose: who wins, what is faster, what a model solves or
learns to do is decided by the measurements (``evidence.compare_seeds`` and the sentences of
``book.prose``) and glued, never typed beside a glued number.

The scan reads the chapters' Markdown cells (exercises and solutions included) without code,
math, glued values and directive options, splits them into sentences, and fails on a sentence
that types an outcome word. Three kinds of sentence may: a report of the literature (it cites
its source, ``{cite:...}``), a question (it asks, and the answer is glued), and the fixed
statements in :data:`ALLOWED`, each with why it is no measured outcome.
"""

from __future__ import annotations

import re

import pytest

from .test_typed_numbers import CHAPTERS, prose_cells

OUTCOME = re.compile(
    r"\b(wins?|won|winners?|beats?|beaten|outperform\w*|faster|slower|cheaper|better|worse|"
    r"solves?|solved|rescue[sd]?|ahead of|behind|fail(?:s|ed)? to|learn(?:s|ed)? to|"
    r"uses? more context)\b", re.I)

# Sentences that type an outcome word about no measurement of this build, and why. The key is
# a fragment of the sentence as the scan sees it (glued values shown as [glued]).
ALLOWED = {
    "without hidden layers cannot solve it":
        "chapter 1: geometry (no straight line separates the classes), not a measurement",
    "To beat it the network must":
        "chapter 3: what the adding problem demands of a model, not a result",
    'moves behind "the river"': "chapter 5: word order in the toy language",
    "can solve it as a function of a *set*":
        "chapter 7: a property of the adding task (order-free), not a measurement",
    "Which effect wins on the clock depends":
        "chapter 7: names what decides; the outcome on this device is glued after it",
    "its cost per layer grows faster with":
        "chapter 7: operation counts (n^2 against n); the outcome on the clock is glued",
    "bounded by what it learned to keep":
        "chapter 9: says what bounds the context a recurrent model uses",
    "the better choice changes":
        "chapter 9: defines the frontiers' crossing; where it lies is glued",
    'calls ReLU "more robust, faster, and theoretically good"':
        "chapter 1: quotes the claim under test; the measured answer follows, glued",
    "*Faster* is a claim about cost": "chapter 1: names the claim the next cell tests",
    'LSTMs are "even slower" than RNNs': "chapter 4: quotes the blog's claim; the measured "
        "answer follows, glued",
    "where you expect the LSTM to beat the Transformer":
        "chapter 9: an exercise asks for the reader's own expectation",
}

STRIP = [
    re.compile(r"^```(?!`)[^\n]*\n.*?^```\s*$", re.S | re.M),  # fenced code
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"^:[\w-]+:.*$", re.M),  # directive options (:label:, :class:)
    re.compile(r"^`{3,}.*$", re.M),  # directive fences
    re.compile(r"\[([^\]]*)\]\([^)]*\)"),  # links: keep their text
]
GLUED = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
ROLE = re.compile(r"\{(?!cite)[\w:-]+\}`[^`]*`")  # numref, ref, ...: not sentences of their own
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z*(\"'])|\n\s*\n|\n(?=\s*[-|#])")


def typed_outcomes(markdown: str) -> list[str]:
    """The sentences of ``markdown`` that type an outcome word (see the module's docstring)."""
    for pattern in STRIP:
        markdown = pattern.sub(lambda m: m.group(1) if m.lastindex else " ", markdown)
    markdown = GLUED.sub("[glued]", markdown)
    markdown = ROLE.sub("[ref]", markdown)
    found = []
    for sentence in SENTENCE_END.split(markdown):
        sentence = " ".join(sentence.split())
        if not OUTCOME.search(sentence) or "{cite" in sentence or sentence.endswith("?"):
            continue
        if any(fragment in sentence for fragment in ALLOWED):
            continue
        found.append(sentence)
    return found


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.name)
def test_no_outcome_word_is_typed_into_the_prose(md):
    found = [sentence for source in prose_cells(md) for sentence in typed_outcomes(source)]
    assert not found, (f"{md.name} types outcome words; glue the sentence from "
                       "book.prose.verdict (or a computed comparison), cite the literature it "
                       "reports, or list a fixed statement in ALLOWED with why: "
                       + "\n  - ".join([""] + found))


def test_the_scan_finds_a_typed_verdict_and_spares_glue_citations_and_questions():
    assert typed_outcomes("The LSTM wins with {glue:text}`x:.2f` bits.") == [
        "The LSTM wins with [glued] bits."]
    assert typed_outcomes("Here {glue:text}`race_verdict:s`.") == []
    assert typed_outcomes("Transformers beat LSTMs at scale {cite:p}`kaplan2020scaling`.") == []
    assert typed_outcomes("Which model is faster?") == []
    assert typed_outcomes("```python\nwinner = 'LSTM'  # faster\n```\n") == []
    assert typed_outcomes("The scratch loop is {glue:text}`r:.1f` times slower. Fine.") == [
        "The scratch loop is [glued] times slower."]


def test_every_allowed_statement_is_still_in_a_chapter():
    # an exemption whose sentence is gone would silently excuse a new one that shares its words
    text = "\n".join(" ".join(source.split()) for md in CHAPTERS for source in prose_cells(md))
    stale = [fragment for fragment in ALLOWED if " ".join(fragment.split()) not in text]
    assert not stale, f"ALLOWED lists statements no chapter makes any more: {stale}"
