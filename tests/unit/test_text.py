"""The corpus, the tokenisers and the bag-of-words / n-gram features (chapter 2)."""

import gzip
import hashlib

import pytest
import torch

from rnn2transformer import train
from rnn2transformer.corpus import (
    SHAKESPEARE_SHA256,
    CorpusChecksumError,
    load_shakespeare,
    load_text,
    main_speakers,
    order_task,
    speeches,
    split_by_position,
)
from rnn2transformer.models.bow import (
    BagClassifier,
    NgramFeaturizer,
    bag_of_words,
    memory_bytes,
    ngram_growth,
    ngrams,
    pad_ids,
    sparsity_per_row,
)
from rnn2transformer.tokenizers import CharTokenizer, Vocabulary, WordTokenizer
from rnn2transformer.training import accuracy


def test_shipped_corpus_matches_its_checksum_and_size():
    text = load_shakespeare()
    assert len(text) == 1_115_394
    assert hashlib.sha256(text.encode()).hexdigest() == SHAKESPEARE_SHA256
    assert text.startswith("First Citizen:\nBefore we proceed")


def test_checksum_failure_names_both_hashes(tmp_path):
    damaged = tmp_path / "corpus.txt.gz"
    damaged.write_bytes(gzip.compress(b"First Citizen:\nBefore we proceed, no further."))
    with pytest.raises(CorpusChecksumError, match=f"expected sha256 {SHAKESPEARE_SHA256}, got "):
        load_text(damaged, SHAKESPEARE_SHA256)
    plain = tmp_path / "ok.txt"
    plain.write_text("hello")
    assert load_text(plain, hashlib.sha256(b"hello").hexdigest()) == "hello"


def test_speeches_keep_speaker_and_lines():
    text = "ROMEO:\nBut soft!\nWhat light?\n\nJULIET:\nAy me.\n"
    parsed = speeches(text)
    assert [(s.speaker, s.lines) for s in parsed] == [
        ("ROMEO", ("But soft!", "What light?")), ("JULIET", ("Ay me.",))]
    assert parsed[1].start_line == 4
    corpus = speeches()
    assert len(corpus) > 7000
    assert main_speakers(corpus, 1) == ["GLOUCESTER"]


def test_char_tokenizer_round_trips_the_whole_corpus():
    text = load_shakespeare()
    chars = CharTokenizer.from_text(text)
    ids = chars.encode(text)
    assert chars.decode(ids) == text
    assert len(chars) == len(set(text)) and max(ids) == len(chars) - 1
    with pytest.raises(ValueError, match=r"not in the alphabet: \['7'\]"):
        chars.encode("a7")


def test_word_tokenizer_round_trips_token_sequences():
    words = WordTokenizer.from_text("To be, or not to be: that is the question. Know't well!")
    line = "Not to be, that is the question: know't!"
    tokens = words.tokenize(line)
    assert tokens == ["not", "to", "be", ",", "that", "is", "the", "question", ":", "know't",
                      "!"]
    assert words.tokenize(words.decode(words.encode(line))) == tokens
    assert words.encode("to be wherefore") == words.encode("to be") + [words.vocab.unk_id]


def test_vocabulary_orders_by_count_and_caps_size():
    vocab = Vocabulary(list("aaabbc"), max_size=4)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b"]
    assert vocab.encode("abcz") == [2, 3, 1, 1]
    assert vocab.decode([2, 3]) == ["a", "b"]
    with pytest.raises(ValueError, match=r"id must be in \[0, 4\), got 9"):
        vocab.decode([9])
    assert len(Vocabulary(list("aaabbc"), min_count=2)) == 4


def test_bag_of_words_counts_and_sparsity():
    bags = bag_of_words([[2, 3, 3], [4], []], vocab_size=10)
    assert bags.shape == (3, 10)
    assert bags.to_dense()[0].tolist() == [0, 0, 1, 2, 0, 0, 0, 0, 0, 0]
    assert sparsity_per_row(bags).tolist() == pytest.approx([0.8, 0.9, 1.0])
    memory = memory_bytes(bags)
    assert memory["dense"] == 3 * 10 * 4
    assert memory["sparse"] == 4 * 8 + 3 * 8 + 3 * 4  # crow, col (int64), values (float32)
    with pytest.raises(ValueError, match=r"ids outside \[0, 10\)"):
        bag_of_words([[10]], vocab_size=10)


