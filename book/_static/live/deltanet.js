// Chapter 11's DeltaNet recall stack on the reader's pairs and queries ("A 7 B 3 ? A"): the
// exported one-token step (x_t, conv, state) -> (logits, conv', state') is looped here, so
// every layer's matrix state S can be drawn after every token, with what the model predicts
// there and its answer at each query. The text form is the one
// rnn2transformer.book.export.RecallText reads; the names of the ids come from the model's
// JSON ("alphabet": the keys first, n_keys of them, then the values).
import {
  attach, debounce, drawDistribution, element, int64, openSession, readModel, softmax,
} from "./runtime.js";

const MAX_TOKENS = 200;
const TOKEN = /[A-Za-z]+|[0-9]+|\?|[^\s,;:=]/g; // as RecallText._TOKEN
const CELL = 6; // pixels per entry of a drawn matrix

/** The reader's text as { ids, queries } (the positions asked with "?"); throws an Error that
 * says what it cannot read. The same rules as RecallText.parse in the book's package. */
export function parseRecall(info, text) {
  const nKeys = info.n_keys, nValues = info.alphabet.length - nKeys;
  const keys = new Map(info.alphabet.slice(0, nKeys).map((name, i) => [name, i]));
  const ids = [], queries = [];
  let asking = false;
  for (const match of text.matchAll(TOKEN)) {
    const token = match[0], at = match.index;
    if (token === "?") {
      if (asking) throw new Error(`"?" must be followed by a key, got "?" at ${at}`);
      asking = true;
      continue;
    }
    if (/^[0-9]+$/.test(token)) {
      if (asking || Number(token) >= nValues) {
        throw new Error(`"${token}" at ${at}: a value must be a number from 0 to ${
          nValues - 1} and cannot be asked for ("?" goes before a key)`);
      }
      ids.push(nKeys + Number(token));
    } else if (/^[A-Za-z]+$/.test(token) && keys.has(token.toUpperCase())) {
      if (asking) queries.push(ids.length);
      ids.push(keys.get(token.toUpperCase()));
    } else {
      throw new Error(`"${token}" at ${at} is not a key (${info.alphabet[0]} to ${
        info.alphabet[nKeys - 1]}), a value (0 to ${nValues - 1}) or "?"`);
    }
    asking = false;
  }
  if (asking || !ids.length) {
    throw new Error('type keys and values, and "?" before a key to ask for its value');
  }
  return { ids, queries };
}

/** For each query, the value your text paired with its key last before it (null if none). */
export function pairedValues(info, ids, queries) {
  const asked = new Set(queries);
  return queries.map((q) => {
    let value = null;
    for (let i = 0; i + 1 < q; i++) {
      if (ids[i] === ids[q] && !asked.has(i) && ids[i + 1] >= info.n_keys) value = ids[i + 1];
    }
    return value;
  });
}

/** Where layer l, head h's matrix (d_value rows, d_key columns) starts in a state array. */
export function matrixOffset(info, l, h) {
  return (l * info.n_heads + h) * info.d_value * info.d_key;
}

/** The step over `ids` from zero states: each token's probabilities and every layer's state
 * after it (Float32Array, (L, H, d_value, d_key) row-major). */
export async function trace(ort, session, info, ids) {
  const L = info.n_layers, H = info.n_heads, K = info.conv_state, D = info.d_model;
  let conv = new Float32Array(L * K * D);
  let state = new Float32Array(L * H * info.d_value * info.d_key);
  const probs = [], states = [];
  for (const id of ids) {
    const r = await session.run({ x: int64(ort, [id], [1]),
      conv: new ort.Tensor("float32", conv, [1, L, K, D]),
      state: new ort.Tensor("float32", state, [1, L, H, info.d_value, info.d_key]) });
    conv = r.conv_next.data;
    state = r.state_next.data;
    probs.push(softmax(r.logits.data));
    states.push(state);
  }
  return { probs, states };
}

/** A state array as nested lists (L, H, d_value, d_key), as the build's JSON holds it. */
export function nested(info, flat) {
  const rows = (o) => Array.from({ length: info.d_value }, (_, r) =>
    Array.from(flat.subarray(o + r * info.d_key, o + (r + 1) * info.d_key)));
  return Array.from({ length: info.n_layers }, (_, l) =>
    Array.from({ length: info.n_heads }, (_, h) => rows(matrixOffset(info, l, h))));
}

