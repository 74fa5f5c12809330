"""Claims: what an experiment decided, said once, under one set of keys (run, decide, say).

A chapter *runs* an experiment (its models, data and training, on the page),
:mod:`rnn2transformer.evidence` *decides* it (a comparison over seeds with its interval), and a
:class:`Claim` *says* it. A comparison only means something when every model in it learned the
task: a race between two language models that a count 4-gram beats, or two recall models that
score what keeping only the last pair scores, compares two failures. So a claim carries a
:class:`Gate`, the test that shows learning (the n-gram ladder, the last-pair line, a
surface-cue rule, fitting the training set), and a claim whose gate failed decides nothing.

:func:`glue_claim` glues a fixed set of keys for the claim's ``key``:

================  ==================================================================
``<key>_verdict``  the sentence :func:`~rnn2transformer.book.prose.verdict` builds (who is
                   ahead and by how much, or "within noise"), whatever the gate found
``<key>_winner``   the winner's name, ``"neither (within noise)"`` or ``"not decided"``
``<key>_seeds``    how many seeds (or timing rounds) the comparison rests on
``<key>_budget``   the budget the models were trained with, in words
``<key>_gate``     the gate's rule and what the runs did against it
``<key>_row``      the verdict if the gate passed, otherwise "not decided" and why: what the
                   book's verdict table and its closing paragraph read, so the two cannot
                   disagree
================  ==================================================================

A test reads every ``NN_chapter.md::<key>_row`` the book refers to and checks that chapter NN
makes that claim, and that every claim's row is read somewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..evidence import Comparison
from .prose import verdict

KEYS = ("verdict", "winner", "seeds", "budget", "gate", "row")


@dataclass(frozen=True)
class Gate:
    """Did every model learn the task? ``rule`` says what each had to reach and ``found`` what
    the runs reached; ``passed`` is True when every model met the rule."""

    passed: bool
    rule: str
    found: str

    @property
    def sentence(self) -> str:
        return f"{self.rule}; {self.found}"

    def __and__(self, other: Gate) -> Gate:
        """``first & second``: the gate of a claim that needs both, passed when each passed.
        Its sentence keeps each rule beside what the runs did against it."""
        if not isinstance(other, Gate):
            return NotImplemented
        return Gate(passed=self.passed and other.passed,
                    rule=f"{self.sentence}, and {other.rule}", found=other.found)


def learned(results: Mapping[str, float], bar: float, *, rule: str, unit: str,
            lower_is_better: bool = True, digits: int = 2) -> Gate:
    """The gate "every model beyond ``bar``": ``results`` maps each model to its mean result
    (bits per character, accuracy, ...), ``rule`` names the bar in words that follow "had to
    be" ("below the count 4-gram", "above the last-pair line"; ``{bar}`` in it marks where the
    bar goes, otherwise the bar follows in parentheses), and each model passes when it is
    strictly better than ``bar`` (lower when ``lower_is_better``). The sentence reads "every
    model had to be below the count 4-gram (2.47 bits/char); LSTM was not (...)"."""
    if not results or not all(isinstance(v, int | float) for v in results.values()):
        raise ValueError(f"results must map model names to numbers, got {results!r}")
    if not isinstance(bar, int | float) or isinstance(bar, bool):
        raise TypeError(f"bar must be a number, got {bar!r}")

    def amount(text: str) -> str:  # "66.7%", "2.47 bits/char"
        return text + unit if unit.startswith("%") or not unit else f"{text} {unit}"

    short = [name for name, value in results.items()
             if not (value < bar if lower_is_better else value > bar)]
    # a name with a comma of its own ("Adam, constant rate") would read as two in a comma list
    comma = "; " if any("," in str(name) for name in results) else ", "
    values = amount(comma.join(f"{name} {value:.{digits}f}" for name, value in results.items()))
    if short:
        names = short[0] if len(short) == 1 else comma.join(short[:-1]) + " and " + short[-1]
        found = f"{names} {'was' if len(short) == 1 else 'were'} not ({values})"
    else:
        found = f"{'every model' if len(results) > 1 else 'it'} was ({values})"
    limit = amount(f"{bar:.{digits}f}")
    said = rule.replace("{bar}", limit) if "{bar}" in rule else f"{rule} ({limit})"
    subject = "every model" if len(results) > 1 else next(iter(results))
    return Gate(passed=not short, rule=f"{subject} had to be {said}", found=found)


