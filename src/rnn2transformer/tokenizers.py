"""Turning text into integer ids and back: a vocabulary, a character, a word and a byte-pair
tokeniser.

Every model in the book reads ids, never strings. The vocabulary reserves id 0 for padding
(``<pad>``) and id 1 for words it does not know (``<unk>``), so batches of different-length
sequences can be padded with zeros and rare words share one id.
"""

from __future__ import annotations

import heapq
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise

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



# Byte-pair encoding. A chunk is a run of non-space characters with at most one space before
# it, or a run of whitespace that leaves its last space to the word after it (" ?\S+" then
# "\s+(?!\S)", as GPT-2 splits). Merges never cross a chunk, so every chunk is a "word" of
# Sennrich et al.; the chunks concatenate back to the text, whatever it holds.
CHUNK_PATTERN = re.compile(r" ?\S+|\s+(?!\S)|\s+")
N_BYTES = 256  # the base pieces: one per byte value, so ids 0-255 are the bytes themselves
_CACHE_SIZE = 100_000  # chunks whose encoding is remembered (text repeats its words)


def _merge_pair(symbols: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """``symbols`` with every occurrence of ``pair``, read left to right, replaced by ``new``
    (so "a a a" with the pair (a, a) becomes "aa a", as the merge is applied in training)."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _learn_merges(words: list[list[int]], freqs: list[int], n_merges: int,
                  min_count: int) -> list[tuple[int, int]]:
    """Up to ``n_merges`` merges learned from word types ``words`` (byte ids) seen ``freqs``
    times: each merge is the adjacent pair with the largest count ``sum_w freq(w) * n_w(a, b)``.

    The pair counts are kept up to date rather than recounted: a merge changes only the words
    that hold its pair (``where`` finds them), so only their pairs are subtracted and the
    merged words' pairs added. A heap holds ``(-count, pair)`` for the next best pair; an entry
    whose count has since changed is stale and skipped when popped. Ties go to the smaller ids.
    """
    counts: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> word indices
    for w, symbols in enumerate(words):
        for pair in pairwise(symbols):
            counts[pair] += freqs[w]
            where[pair].add(w)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while heap and len(merges) < n_merges:
        negative, pair = heapq.heappop(heap)
        if counts.get(pair) != -negative:
            continue  # stale: the pair's count changed after this entry was pushed
        if -negative < min_count:
            break  # the best pair is too rare; so is every other
        new, changed = N_BYTES + len(merges), set()
        merges.append(pair)
        for w in where.pop(pair):
            old = words[w]
            merged = _merge_pair(old, pair, new)
            if len(merged) == len(old):
                continue  # an index left by an earlier merge: the word lost this pair then
            for p in pairwise(old):
                counts[p] -= freqs[w]
                changed.add(p)
            for p in pairwise(merged):
                counts[p] += freqs[w]
                where[p].add(w)
                changed.add(p)
            words[w] = merged
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:  # gone from every word (the merged pair itself, at least)
                del counts[p]
                where.pop(p, None)
    return merges


class BPETokenizer:
    """Byte-pair encoding (Sennrich, Haddow and Birch, 2016), on bytes as in GPT-2 (Radford et
    al., 2019): text -> UTF-8 bytes -> ids of learned pieces, exactly reversible.

    Training starts from the 256 byte values and repeatedly merges the most frequent adjacent
    pair of pieces into a new piece, ``(a, b) -> ab`` with id ``256 + rank``, counting pairs
    inside words only (see ``CHUNK_PATTERN``). Encoding a word applies the merges in training
    order: while some adjacent pair has been learned, merge the one learned first.

    Why bytes rather than characters: the base pieces are then every byte value, so any text
    is encodable (a character never seen in training is spelled by its UTF-8 bytes) and there
    is no ``<unk>``; the price is that one character outside ASCII takes two to four base ids.
    A space belongs to the word after it (" king"), which marks where a word begins, the job
    of Sennrich et al.'s end-of-word symbol, and keeps decoding a plain concatenation.
    """

    def __init__(self, merges: Iterable[Sequence[int]]) -> None:
        self.merges: list[tuple[int, int]] = []
        self.pieces: list[bytes] = [bytes([b]) for b in range(N_BYTES)]  # id -> its bytes
        self.ranks: dict[tuple[int, int], int] = {}  # pair -> when it was learned
        for rank, pair in enumerate(merges):
            ok = isinstance(pair, Sequence) and len(pair) == 2 and all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(self.pieces)
                for i in pair)
            if not ok:
                raise ValueError(f"merge {rank} must be a pair of ids in [0, {len(self.pieces)})"
                                 f" (the pieces made before it), got {pair!r}")
            pair = (pair[0], pair[1])
            if pair in self.ranks:
                raise ValueError(f"merge {rank} repeats merge {self.ranks[pair]}: {pair}")
            self.ranks[pair] = rank
            self.merges.append(pair)
            self.pieces.append(self.pieces[pair[0]] + self.pieces[pair[1]])
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, *, vocab_size: int | None = None, n_merges: int | None = None,
              min_count: int = 2) -> BPETokenizer:
        """Learn ``n_merges`` merges (or ``vocab_size - 256``) from ``text``: each merge joins
        the adjacent pair with the largest count ``sum_w f(w) n_w(a, b)`` over words ``w`` of
        frequency ``f(w)`` holding it ``n_w`` times (ties: the smaller ids).

        Training stops early when no pair occurs ``min_count`` times: a pair seen once teaches
        nothing about other text, it only memorises a word. Pairs are counted over word types
        with their frequencies, so the work grows with the vocabulary of the text, not its size.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if (vocab_size is None) == (n_merges is None):
            raise ValueError(f"give exactly one of vocab_size and n_merges, got "
                             f"vocab_size={vocab_size!r} and n_merges={n_merges!r}")
        if vocab_size is not None:
            n_merges = check_int("vocab_size", vocab_size, minimum=N_BYTES) - N_BYTES
        check_int("n_merges", n_merges, minimum=0)
        check_int("min_count", min_count, minimum=1)
        types = Counter(CHUNK_PATTERN.findall(text))
        words = [list(chunk.encode("utf-8", "surrogatepass")) for chunk in types]
        return cls(_learn_merges(words, list(types.values()), n_merges, min_count))

    @property
    def vocab_size(self) -> int:
        """How many ids there are: the 256 bytes and one per merge."""
        return len(self.pieces)

    def __len__(self) -> int:
        return self.vocab_size

    def _encode_chunk(self, chunk: str) -> list[int]:
        """The ids of one chunk: its bytes, then the learned pair of lowest rank merged until
        none is left (the same result as applying every merge in order: a merge only creates
        pairs that hold its new piece, and those were learned after it)."""
        ids = self._cache.get(chunk)
        if ids is None:
            ids = list(chunk.encode("utf-8", "surrogatepass"))
            while len(ids) > 1:
                pair = min(pairwise(ids), key=lambda p: self.ranks.get(p, len(self.ranks)))
                if pair not in self.ranks:
                    break
                ids = _merge_pair(ids, pair, N_BYTES + self.ranks[pair])
            if len(self._cache) < _CACHE_SIZE:
                self._cache[chunk] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: any str, including characters never seen in training."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return [i for chunk in CHUNK_PATTERN.findall(text) for i in self._encode_chunk(chunk)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``: their bytes joined and read as UTF-8. Ids that cut a character
        (a model's sample can) decode with U+FFFD where the bytes do not form one."""
        if isinstance(ids, str | bytes):
            raise TypeError(f"ids must be an iterable of ints, got {type(ids).__name__}")
        data = []
        for value in ids:
            try:  # an int, or anything that is one (a numpy or 0-d tensor integer); no bools
                i = None if isinstance(value, bool) else operator.index(value)
            except TypeError:
                i = None
            if i is None:
                raise TypeError(f"ids must be ints, got {value!r} ({type(value).__name__})")
            if not 0 <= i < len(self.pieces):
                raise ValueError(f"id must be in [0, {len(self.pieces)}), got {i}")
            data.append(self.pieces[i])
        joined = b"".join(data)
        try:  # surrogatepass: a str holding a lone surrogate round-trips too
            return joined.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return joined.decode("utf-8", "replace")

    def tokens(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, as text (" lowest" -> [" low", "est"]); a piece that
        holds part of a character shows its bytes escaped, as ``\\xe2``."""
        return [self.pieces[i].decode("utf-8", "backslashreplace") for i in self.encode(text)]
