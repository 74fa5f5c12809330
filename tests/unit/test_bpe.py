"""Byte-pair encoding: the merges it learns, the order it applies them in, and exact round trips."""

import random
from collections import Counter
from itertools import pairwise

import pytest
import torch

from rnn2transformer.corpus import load_shakespeare
from rnn2transformer.tokenizers import CHUNK_PATTERN, BPETokenizer

# Sennrich et al.'s example, with the space before each word as GPT-2 keeps it.
WORDS = " low" * 5 + " lower" * 2 + " newest" * 6 + " widest" * 3


@pytest.fixture(scope="module")
def shakespeare():
    text = load_shakespeare()
    return text[:40_000], text[200_000:210_000]  # a training slice and text it never saw


def merge(symbols, pair, new):
    """The merge written the plain way: left to right, each pair once."""
    out = []
    for s in symbols:
        if out and out[-1] == pair[0] and s == pair[1]:
            out[-1] = (new,)  # a tuple marks "just made" and matches no id: "a a a" -> "aa a"
        else:
            out.append(s)
    return [s[0] if isinstance(s, tuple) else s for s in out]


def test_a_hand_worked_example_learns_the_expected_merges():
    tok = BPETokenizer.train(WORDS, n_merges=9)
    # Pair counts: "e s" and "s t" 9 (newest 6 + widest 3), a tie broken by the smaller ids
    # ("e" 101 < "s" 115); then "es t" 9; then " l", "l o", "o w" 7 (low 5 + lower 2), the
    # smallest ids first (" " 32); "ow" before " l"+"o" (" l" is id 258); then " low". The 6s
    # are newest's: " n", "e w" (101, 119) before " n"+"e" (261, 101), " new", " newest".
    learned = [tok.pieces[a] + tok.pieces[b] for a, b in tok.merges]
    assert learned == [b"es", b"est", b" l", b"ow", b" low", b" n", b"ew", b" new", b" newest"]
    assert tok.tokens(" lowest") == [" low", "est"]  # a word it never saw, from its pieces
    assert tok.tokens(" newer") == [" new", "e", "r"]
    # With no limit it merges until every word is one piece; min_count keeps " lower" (2) apart.
    whole = BPETokenizer.train(WORDS, n_merges=1000)
    assert [whole.tokens(w) for w in (" low", " lower", " widest")] == [
        [" low"], [" lower"], [" widest"]]
    assert BPETokenizer.train(WORDS, n_merges=1000, min_count=3).tokens(" lower") == [
        " low", "e", "r"]


def test_vocab_size_counts_the_bytes_and_the_merges():
    tok = BPETokenizer.train(WORDS, vocab_size=260)
    assert tok.vocab_size == len(tok) == 260 == 256 + len(tok.merges)
    assert BPETokenizer.train(WORDS, n_merges=0).vocab_size == 256
    ids = tok.encode(WORDS + " lowest")
    assert max(ids) == 259 and min(ids) >= 0  # the last merge is used; no id beyond the vocab


def test_incremental_counts_learn_what_recounting_everything_learns(shakespeare):
    text, _ = shakespeare
    tok = BPETokenizer.train(text, n_merges=80)
    types = Counter(CHUNK_PATTERN.findall(text))
    words = {w: list(w.encode()) for w in types}
    expected = []
    for rank in range(80):  # count every pair afresh before each merge
        counts = Counter()
        for w, n in types.items():
            for pair in pairwise(words[w]):
                counts[pair] += n
        best = min(counts, key=lambda p: (-counts[p], p))
        expected.append(best)
        words = {w: merge(s, best, 256 + rank) for w, s in words.items()}
    assert tok.merges == expected


def test_merges_are_applied_in_training_order(shakespeare):
    text, unseen = shakespeare
    tok = BPETokenizer.train(text, n_merges=200)
    expected = []
    for chunk in CHUNK_PATTERN.findall(unseen):
        symbols = list(chunk.encode())
        for rank, pair in enumerate(tok.merges):  # every merge, in order, to the whole word
            symbols = merge(symbols, pair, 256 + rank)
        expected += symbols
    assert tok.encode(unseen) == expected
    assert BPETokenizer(tok.merges).encode(unseen) == expected  # the merges are the tokeniser


def test_any_text_round_trips(shakespeare):
    tok = BPETokenizer.train(shakespeare[0], n_merges=200)
    rng = random.Random(0)
    texts = ["", " ", "\n\n  \t", "naïve café, 日本語 🙂!", "a\u0301 \ud800 lone surrogate",
             shakespeare[1]]
    for _ in range(200):  # random code points of every plane, with spaces and newlines
        texts.append("".join(rng.choice([" ", "\n", chr(rng.randrange(0x110000)),
                                         chr(rng.randrange(32, 127))])
                             for _ in range(rng.randrange(30))))
    for text in texts:
        assert tok.decode(tok.encode(text)) == text
    assert "".join(tok.tokens(shakespeare[1])) == shakespeare[1]
    assert tok.tokens(" ï") == [" ", "\\xc3", "\\xaf"]  # never seen: its two bytes, shown
    assert tok.encode("") == [] and tok.decode([]) == ""
    assert tok.decode(tok.encode("é")[:1]) == "\ufffd"  # half a character: replaced, not lost
    assert tok.decode(torch.tensor(tok.encode("king"))) == "king"  # tensors of ids too


def test_bad_arguments_are_refused_with_what_was_expected():
    tok = BPETokenizer.train(WORDS, n_merges=5)
    with pytest.raises(ValueError, match="exactly one of vocab_size and n_merges"):
        BPETokenizer.train(WORDS)
    with pytest.raises(ValueError, match="exactly one of vocab_size and n_merges"):
        BPETokenizer.train(WORDS, vocab_size=300, n_merges=10)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 256, got 100"):
        BPETokenizer.train(WORDS, vocab_size=100)
    with pytest.raises(TypeError, match=r"n_merges must be an int, got 1.5 \(float\)"):
        BPETokenizer.train(WORDS, n_merges=1.5)
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        BPETokenizer.train(b"low lower", n_merges=3)
    with pytest.raises(TypeError, match="text must be a str, got list"):
        tok.encode(["low"])
    with pytest.raises(TypeError, match=r"ids must be ints, got 1.5 \(float\)"):
        tok.decode([1.5])
    with pytest.raises(TypeError, match="ids must be an iterable of ints, got str"):
        tok.decode("low")
    with pytest.raises(ValueError, match=r"id must be in \[0, 261\), got 261"):
        tok.decode([261])
    with pytest.raises(ValueError, match=r"merge 1 must be a pair of ids in \[0, 257\)"):
        BPETokenizer([(108, 111), (256, 257)])
    with pytest.raises(ValueError, match="merge 1 repeats merge 0"):
        BPETokenizer([(108, 111), (108, 111)])