def below_count(results: Mapping[str, float], counts: Mapping[str, float],
                order: str = "4-gram") -> Gate:
    """The language models' gate, a rung of the n-gram ladder: every model in ``results``
    (bits per character) ends below the count model ``order`` of ``counts`` (the ladder, as
    ``ngram_baselines`` or ``lms.baselines`` give it: "bigram", "4-gram", ...)."""
    if order not in counts:
        raise ValueError(f"order must be one of the ladder's rungs {list(counts)}, got {order!r}")
    return learned(results, counts[order], rule=f"below the count {order}", unit="bits/char")


@dataclass(frozen=True)
class Claim:
    """One claim of the book, decided: ``comparison`` (from :func:`~rnn2transformer.evidence.
    compare` or ``compare_seeds``), ``lead`` the outcome phrase for a decided comparison ("ends
    with fewer bits per character than"), ``unit`` and ``digits`` of the difference,
    ``budget`` the training budget in words, ``gate`` the test that every model learned the
    task (None where the comparison needs none, such as a timing), ``over`` what was repeated
    ("seeds", or "rounds" for timings)."""

    key: str
    comparison: Comparison
    lead: str
    unit: str
    budget: str
    gate: Gate | None = None
    digits: int = 3
    over: str = "seeds"

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.replace("_", "").isalnum():
            raise ValueError(f"key must be letters, digits and '_', got {self.key!r}")
        if not isinstance(self.comparison, Comparison):
            raise TypeError(f"comparison must be an evidence.Comparison, got "
                            f"{type(self.comparison).__name__}")
        if self.gate is not None and not isinstance(self.gate, Gate):
            raise TypeError(f"gate must be a claims.Gate or None, got {type(self.gate).__name__}")
        for name in ("lead", "unit", "budget"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string, got "
                                 f"{getattr(self, name)!r}")

    @property
    def counts(self) -> bool:
        """True when the comparison may be read as a result: every model learned the task."""
        return self.gate is None or self.gate.passed

    @property
    def verdict(self) -> str:
        return verdict(self.comparison, unit=self.unit, digits=self.digits, lead=self.lead,
                       over=self.over)

    @property
    def winner(self) -> str:
        if not self.counts:
            return "not decided"
        return self.comparison.winner or "neither (within noise)"

    @property
    def row(self) -> str:
        """The verdict, or why this build cannot decide the claim."""
        return gated_verdict(self.comparison, self.gate, unit=self.unit, digits=self.digits,
                             lead=self.lead, over=self.over)

    def values(self) -> dict[str, object]:
        """The glued keys and their values."""
        return {f"{self.key}_verdict": self.verdict, f"{self.key}_winner": self.winner,
                f"{self.key}_seeds": self.comparison.seeds, f"{self.key}_budget": self.budget,
                f"{self.key}_gate": "none needed" if self.gate is None else self.gate.sentence,
                f"{self.key}_row": self.row}


def gated_verdict(comparison: Comparison, gate: Gate | None, **options) -> str:
    """The sentence of a comparison that is not one of the book's claims (a decoding width, a
    regulariser) under the same rule as a claim's row: :func:`~rnn2transformer.book.prose.
    verdict` (``options`` are its keywords) when ``gate`` passed or is None, otherwise "not
    decided" and why."""
    if gate is not None and not isinstance(gate, Gate):
        raise TypeError(f"gate must be a claims.Gate or None, got {type(gate).__name__}")
    if gate is None or gate.passed:
        return verdict(comparison, **options)
    return f"not decided: not every model learned the task ({gate.sentence})"


def glue_claim(claim: Claim) -> Claim:
    """Glue the claim's keys (the table in this module's docstring); return the claim."""
    from . import glue

    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be a claims.Claim, got {type(claim).__name__}")
    for name, value in claim.values().items():
        glue(name, value)
    return claim