// blue for positive entries, red for negative, white for zero; `a` in [0, 1]
function tint(v, scale) {
  const a = Math.min(1, Math.abs(v) / scale);
  const [r, g, b] = v >= 0 ? [33, 102, 172] : [178, 24, 43];
  const mix = (c) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

/** One matrix (rows x cols numbers from `values` at `offset`) as an SVG heatmap. */
export function drawMatrix(values, offset, rows, cols, scale, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const pad = 14;
  svg.setAttribute("viewBox", `0 0 ${cols * CELL + pad} ${rows * CELL + pad}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text) el.textContent = text;
    svg.append(el);
  };
  // the key index grows to the right, the value index downwards (read upwards, the arrow
  // at the start of the rotated label points down)
  const bottom = pad + rows * CELL;
  add("text", { x: pad, y: 9, "font-size": 8, fill: "#333" }, "key dimension \u2192");
  add("text", { x: 10, y: bottom, "font-size": 8, fill: "#333",
    transform: `rotate(-90 10 ${bottom})` }, "\u2190 value dimension");
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      add("rect", { x: pad + c * CELL, y: pad + r * CELL, width: CELL, height: CELL,
        fill: tint(values[offset + r * cols + c], scale) });
    }
  }
  add("rect", { x: pad, y: pad, width: cols * CELL, height: rows * CELL, fill: "none",
    stroke: "#999", "stroke-width": 0.5 });
  return svg;
}

function largest(arrays) {
  let top = 0;
  for (const a of arrays) for (const v of a) top = Math.max(top, Math.abs(v));
  return top || 1;
}

function setUp(root) {
  const input = root.querySelector("textarea");
  const status = root.querySelector(".r2t-live-status");
  const position = root.querySelector('input[type="range"]');
  const where = root.querySelector(".r2t-live-position");
  const show = root.querySelector("select");
  const [back, forth] = root.querySelectorAll("button[data-step]");
  const box = (name) => root.querySelector(`.r2t-live-${name}`);
  let info = null, ort = null, session = null, last = null, latest = 0;

  const name = (id) => info.alphabet[id];
  const percent = (p) => `${(100 * p).toFixed(1)}%`;

  function drawTokens(result, t) {
    const asked = new Set(result.queries);
    box("tokens").replaceChildren(...result.ids.map((id, i) => {
      const span = element("span", { class: [id < info.n_keys ? "r2t-live-key" : "r2t-live-value",
        asked.has(i) ? "r2t-live-query" : "", i === t - 1 ? "r2t-live-current" : "",
        i >= t ? "r2t-live-later" : ""].filter(Boolean).join(" "),
      title: `token ${i + 1}: id ${id}` }, (asked.has(i) ? "?" : "") + name(id));
      if (i === t - 1) span.setAttribute("aria-current", "true");
      span.addEventListener("click", () => { if (!position.disabled) moveTo(i + 1); });
      return span;
    }));
  }

  function drawMatrices(result, t) {
    const change = show.value === "change";
    const now = result.states[t - 1];
    const before = t > 1 ? result.states[t - 2] : new Float32Array(now.length);
    const values = change ? now.map((v, i) => v - before[i]) : now;
    const figures = [];
    for (let l = 0; l < info.n_layers; l++) {
      for (let h = 0; h < info.n_heads; h++) {
        const o = matrixOffset(info, l, h), size = info.d_value * info.d_key;
        const scale = change ? result.changeScale[l] : result.scale[l];
        const part = values.subarray(o, o + size);
        const low = Math.min(...part), high = Math.max(...part);
        const what = change ? `What token ${t} (${name(result.ids[t - 1])}) changed in layer ${
          l + 1}'s state matrix` : `Layer ${l + 1}'s state matrix S after token ${t} (${
          name(result.ids[t - 1])})`;
        const label = `${what}${info.n_heads > 1 ? `, head ${h + 1}` : ""}: ${info.d_value} by ${
          info.d_key}, entries from ${low.toFixed(3)} to ${high.toFixed(3)}`;
        const figure = element("figure");
        figure.append(drawMatrix(values, o, info.d_value, info.d_key, scale, label),
          element("figcaption", {}, `layer ${l + 1}${info.n_heads > 1 ? `, head ${h + 1}` : ""}` +
            ` (colour scale \u00b1${scale.toFixed(2)})`));
        figures.push(figure);
      }
    }
    box("heat").replaceChildren(...figures);
  }

  function drawAnswers(result) {
    const paired = pairedValues(info, result.ids, result.queries);
    const list = element("ul");
    result.queries.forEach((q, k) => {
      const probs = result.queryProbs[k];
      const top = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 3);
      const given = paired[k] === null ? `; your text gave ${name(result.ids[q])} no value` :
        `; your text paired ${name(result.ids[q])} with ${name(paired[k])}, so the top answer ${
          top[0][1] === paired[k] ? "is" : "is not"} that value`;
      const item = element("li");
      item.append(element("code", {}, `?${name(result.ids[q])}`),
        ` (token ${q + 1}): ${top.map(([p, i]) => `${name(i)} ${percent(p)}`).join(", ")}${given}`);
      list.append(item);
    });
    box("answers").replaceChildren(list);
  }

  function render(result) {
    const T = result.ids.length;
    position.max = String(T);
    const t = Math.min(Math.max(1, Number(position.value) || T), T);
    position.value = String(t);
    const id = result.ids[t - 1];
    const q = result.queries.indexOf(t - 1);
    where.textContent = `token ${t} of ${T}: ${q >= 0 ? "?" : ""}${name(id)} (${
      id < info.n_keys ? "a key" : "a value"}${q >= 0 ? ", a query" : ""})`;
    drawTokens(result, t);
    if (result.states[t - 1]) drawMatrices(result, t);
    const probs = result.probs[t - 1];
    if (probs) drawDistribution(box("next"), info, probs, 5, "the model's most likely next tokens");
    else box("next").replaceChildren();
    drawAnswers(result);
  }

  function moveTo(t) {
    position.value = String(t);
    if (last) render(last);
  }

  async function run() {
    const mine = ++latest;
    const text = input.value;
    let parsed;
    try {
      parsed = parseRecall(info, text);
      if (parsed.ids.length > MAX_TOKENS) {
        throw new Error(`at most ${MAX_TOKENS} tokens, got ${parsed.ids.length}`);
      }
    } catch (error) {
      status.textContent = `The model cannot read this: ${error.message}.`;
      return;
    }
    root.dataset.state = "running";
    const started = performance.now();
    const { probs, states } = await trace(ort, session, info, parsed.ids);
    const msPerToken = (performance.now() - started) / parsed.ids.length;
    if (mine !== latest) return; // the reader typed on; a newer run will draw
    const T = parsed.ids.length;
    const scale = [], changeScale = [];
    const layer = (s, l) => s.subarray(matrixOffset(info, l, 0), matrixOffset(info, l + 1, 0));
    for (let l = 0; l < info.n_layers; l++) {
      scale.push(largest(states.map((s) => layer(s, l))));
      changeScale.push(largest(states.map((s, t) => {
        const b = t ? layer(states[t - 1], l) : null;
        return layer(s, l).map((v, i) => v - (b ? b[i] : 0));
      })));
    }
    const queryProbs = parsed.queries.map((q) => probs[q]);
    last = { text, ...parsed, probs, states, scale, changeScale, queryProbs };
    position.max = String(T); // (before the value: a range clamps its value to its max)
    position.value = String(T); // a new text starts at its last token
    // what the page computed, for the site tests (the build's golden values are the same)
    root.r2tResult = { text, ...parsed, queryProbs, lastState: nested(info, states[T - 1]),
      msPerToken };
    render(last);
    status.textContent = `${T} tokens read in ${msPerToken.toFixed(2)} ms each in your ` +
      `browser. Whatever the length, the state is ${info.n_layers} matrices of ${
        info.d_value} \u00d7 ${info.d_key} numbers (and each layer's last ${
        info.conv_state} inputs for its short convolution).`;
    root.dataset.text = text;
    root.dataset.state = "ready";
  }

  function help() {
    const n = info.n_keys, values = info.alphabet.length - n;
    root.querySelector(".r2t-live-help").textContent = `Keys are ${info.alphabet[0]} to ${
      info.alphabet[n - 1]} (the model's ids 0 to ${n - 1}, in the order A\u2013Z, then AA, AB, ` +
      `\u2026; case does not matter), values the numbers 0 to ${values - 1} (value n is id ${
        n} + n). Write a key, then its value; "?" before a key asks for its value (the "?" is ` +
      "not a token: the model reads the key, and the page shows its answer there).";
  }

  const start = async () => {
    info = await readModel(root.dataset.model);
    help();
    ({ ort, session } = await openSession(info));
    input.addEventListener("input", debounce(run));
    position.addEventListener("input", () => last && render(last));
    show.addEventListener("change", () => last && render(last));
    back.addEventListener("click", () => moveTo(Math.max(1, Number(position.value) - 1)));
    forth.addEventListener("click", () => moveTo(Math.min(Number(position.max),
      Number(position.value) + 1)));
    await run();
  };
  // The build kept the last token's state and the answers at the queries: the page shows
  // those, at the last token only.
  const fallback = async () => {
    info = info ?? await readModel(root.dataset.model);
    help();
    const d = info.default, T = d.ids.length;
    const state = Float32Array.from(d.state.flat(3));
    const probs = Array.from({ length: T }, (_, i) =>
      d.queries.includes(i) ? d.probs[d.queries.indexOf(i)] : null);
    const states = Array.from({ length: T }, (_, i) => (i === T - 1 ? state : null));
    const scale = Array.from({ length: info.n_layers }, (_, l) => largest([state.subarray(
      matrixOffset(info, l, 0), matrixOffset(info, l + 1, 0))]));
    last = { text: d.text, ids: d.ids, queries: d.queries, probs, states, scale,
      changeScale: scale, queryProbs: d.probs };
    position.max = String(T);
    position.value = String(T);
    show.value = "state"; // the state before the last token was not kept
    position.disabled = show.disabled = back.disabled = forth.disabled = true;
    render(last);
  };
  attach(root, { start, fallback });
}

if (globalThis.document) {
  for (const root of document.querySelectorAll('.r2t-live[data-widget="deltanet"]')) setUp(root);
}
