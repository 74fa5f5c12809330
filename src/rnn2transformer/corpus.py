"""The book's one real-text corpus: Shakespeare's plays, shipped inside the package.

``data/tinyshakespeare.txt.gz`` is the char-rnn compilation (about 40,000 lines). It is checked
against its SHA-256 every time it is loaded, so a damaged or altered copy fails at once instead of
quietly changing the book's numbers. Nothing is downloaded.

The text is a sequence of speeches: a speaker's name on its own line ("ROMEO:"), then one or
more lines of speech, then a blank line. :func:`speeches` parses that structure; the tasks that
chapters train on (which speaker? is this line in its original order?) are built from it here.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import torch

from ._checks import check_int, check_tensor
from .synthetic import draws_on_device
from .tokenizers import CharTokenizer

SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SPEAKER_LINE = re.compile(r"^([A-Z][A-Za-z' ]*):$")


class CorpusChecksumError(ValueError):
    """The corpus file is not the text the book was written against."""


def load_text(path: str | Path, sha256: str) -> str:
    """Read a (gzipped or plain) UTF-8 text file and check its SHA-256 before returning it."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise CorpusChecksumError(
            f"{path.name}: expected sha256 {sha256}, got {digest}. The file is damaged or "
            "was changed; restore it from the repository."
        )
    return raw.decode("utf-8")


@lru_cache(maxsize=1)
def load_shakespeare() -> str:
    """The whole corpus as one string (1,115,394 characters), checksum verified."""
    path = resources.files("rnn2transformer") / "data" / "tinyshakespeare.txt.gz"
    with resources.as_file(path) as file:
        return load_text(file, SHAKESPEARE_SHA256)


@dataclass(frozen=True)
class CharSplit:
    """The corpus as characters, split once for every chapter that trains on it: the first
    ``split`` ids (90%) to train on, the rest held out. By position, not at random, so that
    no line lands on both sides (see :func:`split_by_position`)."""

    text: str
    chars: CharTokenizer
    ids: torch.Tensor  # (N,) int64, the whole text
    split: int

    @property
    def train(self) -> torch.Tensor:
        return self.ids[: self.split]

    @property
    def held_out(self) -> torch.Tensor:
        return self.ids[self.split :]


@lru_cache(maxsize=1)
def shakespeare_split() -> CharSplit:
    """The book's character split of :func:`load_shakespeare` (the same in every chapter)."""
    text = load_shakespeare()
    chars = CharTokenizer.from_text(text)
    ids = torch.tensor(chars.encode(text))
    return CharSplit(text=text, chars=chars, ids=ids, split=int(0.9 * len(ids)))


@dataclass(frozen=True)
class Speech:
    speaker: str  # as written, e.g. "First Citizen"
    lines: tuple[str, ...]  # the lines of speech, without the speaker line
    start_line: int  # 0-based line number of the speaker line in the corpus

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def speeches(text: str | None = None) -> list[Speech]:
    """Split the corpus into speeches, in order."""
    text = load_shakespeare() if text is None else text
    result, speaker, start, lines = [], None, 0, []
    for number, line in enumerate(text.split("\n") + [""]):
        match = SPEAKER_LINE.match(line)
        if match and not lines:
            speaker, start = match.group(1), number
        elif line.strip() == "":
            if speaker is not None and lines:
                result.append(Speech(speaker, tuple(lines), start))
            speaker, lines = None, []
        elif speaker is not None:
            lines.append(line)
    return result


