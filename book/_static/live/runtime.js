// What the live widgets share: onnxruntime-web loaded on first use, a model's description
// (the JSON the build wrote beside its .onnx file), text <-> ids, sampling, and drawing.
// Plain ES modules, no framework. The runtime and the models are served by the site itself.

const HERE = new URL(".", import.meta.url); // .../_static/live/
const MODELS = new URL("../models/", HERE); // the build's exports (rnn2transformer.book.export)
const ORT = new URL("ort/", HERE); // fetched by make book (scripts/fetch_onnxruntime_web.py)

let runtime = null;

/** onnxruntime-web, fetched the first time a widget needs it (never on page load). */
export function loadRuntime() {
  if (runtime) return runtime;
  runtime = new Promise((resolve, reject) => {
    if (typeof WebAssembly !== "object") {
      reject(new Error("this browser cannot run WebAssembly"));
      return;
    }
    const script = document.createElement("script");
    script.src = new URL("ort.wasm.min.js", ORT).href;
    script.onload = () => {
      const ort = window.ort;
      ort.env.wasm.numThreads = 1; // one thread: no cross-origin isolation needed
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = ORT.href;
      resolve(ort);
    };
    script.onerror = () => reject(new Error("the runtime could not be downloaded"));
    document.head.appendChild(script);
  });
  runtime.catch(() => { runtime = null; }); // a later attempt may succeed
  return runtime;
}

/** The description of model `name` (alphabet, sizes, default and golden outputs). */
export async function readModel(name) {
  const response = await fetch(new URL(`${name}.json`, MODELS));
  if (!response.ok) throw new Error(`${name}.json: HTTP ${response.status}`);
  return response.json();
}

/** An inference session for a model described by `info`. */
export async function openSession(info) {
  const ort = await loadRuntime();
  const session = await ort.InferenceSession.create(new URL(info.model, MODELS).href,
    { executionProviders: ["wasm"] });
  return { ort, session };
}

/** Character ids of `text`; characters outside the model's alphabet are left out. */
export function encode(info, text) {
  const index = new Map(info.alphabet.map((c, i) => [c, i]));
  const ids = [], dropped = new Set();
  for (const c of text) {
    if (index.has(c)) ids.push(index.get(c));
    else dropped.add(c);
  }
  return { ids, dropped: [...dropped] };
}

export function int64(ort, ids, dims) {
  return new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), dims);
}

/** softmax(logits / temperature), in float64 like the build's golden values. */
export function softmax(logits, temperature = 1) {
  let top = -Infinity;
  for (const z of logits) top = Math.max(top, z / temperature);
  const e = Array.from(logits, (z) => Math.exp(z / temperature - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** A small seeded generator (mulberry32), so "sample again" is repeatable per seed. */
export function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sample(probs, random) {
  let u = random(), i = 0;
  for (; i < probs.length - 1; i++) {
    u -= probs[i];
    if (u < 0) break;
  }
  return i;
}

/** A character as a reader can see it: newlines and spaces get visible stand-ins. */
export function shown(c) {
  return c === "\n" ? "\u21b5" : c === " " ? "\u2423" : c;
}

function element(tag, attrs = {}, text = null) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== null) el.textContent = text;
  return el;
}
export { element };

/** The `k` most likely next characters (or tokens: `label` says which) as labelled bars. */
export function drawDistribution(box, info, probs, k = 8, label = "most likely next characters") {
  const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, k);
  const list = element("ol", { class: "r2t-live-bars", "aria-label": label });
  for (const [p, i] of order) {
    const item = element("li");
    item.append(element("code", {}, shown(info.alphabet[i])));
    const bar = element("span", { class: "r2t-live-bar" });
    bar.style.width = `${Math.max(1, Math.round(160 * p))}px`;
    item.append(bar, element("span", {}, ` ${(100 * p).toFixed(1)}%`));
    list.append(item);
  }
  box.replaceChildren(list);
}

/** `text` with each character's background set by `values` (in [lo, hi]): one row. */
export function drawShadedText(text, values, { lo = 0, hi = 1, label = "", title = "" } = {}) {
  const row = element("div", { class: "r2t-live-row" });
  if (label) row.append(element("span", { class: "r2t-live-label" }, label));
  const line = element("span", { class: "r2t-live-text" });
  [...text].forEach((c, t) => {
    const v = values[t];
    const span = element("span", { title: `${title}${shown(c)}: ${v.toFixed(3)}` }, shown(c));
    span.style.background = shade(v, lo, hi);
    line.append(span);
  });
  row.append(line);
  return row;
}

// Light tints only, so black text stays readable on every cell: blue for high values, red
// for low ones on a signed scale (lo < 0), white in the middle.
function shade(v, lo, hi) {
  if (lo < 0) {
    const a = Math.min(1, Math.abs(v) / Math.max(hi, -lo)) * 0.55;
    return v >= 0 ? `rgba(33, 102, 172, ${a})` : `rgba(178, 24, 43, ${a})`;
  }
  const a = Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 0.6;
  return `rgba(33, 102, 172, ${a})`;
}

/** The parts every text widget has: the text box, the status line and the output boxes. */
export function parts(root) {
  return {
    input: root.querySelector("textarea"),
    status: root.querySelector(".r2t-live-status"),
    next: root.querySelector(".r2t-live-next"),
    more: root.querySelector(".r2t-live-continuation"),
    heat: root.querySelector(".r2t-live-heat"),
  };
}

/** A finished run: keep it for the page and the site tests, draw it, say what was measured
 * (`said`) and which typed characters the model could not read, and mark the widget ready. */
export function finish(root, result, render, said, dropped) {
  root.r2tResult = result;
  render(result);
  parts(root).status.textContent = said + (dropped.length ? `; left out (not in the alphabet): ${
    dropped.map(shown).join(" ")}` : "") + ".";
  root.dataset.text = result.text;
  root.dataset.state = "ready";
}

/** Shared set-up: the first use loads the runtime; if it fails, the build's outputs show. */
export function attach(root, { start, fallback }) {
  const status = root.querySelector(".r2t-live-status");
  let started = null;
  const begin = () => {
    if (!started) {
      status.textContent = "Loading the runtime and the model (once)\u2026";
      started = start().catch((error) => {
        root.dataset.state = "fallback";
        status.textContent = `The model cannot run in this browser (${error.message}). ` +
          "Below: what it computed for the default text when the book was built.";
        return fallback();
      }).catch((error) => {
        status.textContent = `The widget could not start (${error.message}).`;
      });
    }
    return started;
  };
  root.addEventListener("focusin", begin);
  root.addEventListener("click", begin);
  return begin;
}

export function debounce(fn, ms = 150) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
