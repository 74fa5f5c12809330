"""The book's language models: what book_language_models returns, and what it refuses."""

import pytest

from rnn2transformer.language_models import FAMILIES, LADDER, book_language_models


@pytest.fixture
def smoke(monkeypatch, tmp_path):
    monkeypatch.setenv("RNN2T_SCALE", "smoke")
    monkeypatch.setenv("RNN2T_CACHE_DIR", str(tmp_path))


def test_the_smoke_scale_trains_one_seed_of_each_family_and_then_reads_the_cache(smoke, capsys):
    first = book_language_models()
    assert sorted(first.models) == sorted((family, 0) for family in FAMILIES)
    assert list(first.results.seed.unique()) == [0] and first.loaded == 0
    assert list(first.baselines) == ["unigram", "bigram", "trigram", "4-gram", "5-gram"][
        :len(LADDER)]
    again = book_language_models()
    assert again.loaded == len(FAMILIES)
    assert "3 of 3 loaded from the cache" in capsys.readouterr().out


def test_an_unknown_family_is_refused_with_the_families_it_knows(smoke):
    with pytest.raises(ValueError, match=r"LSTM.*Transformer.*minGRU.*got 'GRU'"):
        book_language_models(families=("GRU",))
