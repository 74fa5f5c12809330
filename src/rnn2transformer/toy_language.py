"""A small rule-based language pair, generated and seeded, for the encoder-decoder (chapter 5).

The source is a sliver of English: *subject verb object*, each noun phrase an optional
determiner, up to two adjectives and a noun (or a name), followed by up to three prepositional
phrases: "the old king sees a small bird near the river". The target is an invented language
with its own word for every source word and three rules of order, so that a word-by-word
translation is wrong and the alignment is not monotone:

* adjectives follow their noun ("old king" -> "rej vej");
* prepositions follow their noun phrase, as postpositions ("near the river" -> "la riv pres");
* the verb comes last (subject, object, phrases, verb).

Every target word comes from exactly one source word (:func:`translate` returns that
alignment too), so a model's attention can be checked against the truth. What this shares with
real translation: a vocabulary to map, reordering that crosses, sentences of 3 to 24 words
(the longest the grammar allows).
What it does not: every word has exactly one translation, nothing is ambiguous or idiomatic,
and the grammar has six rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_int

NAMES = {"anna": "anna", "bob": "bob", "carla": "carla", "dev": "dev"}
DETERMINERS = {"the": "la", "a": "un"}
NOUNS = {"dog": "hun", "cat": "kat", "bird": "vog", "horse": "kaval", "king": "rej",
         "queen": "rejna", "child": "inf", "farmer": "farm", "river": "riv", "house": "dom",
         "tree": "arb", "garden": "gard"}
ADJECTIVES = {"big": "gran", "small": "pik", "old": "vej", "young": "jun", "red": "ruj",
              "green": "verd", "happy": "fel", "quiet": "kvi"}
VERBS = {"sees": "vid", "follows": "seg", "likes": "am", "finds": "trov", "feeds": "nutr",
         "watches": "obs"}
PREPOSITIONS = {"near": "pres", "behind": "mal", "under": "sub", "with": "kun"}
LEXICON = {**NAMES, **DETERMINERS, **NOUNS, **ADJECTIVES, **VERBS, **PREPOSITIONS}

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SOURCE_WORDS = [PAD, *LEXICON]  # id 0 pads
TARGET_WORDS = [PAD, BOS, EOS, *dict.fromkeys(LEXICON.values())]


@dataclass(frozen=True)
class Pairs:
    """Sentence pairs as tensors. ``source`` (N, S) word ids padded with 0; ``target`` (N, S + 1)
    the translation's ids followed by ``<eos>`` and padding; ``lengths`` (N,) source lengths;
    ``alignment`` (N, S) for each target position the source position it translates (-1
    beyond the sentence); ``sentences`` the source text."""

    source: torch.Tensor
    target: torch.Tensor
    lengths: torch.Tensor
    alignment: torch.Tensor
    sentences: list[str]


def _pick(options: dict, g: torch.Generator) -> str:
    """One key of ``options``, uniformly, drawn with ``g``."""
    return list(options)[int(torch.randint(len(options), (1,), generator=g))]


def _noun_phrase(g: torch.Generator) -> list[str]:
    """The words of one noun phrase: a name, or [determiner] adjectives (0-2) noun."""
    if torch.rand(1, generator=g).item() < 0.2:
        return [_pick(NAMES, g)]
    words = [_pick(DETERMINERS, g)] if torch.rand(1, generator=g).item() < 0.8 else []
    n_adjectives = int(torch.randint(3, (1,), generator=g))
    adjectives = torch.randperm(len(ADJECTIVES), generator=g)[:n_adjectives].tolist()
    return words + [list(ADJECTIVES)[i] for i in adjectives] + [_pick(NOUNS, g)]


def sample_sentence(g: torch.Generator) -> list[str]:
    """One source sentence, drawn from the grammar with generator ``g``."""
    words = _noun_phrase(g) + [_pick(VERBS, g)] + _noun_phrase(g)
    for _ in range(int(torch.randint(4, (1,), generator=g))):  # 0 to 3 phrases
        words += [_pick(PREPOSITIONS, g)] + _noun_phrase(g)
    return words


def _reorder_noun_phrase(positions: list[int], words: list[str]) -> list[int]:
    """Determiner, noun, then the adjectives: the target's order for one noun phrase."""
    det = [p for p in positions if words[p] in DETERMINERS]
    adjectives = [p for p in positions if words[p] in ADJECTIVES]
    head = [p for p in positions if words[p] in NOUNS or words[p] in NAMES]
    return det + head + adjectives


def translate(words: list[str]) -> tuple[list[str], list[int]]:
    """The target sentence for source ``words`` and, for each target word, the position of the
    source word it translates."""
    if not words or any(w not in LEXICON for w in words):
        unknown = [w for w in words if w not in LEXICON]
        raise ValueError(f"words must be a non-empty sentence of the grammar's words, got "
                         f"{words!r}" + (f" (unknown: {unknown})" if unknown else ""))
    verb_at = next((i for i, w in enumerate(words) if w in VERBS), None)
    if verb_at is None:
        raise ValueError(f"a sentence needs a verb (one of {sorted(VERBS)}), got {words!r}")
    boundaries = [i for i, w in enumerate(words) if w in PREPOSITIONS]
    subject = list(range(verb_at))
    obj_end = boundaries[0] if boundaries else len(words)
    order = _reorder_noun_phrase(subject, words)
    order += _reorder_noun_phrase(list(range(verb_at + 1, obj_end)), words)
    for n, start in enumerate(boundaries):  # each phrase: its noun phrase, then the preposition
        end = boundaries[n + 1] if n + 1 < len(boundaries) else len(words)
        order += _reorder_noun_phrase(list(range(start + 1, end)), words) + [start]
    order.append(verb_at)
    return [LEXICON[words[p]] for p in order], order


def make_pairs(n: int, *, seed: int = 0) -> Pairs:
    """``n`` seeded sentence pairs (see :class:`Pairs`)."""
    check_int("n", n, minimum=1)
    g = torch.Generator().manual_seed(seed)
    source_id = {w: i for i, w in enumerate(SOURCE_WORDS)}
    target_id = {w: i for i, w in enumerate(TARGET_WORDS)}
    sentences = [sample_sentence(g) for _ in range(n)]
    S = max(len(s) for s in sentences)
    source = torch.zeros(n, S, dtype=torch.long)
    target = torch.zeros(n, S + 1, dtype=torch.long)
    alignment = torch.full((n, S), -1, dtype=torch.long)
    for i, words in enumerate(sentences):
        translated, order = translate(words)
        source[i, : len(words)] = torch.tensor([source_id[w] for w in words])
        target[i, : len(words)] = torch.tensor([target_id[w] for w in translated])
        target[i, len(words)] = target_id[EOS]
        alignment[i, : len(words)] = torch.tensor(order)
    lengths = torch.tensor([len(s) for s in sentences])
    return Pairs(source, target, lengths, alignment, [" ".join(s) for s in sentences])


def decode_target(ids: list[int] | torch.Tensor) -> str:
    """Target ids back to words, up to the first ``<eos>`` (padding and ``<bos>`` dropped)."""
    words = []
    for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
        if TARGET_WORDS[i] == EOS:
            break
        if TARGET_WORDS[i] not in (PAD, BOS):
            words.append(TARGET_WORDS[i])
    return " ".join(words)