def split_by_position(items: list, *, val_fraction: float = 0.1) -> tuple[list, list]:
    """First part for training, the last ``val_fraction`` for validation.

    Splitting by position rather than at random keeps neighbouring lines (often repeated words
    and names) from landing on both sides, so validation measures generalisation honestly.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = int(round(len(items) * (1 - val_fraction)))
    return items[:cut], items[cut:]


def order_task(
    token_lines: list[list[str]], *, seed: int = 0
) -> tuple[list[list[str]], list[int]]:
    """Is this line in its original word order (1) or shuffled (0)?

    Every line appears twice: as written and with its tokens shuffled (a permutation that
    differs from the original). Both copies have the same bag of words, so any bag-of-words
    model gets exactly one of each pair right: 50 % accuracy by construction.
    Lines whose tokens cannot be reordered (one token, or all alike) are dropped.
    """
    check_int("seed", seed, minimum=0)
    rng = random.Random(seed)
    examples, labels = [], []
    for tokens in token_lines:
        if len(set(tokens)) < 2:
            continue
        shuffled = list(tokens)
        while shuffled == tokens:
            rng.shuffle(shuffled)
        examples += [list(tokens), shuffled]
        labels += [1, 0]
    return examples, labels


def main_speakers(all_speeches: list[Speech], k: int) -> list[str]:
    """The ``k`` speakers with the most speeches (ties by name)."""
    check_int("k", k, minimum=1)
    counts: dict[str, int] = {}
    for speech in all_speeches:
        counts[speech.speaker] = counts.get(speech.speaker, 0) + 1
    return sorted(counts, key=lambda s: (-counts[s], s))[:k]


def char_lm_batches(ids: torch.Tensor, *, length: int, batch_size: int):
    """Random windows of a long id sequence for next-character prediction.

    Returns a batch function ``generator -> (x, y)`` for :func:`rnn2transformer.train` with
    ``x = ids[s : s + length]`` and ``y = ids[s + 1 : s + length + 1]`` for random starts ``s``;
    both (B, T), int64.
    """
    check_int("length", length, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    check_tensor("ids", ids, ndim=1, dtype_kind="int")
    if len(ids) <= length + 1:
        raise ValueError(f"ids must be longer than length + 1 = {length + 1}, got {len(ids)}")
    on_device = {ids.device: (ids, torch.arange(length, device=ids.device))}

    @draws_on_device
    def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if generator.device not in on_device:  # the corpus is copied to a GPU once, not per batch
            on_device[generator.device] = (ids.to(generator.device),
                                           torch.arange(length, device=generator.device))
        source, offsets = on_device[generator.device]
        starts = torch.randint(0, len(ids) - length - 1, (batch_size, 1), generator=generator,
                               device=generator.device)
        index = starts + offsets  # (B, T)
        return source[index], source[index + 1]

    return draw


def char_lm_stream(ids: torch.Tensor, *, length: int, batch_size: int):
    """Consecutive windows for truncated back-propagation through time with a carried state.

    The text is cut into ``batch_size`` streams of equal length; call ``k`` returns, for every
    stream, its ``k``-th window of ``length`` ids and the ids one step ahead, both (B, T), so
    row ``b`` of one batch continues exactly where row ``b`` of the previous batch stopped
    (wrapping around at the end). Train it with a model that carries its state from one call to
    the next (:class:`rnn2transformer.models.recurrent.CarryState`).

    The position in the streams lives in the function, not in the generator, so a run that uses
    it cannot be resumed from a checkpoint (``train`` refuses the combination).
    """
    check_int("length", length, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    check_tensor("ids", ids, ndim=1, dtype_kind="int")
    per_stream = (len(ids) - 1) // batch_size
    windows = per_stream // length
    if windows < 1:
        raise ValueError(f"ids hold {len(ids)} tokens: too few for {batch_size} streams of at "
                         f"least length + 1 = {length + 1}")
    starts = torch.arange(batch_size) * per_stream  # (B,)
    offsets = torch.arange(length)
    calls = {"n": 0}

    def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        k = calls["n"] % windows
        calls["n"] += 1
        index = (starts + k * length).unsqueeze(1) + offsets  # (B, T)
        return ids[index], ids[index + 1]

    draw.consecutive = True  # train: no checkpoints for this batch function
    return draw


def char_lm_eval_set(
    ids: torch.Tensor, *, length: int, stride: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a held-out id sequence into windows of ``length``: (x, y), each (N, T).

    By default the windows do not overlap. A ``stride`` below ``length`` starts a window every
    ``stride`` tokens, so a measurement per position (how the loss falls with context) averages
    over many more windows of the same text.
    """
    check_tensor("ids", ids, ndim=1, dtype_kind="int")
    check_int("length", length, minimum=1)
    stride = length if stride is None else check_int("stride", stride, minimum=1)
    if len(ids) - 1 < length:
        raise ValueError(f"ids must hold more than length + 1 = {length + 1} tokens")
    starts = torch.arange(0, len(ids) - length, stride)  # each window needs length + 1 ids
    index = starts[:, None] + torch.arange(length)  # (N, T)
    return ids[index], ids[index + 1]


def plain_words(line: str) -> list[str]:
    """The words of ``line`` lower-cased, with every character that is not a letter or an
    apostrophe taken out (a hyphen or a punctuation mark separates words): what is left carries
    no capital and no punctuation mark, so neither can tell where a line starts or ends."""
    return [word for word in re.sub(r"[^a-z']+", " ", line.lower()).split()
            if word.strip("'")]


