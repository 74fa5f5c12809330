"""Sentences built from measurements, so what a page says about speed follows the device that
built it (chapters 4, 6, 7 and 9)."""

from __future__ import annotations

import pandas as pd

from ..evidence import Comparison, compare_seeds


def describe_growth(exponent: float, variable: str = "n") -> str:
    """Words for a measured growth exponent, so a sentence about time stays true on any device
    (a GPU's time can fall as the work grows, while launches and not arithmetic set it)."""
    if exponent < -0.25:
        return f"falls as {variable} grows"
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
    """Read a :func:`~rnn2transformer.profiling.parallelism_sweep`: the Transformer's tokens/s
    over the LSTM's in each setting, and a sentence saying in how many settings each family
    trains more tokens per second. Where the sweep holds each setting's paired rounds
    (``ms_rounds``), a setting counts for a family only when
    :func:`~rnn2transformer.evidence.compare_seeds` over the rounds decides it, and the others
    are within noise; a sweep saved without its rounds (an older results file) can only be
    read median against median, and the sentence says so."""
    wide = sweep.pivot_table(index=["width", "length"], columns="family", values="tokens_per_s")
    ratio = wide["Transformer"] / wide["LSTM"]
    best = ratio.idxmax()
    if "ms_rounds" in sweep:
        rounds = sweep.set_index(["width", "length", "family"])["ms_rounds"]
        winner = {setting: compare_seeds(rounds[(*setting, "Transformer")],
                                         rounds[(*setting, "LSTM")],
                                         names=("Transformer", "LSTM")).winner
                  for setting in ratio.index}
        how = f"each decided over {len(sweep['ms_rounds'].iloc[0])} paired rounds"
    else:
        winner = {setting: "Transformer" if r > 1 else "LSTM" for setting, r in ratio.items()}
        how = "medians of a results file that keeps no spread, so without a margin"
    leads = [s for s in ratio.index if winner[s] == "Transformer"]
    behind = [s for s in ratio.index if winner[s] == "LSTM"]
    n, k, m = len(ratio), len(leads), len(behind)
    if k == 0 and m == n:
        sentence = (f"the LSTM trains more tokens per second than the Transformer in every one "
                    f"of the {n} settings measured ({how}); the Transformer comes closest at "
                    f"width {best[0]} and length {best[1]} ({ratio.max():.2f} times the LSTM's "
                    f"rate)")
    elif k == n:
        sentence = (f"the Transformer trains more tokens per second than the LSTM in every one "
                    f"of the {n} settings measured ({how}), up to {ratio.max():.2f} times as "
                    f"many (width {best[0]}, length {best[1]})")
    else:  # mixed, or every setting within noise
        where = ", ".join(f"width {w} and length {t}" for w, t in leads)
        parts = ([f"the Transformer trains more tokens per second than the LSTM in {k} ({where})"]
                 if k else []) + ([f"the LSTM trains more tokens per second than the "
                                   f"Transformer in {m}"] if m else [])
        tie = n - k - m
        parts += [("the two are" if parts else "the Transformer and the LSTM are")
                  + f" within noise of each other in {'every one of them' if tie == n else tie}"
                  ] if tie else []
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        sentence = (f"of the {n} settings measured ({how}), {listed}; the Transformer's rate is "
                    f"at most {ratio.max():.2f} times the LSTM's (width {best[0]}, length "
                    f"{best[1]})")
    return {"ratio": ratio, "settings": n, "leads": k, "behind": m,
            "best_ratio": float(ratio.max()), "best_width": int(best[0]),
            "best_length": int(best[1]), "sentence": sentence}


def where_each_leads(comparisons: dict, *, lead: str = "took less time than",
                     setting: str = "T", every: str = "length") -> str:
    """One sentence for a comparison repeated over settings (a length, a width): where each
    side is ahead and where the two are within noise. ``comparisons`` maps each setting to the
    :func:`~rnn2transformer.evidence.compare_seeds` result of the same two sides there
    (timings paired by round, :func:`~rnn2transformer.profiling.paired_rounds`)."""
    if not comparisons or not all(isinstance(c, Comparison) for c in comparisons.values()):
        raise TypeError(f"comparisons must map settings to evidence.Comparison results, got "
                        f"{comparisons!r}")
    first = next(iter(comparisons.values()))
    if any((c.a, c.b) != (first.a, first.b) for c in comparisons.values()):
        raise ValueError("every comparison must set the same two sides against each other")
    groups = {side: [k for k, c in comparisons.items() if c.winner == side]
              for side in (first.a, first.b, None)}

    def at(keys):
        if len(keys) == len(comparisons):
            return f"at every {every} measured"
        return f"at {setting} = " + ", ".join(f"{k:,}" if isinstance(k, int) else str(k)
                                               for k in keys)

    parts = [f"{side} {lead} {other} {at(groups[side])}"
             for side, other in [(first.a, first.b), (first.b, first.a)] if groups[side]]
    if groups[None]:
        parts.append(("the two are" if parts else f"{first.a} and {first.b} are")
                     + f" within noise of each other {at(groups[None])}")
    rounds = {c.seeds for c in comparisons.values()}
    return "; ".join(parts) + f" (each decided over {max(rounds)} paired rounds)"


def verdict(comparison: Comparison, *, unit: str, digits: int = 3,
            lead: str = "is ahead of", over: str = "seeds") -> str:
    """The sentence a page glues for a :func:`~rnn2transformer.evidence.compare_seeds` result:
    who is ahead, by how much, with the interval and the number of seeds, or that the two are
    within noise of each other. ``lead`` is the outcome phrase for a decided comparison
    ("is ahead of", "trains faster than", ...); ``over`` names what was repeated ("seeds";
    "rounds" for timings paired by :func:`~rnn2transformer.profiling.paired_rounds`; "draws" for
    random inputs paired by their seed)."""
    if not isinstance(comparison, Comparison):
        raise TypeError(f"comparison must be an evidence.Comparison, got "
                        f"{type(comparison).__name__}")
    if over not in ("seeds", "rounds", "draws"):
        raise ValueError(f"over must be 'seeds', 'rounds' or 'draws', got {over!r}")
    size, margin = abs(comparison.difference), comparison.margin
    spread = (f"{size:.{digits}f} {unit} on average over {comparison.seeds} {over}, "
              f"95% interval ±{margin:.{digits}f}")
    if comparison.difference == 0 and comparison.margin == 0:  # the same result every time
        return (f"{comparison.a} and {comparison.b} are level on each of the {comparison.seeds} "
                f"{over} (both {comparison.mean_a:.{digits}f})")
    if comparison.winner is None:
        return (f"{comparison.a} and {comparison.b} are within noise of each other (a "
                f"difference of {spread})")
    return f"{comparison.winner} {lead} {comparison.loser} (by {spread})"


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
