"""Chapter 8's order task without surface cues: spans, pairs and the cue rules (corpus.py)."""

import pytest
import torch

from rnn2transformer.corpus import (
    load_shakespeare,
    order_cues,
    order_pairs,
    order_spans,
    plain_words,
)
from rnn2transformer.tokenizers import CharTokenizer

TEXT = ("ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and "
        "Juliet is the sun.\nArise, fair sun, and kill the envious moon,\n\nJULIET:\n"
        "O Romeo, Romeo! wherefore art thou Romeo?\nDeny thy father and refuse thy name;\n"
        "Or, if thou wilt not, be but sworn my love,\nAnd I'll no longer be a Capulet.\n")


def test_plain_words_have_no_capital_and_no_punctuation():
    assert plain_words("O Romeo, Romeo! wherefore art thou--Romeo? I'll well-a-day") == [
        "o", "romeo", "romeo", "wherefore", "art", "thou", "romeo", "i'll", "well", "a", "day"]
    assert plain_words("-- ; ' !") == []


@pytest.mark.parametrize("words", [3, 5])
def test_spans_come_in_pairs_of_one_bag_with_neither_capital_nor_punctuation(words):
    examples, labels = order_spans(TEXT, words=words, length=40, seed=3)
    assert examples and labels == [1, 0] * (len(examples) // 2)
    for original, shuffled in zip(examples[0::2], examples[1::2], strict=True):
        assert len(original.split()) == words and len(original) <= 40
        assert sorted(original.split()) == sorted(shuffled.split()) and original != shuffled
        assert original == original.lower() and not set(original) & set(".,;:!?-")
        assert original in " ".join(plain_words(TEXT.replace("\n", " ")))  # running text
    assert order_spans(TEXT, words=words, length=40, seed=3) == (examples, labels)
    with pytest.raises(ValueError, match="length must be an int >= 5"):
        order_spans(TEXT, words=5, length=4)


def test_pairs_hold_both_copies_padded_with_the_original_at_y():
    chars = CharTokenizer.from_text(load_shakespeare())
    x, y = order_pairs(TEXT, chars, words=4, length=30, seed=1)
    examples, _ = order_spans(TEXT, words=4, length=30, seed=1)
    assert x.shape == (len(examples) // 2, 2, 31) and x.dtype == torch.int64
    assert set(y.tolist()) == {0, 1}  # the original is not always first
    for i, (pair, index) in enumerate(zip(x, y, strict=True)):
        original = chars.decode(pair[index].tolist())
        assert original == (" " + examples[2 * i]).ljust(31, "\n")
        assert chars.decode(pair[1 - index].tolist()) == (" " + examples[2 * i + 1]).ljust(31,
                                                                                        "\n")
    with pytest.raises(ValueError, match="pad must be one character"):
        order_pairs(TEXT, chars, pad=" ")


def test_cue_rules_find_a_capital_and_are_at_chance_without_one():
    cued = (["The cat sat", "cat The sat", "A dog ran", "dog ran A", "The sun set", "set The sun"],
            [1, 0, 1, 0, 1, 0])
    scores = order_cues(cued, cued)
    assert scores["first character upper case"] == 1.0 and scores["first word"] == 1.0
    assert scores["length"] == 0.5  # both copies are always equally long
    plain = order_spans(TEXT, words=3, length=30, seed=0)
    assert all(order_cues(plain, plain)[rule] == 0.5 for rule in
               ("first character upper case", "ends with a punctuation mark", "length"))
    with pytest.raises(ValueError, match="must hold pairs"):
        order_cues((["a b", "b a", "c d"], [1, 0, 1]), cued)