def order_spans(text: str, *, words: int = 8, length: int = 64, seed: int = 0
                ) -> tuple[list[str], list[int]]:
    """The order task without its surface cues: is this span in its original word order (1) or
    shuffled (0)?

    Each speech of ``text`` (:func:`speeches`) is read as one run of :func:`plain_words`, its
    lines joined, and cut into consecutive spans of ``words`` words from a random first word
    (so a span starts and ends anywhere in a line); a span longer than ``length`` characters
    is left out. Every span appears twice, as written and shuffled (:func:`order_task`), one
    after the other. With no capitals and no punctuation, and with a fixed number of words
    whatever their lengths, neither copy's first or last character nor its length says which
    is which: only the order of the words does. Returns the spans as strings (words joined by
    one space) and their labels.
    """
    check_int("words", words, minimum=2)
    check_int("length", length, minimum=words)
    check_int("seed", seed, minimum=0)
    rng = random.Random(seed)
    spans = []
    for speech in speeches(text):
        run = [word for line in speech.lines for word in plain_words(line)]
        for start in range(rng.randrange(words), len(run) - words + 1, words):
            span = run[start:start + words]
            if len(" ".join(span)) <= length:
                spans.append(span)
    examples, labels = order_task(spans, seed=seed)
    return [" ".join(example) for example in examples], labels


ORDER_CUES = {  # what a rule may read of one span, without reading the order of its words
    "first character": lambda span: span[:1],
    "last character": lambda span: span[-1:],
    "first character upper case": lambda span: span[:1].isupper(),
    "ends with a punctuation mark": lambda span: span[-1:] in ".,;:!?",
    "first word": lambda span: span.split()[0] if span.split() else "",
    "last word": lambda span: span.split()[-1] if span.split() else "",
    "length": len,
}


def order_cues(train: tuple[list[str], list[int]], val: tuple[list[str], list[int]], *,
               rules: dict | None = None) -> dict[str, float]:
    """How much of the order task (:func:`order_spans`, or :func:`order_task` joined into
    strings: each original followed by its shuffle) a surface cue answers.

    Each rule (default :data:`ORDER_CUES`) reads one feature of a span: its first character,
    its length, ... Fitted on ``train``, it knows for each value of its feature the share of
    originals among the training spans that have it (a value it never saw counts as one
    half); it answers a validation pair with the span whose value has the larger share, and a
    tie is half right. Returns each rule's accuracy on the pairs of ``val``: 0.5 is chance, and
    a rule well above it is a shortcut a model can learn instead of word order.
    """
    rules = ORDER_CUES if rules is None else rules
    for name, (examples, labels) in (("train", train), ("val", val)):
        if len(examples) != len(labels) or len(examples) % 2 or list(labels[0::2]) != [1] * (
                len(labels) // 2) or any(labels[1::2]):
            raise ValueError(f"{name} must hold pairs, each original (label 1) followed by its "
                             "shuffle (label 0), as order_spans returns them")
    scores = {}
    for name, feature in rules.items():
        counts: dict = {}
        for span, label in zip(*train, strict=True):
            originals, total = counts.get(feature(span), (0, 0))
            counts[feature(span)] = (originals + label, total + 1)
        share = {value: originals / total for value, (originals, total) in counts.items()}
        right = 0.0
        for original, shuffled in zip(val[0][0::2], val[0][1::2], strict=True):
            a, b = share.get(feature(original), 0.5), share.get(feature(shuffled), 0.5)
            right += 1.0 if a > b else 0.5 if a == b else 0.0
        scores[name] = right / (len(val[0]) // 2)
    return scores


def order_pairs(text: str, chars: CharTokenizer, *, words: int = 8, length: int = 64,
                seed: int = 0, pad: str = "\n") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`order_spans` as tensors for a model that compares the two copies of a span.

    Returns ``x`` (N, 2, length + 1), int64: for each span, its two copies in an order drawn
    from ``seed``, each as a space (the character before the span, context for a language
    model) followed by the span and ``pad`` up to ``length + 1`` characters; and ``y`` (N,),
    the index (0 or 1) of the copy in the original order. Chance is one half, and a model
    that reads both copies the same way cannot use the order they come in.
    """
    if len(pad) != 1 or pad == " ":
        raise ValueError(f"pad must be one character other than a space, got {pad!r}")
    examples, _ = order_spans(text, words=words, length=length, seed=seed)
    x = torch.tensor([chars.encode((" " + span).ljust(length + 1, pad)) for span in examples])
    x = x.reshape(-1, 2, length + 1)  # (N, 2, T): the original, then its shuffle
    y = torch.randint(0, 2, (len(x),), generator=torch.Generator().manual_seed(seed))
    x = torch.where(y[:, None, None] == 1, x.flip(1), x)  # y = 1: the original comes second
    return x, y
