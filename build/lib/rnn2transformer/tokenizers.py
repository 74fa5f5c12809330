"""Turning text into integer ids and back: a vocabulary, a character and a word tokeniser.

Every model in the book reads ids, never strings. The vocabulary reserves id 0 for padding
(``<pad>``) and id 1 for words it does not know (``<unk>``), so batches of different-length
sequences can be padded with zeros and rare words share one id.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from ._checks import check_int

PAD, UNK = "<pad>", "<unk>"
# A word (letters, with inner apostrophes: "know't", "we'll"), a number, or one punctuation mark.
WORD_PATTERN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|[0-9]+|[^\sA-Za-z0-9]")


class Vocabulary:
    """A two-way map between tokens and ids, built from token counts.

    Tokens are ordered by decreasing count (ties alphabetically), after the specials, so a
    smaller ``max_size`` keeps the most frequent tokens.
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        min_count: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD, UNK),
    ) -> None:
        check_int("min_count", min_count, minimum=1)
        if max_size is not None:
            check_int("max_size", max_size, minimum=len(specials) + 1)
        counts = Counter(tokens)
        self.counts = counts
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_count and t not in specials),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        self.itos: list[str] = list(specials) + ranked
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.pad_id = self.stoi.get(PAD, -1)
        self.unk_id = self.stoi.get(UNK, -1)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown tokens map to ``<unk>`` (or raise if there is none)."""
        ids = []
        for token in tokens:
            index = self.stoi.get(token, self.unk_id)
            if index < 0:
                raise ValueError(f"token {token!r} is not in the vocabulary, which has no {UNK}")
            ids.append(index)
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``."""
        out = []
        for index in ids:
            index = int(index)
            if not 0 <= index < len(self.itos):
                raise ValueError(f"id must be in [0, {len(self.itos)}), got {index}")
            out.append(self.itos[index])
        return out


def word_tokens(text: str, *, lowercase: bool = True) -> list[str]:
    """Split ``text`` into words and punctuation marks."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return WORD_PATTERN.findall(text.lower() if lowercase else text)


class WordTokenizer:
    """Words and punctuation -> ids. ``decode`` joins tokens with single spaces."""

    def __init__(self, vocab: Vocabulary, *, lowercase: bool = True) -> None:
        self.vocab, self.lowercase = vocab, lowercase

    @classmethod
    def from_text(
        cls, text: str, *, min_count: int = 1, max_size: int | None = None, lowercase: bool = True
    ) -> WordTokenizer:
        tokens = word_tokens(text, lowercase=lowercase)
        return cls(Vocabulary(tokens, min_count=min_count, max_size=max_size), lowercase=lowercase)

    def tokenize(self, text: str) -> list[str]:
        return word_tokens(text, lowercase=self.lowercase)

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.tokenize(text))

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.vocab.decode(ids))


class CharTokenizer:
    """Characters -> ids, exactly reversible: ``decode(encode(text)) == text``.

    No padding or unknown id: a character model sees the whole alphabet of its corpus, and a
    character outside it is an error worth hearing about.
    """

    def __init__(self, alphabet: Iterable[str]) -> None:
        chars = sorted(set(alphabet))
        if any(len(c) != 1 for c in chars):
            raise ValueError("alphabet must hold single characters")
        self.vocab = Vocabulary(chars, specials=())

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty str")
        return cls(text)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        unknown = sorted(set(text) - set(self.vocab.stoi))
        if unknown:
            raise ValueError(f"characters not in the alphabet: {unknown}")
        return self.vocab.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.vocab.decode(ids))

