"""Sentences built from measurements, so what a page says about speed follows the device that
built it (chapters 4, 6, 7 and 9)."""

from __future__ import annotations

import pandas as pd

from ..evidence import Comparison


def describe_growth(exponent: float, variable: str = "n") -> str:
    """Words for a measured growth exponent, so a sentence about time stays true on any device."""
    if exponent < 0.25:
        return f"barely grows with {variable}"
    if exponent < 0.75:
        return f"grows more slowly than {variable}"
    if exponent < 1.25:
        return f"grows about in proportion to {variable}"
    if exponent < 1.75:
        return f"grows faster than {variable} but more slowly than {variable}\u00b2"
    return f"grows about as {variable}\u00b2"


def where_transformer_leads(sweep: pd.DataFrame) -> dict[str, object]:
    """Read a :func:`parallelism_sweep`: the Transformer's tokens/s over the LSTM's in each
    setting, how many settings it leads, the best ratio and where, and a sentence that says so."""
    wide = sweep.pivot_table(index=["width", "length"], columns="family", values="tokens_per_s")
    ratio = wide["Transformer"] / wide["LSTM"]
    best = ratio.idxmax()
    leads = ratio[ratio > 1]
    n, k = len(ratio), len(leads)
    if k == 0:
        sentence = (f"the LSTM trains more tokens per second than the Transformer in every one "
                    f"of the {n} settings measured; the Transformer comes closest at width "
                    f"{best[0]} and length {best[1]} ({ratio.max():.2f} times the LSTM's rate)")
    elif k == n:
        sentence = (f"the Transformer trains more tokens per second than the LSTM in every one "
                    f"of the {n} settings measured, up to {ratio.max():.2f} times as many (width "
                    f"{best[0]}, length {best[1]})")
    else:
        where = ", ".join(f"width {w} and length {t}" for w, t in leads.index)
        sentence = (f"the Transformer trains more tokens per second than the LSTM in {k} of the "
                    f"{n} settings measured ({where}), up to {ratio.max():.2f} times as many; "
                    f"in the others the LSTM is ahead")
    return {"ratio": ratio, "settings": n, "leads": k, "best_ratio": float(ratio.max()),
            "best_width": int(best[0]), "best_length": int(best[1]), "sentence": sentence}


def verdict(comparison: Comparison, *, unit: str, digits: int = 3,
            lead: str = "is ahead of") -> str:
    """The sentence a page glues for a :func:`~rnn2transformer.evidence.compare_seeds` result:
    who is ahead, by how much, with the interval and the number of seeds, or that the two are
    within noise of each other. ``lead`` is the outcome phrase for a decided comparison
    ("is ahead of", "trains faster than", ...)."""
    if not isinstance(comparison, Comparison):
        raise TypeError(f"comparison must be an evidence.Comparison, got "
                        f"{type(comparison).__name__}")
    size, margin = abs(comparison.difference), comparison.margin
    spread = (f"{size:.{digits}f} {unit} on average over {comparison.seeds} seeds, "
              f"95% interval ±{margin:.{digits}f}")
    if comparison.winner is None:
        return (f"{comparison.a} and {comparison.b} are within noise of each other (a "
                f"difference of {spread})")
    return f"{comparison.winner} {lead} {comparison.loser} ({spread})"


def against_counts(bits: float, baselines: dict[str, float]) -> str:
    """Where a language model's bits per character stand among count n-gram baselines
    (:func:`rnn2transformer.models.ngram.ngram_baselines`, best last): "below the count
    trigram's 2.90 bits", "between the count bigram's 3.59 and trigram's 2.90 bits", or
    "above the count unigram's 4.77 bits" (a model that learned less than letter counts)."""
    if not baselines or not all(isinstance(v, int | float) for v in baselines.values()):
        raise ValueError(f"baselines must map names to bits per character, got {baselines!r}")
    ranked = sorted(baselines.items(), key=lambda item: -item[1])  # worst (most bits) first
    best_name, best = ranked[-1]
    if bits < best:
        return f"below the count {best_name}'s {best:.2f} bits"
    if bits > ranked[0][1]:
        return f"above the count {ranked[0][0]}'s {ranked[0][1]:.2f} bits"
    for (worse_name, worse), (better_name, better) in zip(ranked, ranked[1:], strict=False):
        if better <= bits <= worse:
            return (f"between the count {worse_name}'s {worse:.2f} and {better_name}'s "
                    f"{better:.2f} bits")
    raise AssertionError("unreachable: bits lies within the baselines' range")
