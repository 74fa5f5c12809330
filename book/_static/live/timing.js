// What chapter 9's side-by-side widget says about the times it measured, decided from the
// measurements themselves (no page, no runtime here: tested under node).
//
// Each model generates GENERATE characters, every one timed (the chart). A browser runs the
// first calls of a model slower than the later ones (it compiles the runtime's hot code in
// tiers), so the first and the last characters of that pass are not compared directly: the
// widget then re-runs the model calls of the first SET characters ("early") and of the last
// SET ("late") in alternating pairs (early then late, late then early, ...), so whatever drifts
// in the browser falls on both alike. A model's cost per character counts as grown (or fallen)
// only if both hold:
//   * the late trimmed mean is at least (1 + MARGIN) times the early one (or the early at
//     least (1 + MARGIN) times the late), trimmed means leaving out the fastest and slowest
//     TRIM of each set, so one pause of the browser does not make a change;
//   * a signed-rank test of the pairs (Wilcoxon; ties given mid-ranks, equal pairs dropped)
//     agrees, |z| >= Z.
// Otherwise the cost "stayed within noise".

export const SET = 48;
export const MARGIN = 0.2;
export const Z = 3;
export const TRIM = 0.1;

/** The mean of `values` without the lowest and highest `trim` share of them. */
export function trimmedMean(values, trim = TRIM) {
  const s = [...values].sort((a, b) => a - b);
  const cut = Math.floor(trim * s.length);
  const kept = s.slice(cut, s.length - cut);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

/** Wilcoxon's signed-rank test of paired `late` against `early`: z > 0 when the late values
 * are the larger ones; `n` pairs that differ (the others are left out). */
export function signedRank(early, late) {
  const d = late.map((v, i) => v - early[i]).filter((v) => v !== 0)
    .sort((a, b) => Math.abs(a) - Math.abs(b));
  const n = d.length;
  let plus = 0, ties = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && Math.abs(d[j + 1]) === Math.abs(d[i])) j++;
    const rank = (i + j) / 2 + 1, t = j - i + 1; // mid-rank of a run of ties
    for (let k = i; k <= j; k++) if (d[k] > 0) plus += rank;
    ties += t * t * t - t;
    i = j + 1;
  }
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - ties / 48;
  return { z: variance > 0 ? (plus - (n * (n + 1)) / 4) / Math.sqrt(variance) : 0, n };
}

/** One model's early and late times (paired, ms): the two trimmed means, their ratio, the
 * test, and the word. */
export function change(early, late) {
  if (early.length !== late.length || early.length < 8) {
    throw new Error("early and late must be pairs, at least 8");
  }
  const a = trimmedMean(early), b = trimmedMean(late);
  const ratio = a > 0 ? b / a : (b > 0 ? Infinity : 1);
  const { z } = signedRank(early, late);
  const word = ratio >= 1 + MARGIN && z >= Z ? "grew"
    : ratio <= 1 / (1 + MARGIN) && z <= -Z ? "fell" : "stayed within noise";
  return { early: a, late: b, ratio, z, word };
}

/** Which generated characters are compared (1-based, first and last of each set). */
export function compared(generated) {
  return { early: [1, SET], late: [generated - SET + 1, generated] };
}

/** Time `replay(i)` (a promise: the model call that produced generated character i, 0-based)
 * for the early and the late characters, in alternating pairs. */
export async function paired(replay, generated) {
  const { early, late } = compared(generated);
  const a = [], b = [];
  for (let k = 0; k < SET; k++) {
    const calls = [[early[0] - 1 + k, a], [late[0] - 1 + k, b]];
    for (const [i, into] of k % 2 ? calls.reverse() : calls) {
      const started = performance.now();
      await replay(i);
      into.push(performance.now() - started);
    }
  }
  return { early: a, late: b };
}

function span(a, b) {
  return a === b ? `${a}` : `${a}\u2013${b}`;
}

/** What the Transformer re-read for the compared characters: its context is the prompt and
 * the characters so far, at most `window` (the last `window` characters). */
export function contextWords(prompt, generated, window) {
  const { early, late } = compared(generated);
  const ctx = (i) => Math.min(prompt + i, window);
  const e = [ctx(early[0]), ctx(early[1])], l = [ctx(late[0]), ctx(late[1])];
  if (e[0] === window) {
    return `its context was its full window of ${window} characters in both sets (` +
      (prompt >= window ? `your text is at least as long as the window: it re-reads only the ` +
        `last ${window}` : `full from generated character ${window - prompt} on`) + ")";
  }
  return `its context grew from ${span(...e)} characters to ${span(...l)}` +
    (l[1] === window ? `, capped at its window of ${window} from generated character ${
      window - prompt} on` : "");
}

function part(name, c) {
  const low = Math.min(c.early, c.late), digits = low >= 10 ? 1 : low >= 0.1 ? 2 : 3;
  const ratio = Number.isFinite(c.ratio) ? `${c.ratio.toFixed(2)}\u00d7` : "from zero";
  return `${name} ${c.early.toFixed(digits)} and ${c.late.toFixed(digits)} ms (${ratio}): ${
    c.word === "stayed within noise" ? "within noise" : c.word}`;
}

/** The widget's words for what it measured: `runs` maps "LSTM", "Transformer" and optionally
 * "minGRU" to their paired times ({early, late}); `prompt` is the reader's text's length in
 * characters, `window` the Transformer's, `generated` the characters each model generated. */
export function sentence(runs, prompt, window, generated) {
  const verdicts = Object.fromEntries(Object.entries(runs).map(([k, t]) =>
    [k, change(t.early, t.late)]));
  const { early, late } = compared(generated);
  const parts = [];
  if (verdicts.LSTM) parts.push(part("the LSTM", verdicts.LSTM));
  parts.push(`${part("the Transformer", verdicts.Transformer)}, while ${
    contextWords(prompt, generated, window)}`);
  if (verdicts.minGRU) parts.push(part("minGRU", verdicts.minGRU));
  const recurrent = Object.keys(verdicts).filter((k) => k !== "Transformer");
  const grewWithContext = verdicts.Transformer.word === "grew" && prompt + early[0] < window &&
    recurrent.every((k) => verdicts[k].word === "stayed within noise");
  const text = `In your browser, per generated character (characters ${span(...early)} ` +
    `against ${span(...late)} of the ${generated}, their model calls run again in ${SET} ` +
    `alternating pairs): ${parts.join("; ")}. ` +
    (grewWithContext ? "Here the Transformer's cost grew as its context did, and the " +
      `recurrent model${recurrent.length > 1 ? "s'" : "'s"}, on a state of fixed size, did ` +
      "not. " : "") +
    `(Each figure is a mean over ${SET} calls without the fastest and slowest tenth; a cost ` +
    `counts as grown or fallen when one mean is at least ${100 * MARGIN}% above the other and ` +
    `a signed-rank test of the pairs agrees, |z| \u2265 ${Z}; otherwise it stayed within ` +
    "noise.)";
  return { text, verdicts };
}