def test_bag_of_words_ignores_order_and_bigrams_do_not():
    words = WordTokenizer.from_text("work to live")
    a, b = words.tokenize("work to live"), words.tokenize("live to work")
    bags = bag_of_words([words.vocab.encode(a), words.vocab.encode(b)], len(words.vocab))
    assert torch.equal(bags.to_dense()[0], bags.to_dense()[1])
    featurizer = NgramFeaturizer([a, b], orders=(1, 2))
    assert sorted(featurizer.ids(a)) != sorted(featurizer.ids(b))


def test_ngram_featurizer_shapes_and_unknowns():
    docs = [["a", "b", "c"], ["a", "b"]]
    featurizer = NgramFeaturizer(docs, orders=(1, 2))
    assert len(featurizer) == 2 + 3 + 2  # specials, a b c, "a b" "b c"
    x = featurizer.transform([["a", "b", "c"], ["c", "z"]])
    assert x.shape == (2, 5) and x.dtype == torch.int64
    assert (x[1, 3:] == 0).all()  # c, z, "c z": three ids, then padding
    assert featurizer.ids(["c", "z"]) == [featurizer.vocab.stoi["c"], 1, 1]  # z, "c z" unknown
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []
    with pytest.raises(ValueError, match="orders must be positive ints"):
        NgramFeaturizer(docs, orders=(0,))


def test_bag_classifier_is_a_linear_model_on_counts():
    model = BagClassifier(vocab_size=6, output_size=3)
    torch.nn.init.normal_(model.weight.weight)
    ids = pad_ids([[2, 2, 5], [3]])
    logits, _ = model(ids)
    counts = torch.zeros(2, 6)
    counts[0, 2], counts[0, 5], counts[1, 3] = 2, 1, 1
    assert torch.allclose(logits, counts @ model.weight.weight + model.bias, atol=1e-6)
    with pytest.raises(TypeError, match="integer dtype"):
        model(ids.float())


def test_order_task_is_at_chance_for_bags_and_learnable_with_bigrams():
    lines = [t.split() for t in ["the king is dead", "long live the king", "a horse a horse",
                                 "my kingdom for a horse", "now is the winter"] * 20]
    x, y = order_task(lines, seed=0)
    assert len(x) == 2 * len(lines) and y[:2] == [1, 0]
    assert all(sorted(x[i]) == sorted(x[i + 1]) and x[i] != x[i + 1] for i in range(0, len(x), 2))
    results = {}
    for orders in [(1,), (1, 2)]:
        featurizer = NgramFeaturizer(x, orders=orders)
        torch.manual_seed(0)
        data = (featurizer.transform(x), torch.tensor(y))
        history = train(BagClassifier(len(featurizer), 2), data, val_data=data, epochs=20,
                        batch_size=32, lr=0.1, metrics={"accuracy": accuracy})
        results[orders] = history["accuracy"].iloc[-1]
    assert results[(1,)] == pytest.approx(0.5)
    assert results[(1, 2)] > 0.95


def test_ngram_growth_and_unseen_share():
    table = ngram_growth(list("abab"), list("abba"), orders=[1, 2])
    assert table["distinct_seen"].tolist() == [2, 2]  # a b; ab ba
    assert table["possible"].tolist() == [2, 4]
    assert table["unseen_test_share"].tolist() == pytest.approx([0.0, 1 / 3])  # "bb" is new


def test_split_by_position_keeps_order():
    assert split_by_position(list(range(10)), val_fraction=0.2) == (list(range(8)), [8, 9])
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\), got 1"):
        split_by_position([1, 2], val_fraction=1)


def test_eval_windows_tile_the_text_or_overlap_by_a_stride():
    from rnn2transformer.corpus import char_lm_eval_set

    ids = torch.arange(23)
    x, y = char_lm_eval_set(ids, length=5)  # non-overlapping, as before
    assert x[:, 0].tolist() == [0, 5, 10, 15] and torch.equal(y, x + 1)
    x, y = char_lm_eval_set(ids, length=5, stride=2)
    assert x[:, 0].tolist() == list(range(0, 18, 2)) and int(y.max()) == 21  # never past the end
    with pytest.raises(ValueError, match="more than length"):
        char_lm_eval_set(ids[:5], length=5)
