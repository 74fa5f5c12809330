// Chapter 9: chapter 4's LSTM and chapter 7's Transformer generate side by side, with a
// minGRU model (chapter 10's linear recurrence) when the page names one, and the reader's own
// browser times every character. The LSTM and minGRU carry a state of fixed size, so each
// character costs one step; the Transformer re-reads its whole context (up to max_len
// characters) for each one. The widget reports what it measured, in words decided from its
// own repeated timings (timing.js: the first characters' model calls against the last ones',
// run again in alternating pairs, with a margin).
import {
  attach, encode, generator, int64, openSession, readModel, sample, softmax,
} from "./runtime.js";
import { paired, sentence } from "./timing.js";

const GENERATE = 200;
const TEMPERATURE = 0.8;
const BIN = 16; // characters per point of the chart (single steps are below the timer's grain)
// Untimed runs of each model before its timed characters, for at least WARM_MS: the browser
// compiles the runtime's hot code in tiers, so the first runs are slower than the later ones.
const WARM_MS = 400;

async function warmUp(run) {
  const started = performance.now();
  for (let n = 0; n < 4 || performance.now() - started < WARM_MS; n++) await run();
}

for (const root of document.querySelectorAll('.r2t-live[data-widget="side-by-side"]')) setUp(root);

function setUp(root) {
  const input = root.querySelector("textarea");
  const button = root.querySelector("button");
  const status = root.querySelector(".r2t-live-status");
  const chart = root.querySelector(".r2t-live-chart");
  const texts = { lstm: root.querySelector(".r2t-live-lstm"),
    transformer: root.querySelector(".r2t-live-transformer"),
    mingru: root.querySelector(".r2t-live-mingru") };
  let lstm = null, tf = null, mg = null, ort = null;

  // A model's session, keeping the inputs of its last GENERATE calls: after generating, the
  // compared characters' calls are run again (`replay(i)`: generated character i's call).
  function recorder(session) {
    const calls = [];
    return {
      run(feeds) {
        calls.push(feeds);
        if (calls.length > GENERATE) calls.shift();
        return session.run(feeds);
      },
      replay: (i) => session.run(calls[calls.length - GENERATE + i]),
    };
  }

  // GENERATE characters sampled from `logits` on: `advance(id)` feeds the model the new
  // character and resolves to the logits after it. Each character is timed, sampling included.
  async function timed(info, logits, advance, promptLength, random) {
    let out = "";
    const times = [];
    for (let i = 0; i < GENERATE; i++) {
      const started = performance.now();
      const next = sample(softmax(logits, TEMPERATURE), random);
      logits = await advance(next);
      times.push({ context: promptLength + i + 1, ms: performance.now() - started });
      out += info.alphabet[next];
    }
    return { out, times };
  }

  async function lstmRun(ids, random) { // one step per character, on the carried state
    const H = lstm.info.hidden_size, session = recorder(lstm.session);
    let h = new Float32Array(H), c = new Float32Array(H), logits = null;
    const step = async (id) => {
      const r = await session.run({ x: int64(ort, [id], [1]),
        h: new ort.Tensor("float32", h, [1, H]), c: new ort.Tensor("float32", c, [1, H]) });
      h = r.h_next.data; c = r.c_next.data;
      return (logits = r.logits.data);
    };
    await warmUp(() => step(ids[0])); // then start over
    h = new Float32Array(H); c = new Float32Array(H);
    for (const id of ids) await step(id); // read the prompt
    return { first: softmax(logits), ...await timed(lstm.info, logits, step, ids.length, random),
      replay: session.replay };
  }

  async function mgRun(ids, random) { // one step per character, on one vector per layer
    const L = mg.info.n_layers, D = mg.info.d_model, session = recorder(mg.session);
    let state = new Float32Array(L * D), logits = null;
    const step = async (id) => {
      const r = await session.run({ x: int64(ort, [id], [1]),
        state: new ort.Tensor("float32", state, [1, L, D]) });
      state = r.state_next.data;
      return (logits = r.logits.data);
    };
    await warmUp(() => step(ids[0])); // then start over
    state = new Float32Array(L * D);
    for (const id of ids) await step(id); // read the prompt
    return { first: softmax(logits), ...await timed(mg.info, logits, step, ids.length, random),
      replay: session.replay };
  }

  async function tfRun(ids, random) { // the whole window again for every character
    const V = tf.info.alphabet.length, session = recorder(tf.session);
    let context = ids.slice(-tf.info.max_len);
    const forward = async () => {
      const r = await session.run({ x: int64(ort, context, [1, context.length]) });
      return r.logits.data.slice((context.length - 1) * V, context.length * V);
    };
    await warmUp(forward);
    const logits = await forward();
    const advance = (next) => {
      context = context.concat([next]).slice(-tf.info.max_len);
      return forward();
    };
    return { first: softmax(logits), ...await timed(tf.info, logits, advance, ids.length, random),
      replay: session.replay };
  }

  function binned(times) {
    const points = [];
    for (let i = 0; i + BIN <= times.length; i += BIN) {
      const part = times.slice(i, i + BIN);
      points.push({ at: part[BIN - 1].context, ms: part.reduce((a, t) => a + t.ms, 0) / BIN });
    }
    return points;
  }

  function drawChart(series, maxLen) {
    const W = 520, Hh = 220, pad = { l: 56, r: 110, t: 10, b: 40 };
    const all = series.flatMap((s) => s.points);
    const xMax = Math.max(...all.map((p) => p.at)), yMax = Math.max(...all.map((p) => p.ms)) * 1.1;
    const x = (v) => pad.l + (v / xMax) * (W - pad.l - pad.r);
    const y = (v) => Hh - pad.b - (v / yMax) * (Hh - pad.t - pad.b);
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${Hh}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "milliseconds per generated character against characters generated, for each model");
    const add = (tag, attrs, text) => {
      const el = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      if (text) el.textContent = text;
      svg.append(el);
    };
    add("line", { x1: pad.l, y1: Hh - pad.b, x2: W - pad.r, y2: Hh - pad.b, stroke: "#333" });
    add("line", { x1: pad.l, y1: pad.t, x2: pad.l, y2: Hh - pad.b, stroke: "#333" });
    add("text", { x: (pad.l + W - pad.r) / 2, y: Hh - 8, "text-anchor": "middle", "font-size": 12 },
      "characters of text so far");
    add("text", { x: 12, y: (Hh - pad.b) / 2, "font-size": 12,
      transform: `rotate(-90 12 ${(Hh - pad.b) / 2})`, "text-anchor": "middle" }, "ms per character");
    for (const v of [0, yMax / 2, yMax / 1.1]) {
      add("text", { x: pad.l - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11 }, v.toFixed(2));
    }
    add("text", { x: pad.l, y: Hh - pad.b + 14, "font-size": 11, "text-anchor": "middle" }, "0");
    if (maxLen && maxLen < xMax) {  // where the Transformer's window stops growing
      add("line", { x1: x(maxLen), y1: pad.t, x2: x(maxLen), y2: Hh - pad.b, stroke: "#999",
        "stroke-dasharray": "4 3" });
      add("text", { x: x(maxLen) + 4, y: pad.t + 12, "font-size": 11, fill: "#555" },
        `window full (${maxLen})`);
    }
    add("text", { x: x(xMax), y: Hh - pad.b + 14, "font-size": 11, "text-anchor": "middle" }, String(xMax));
    const labels = [];
    for (const s of series) {
      add("polyline", { points: s.points.map((p) => `${x(p.at)},${y(p.ms)}`).join(" "),
        fill: "none", stroke: s.color, "stroke-width": 2 });
      const end = s.points[s.points.length - 1];
      labels.push({ x: x(end.at) + 6, y: y(end.ms) + 4, s });
    }
    // end labels at least a line apart, moved up (below the lowest are the axis' numbers)
    labels.sort((a, b) => b.y - a.y);
    for (let i = 1; i < labels.length; i++) {
      labels[i].y = Math.min(labels[i].y, labels[i - 1].y - 13);
    }
    for (const l of labels) {
      add("text", { x: l.x, y: l.y, "font-size": 12, fill: l.s.color }, l.s.name);
    }
    chart.replaceChildren(svg);
  }

  async function run() {
    const { ids, dropped } = encode(lstm.info, input.value);
    if (!ids.length) {
      status.textContent = "Type at least one character of the models' alphabet.";
      return;
    }
    root.dataset.state = "running";
    button.disabled = true;
    status.textContent = `Generating ${GENERATE} characters with each model\u2026`;
    const a = await lstmRun(ids, generator(1));
    const b = await tfRun(ids, generator(1));
    const c = mg ? await mgRun(ids, generator(1)) : null;
    texts.lstm.textContent = a.out;
    texts.transformer.textContent = b.out;
    const series = [{ name: "LSTM", color: "#1f77b4", points: binned(a.times) },
      { name: "Transformer", color: "#d62728", points: binned(b.times) }];
    if (c) {
      texts.mingru.textContent = c.out;
      series.push({ name: "minGRU", color: "#2ca02c", points: binned(c.times) });
    }
    drawChart(series, tf.info.max_len);
    status.textContent = "Timing the first and the last characters' model calls again, " +
      "in pairs\u2026";
    const runs = { LSTM: await paired(a.replay, GENERATE),
      Transformer: await paired(b.replay, GENERATE),
      ...(c ? { minGRU: await paired(c.replay, GENERATE) } : {}) };
    const said = sentence(runs, ids.length, tf.info.max_len, GENERATE);
    status.textContent = said.text + (dropped.length ?
      ` (Left out, not in the alphabet: ${dropped.join(" ")}.)` : "");
    root.r2tResult = { text: ids.map((i) => lstm.info.alphabet[i]).join(""),
      lstmProbs: a.first, transformerProbs: b.first, lstmTimes: a.times, transformerTimes: b.times,
      ...(c ? { mingruProbs: c.first, mingruTimes: c.times } : {}), paired: runs,
      verdicts: said.verdicts };
    root.dataset.text = root.r2tResult.text;
    root.dataset.state = "ready";
    button.disabled = false;
  }

  const start = async () => {
    const names = [root.dataset.lstm, root.dataset.transformer, root.dataset.mingru]
      .filter(Boolean);
    const infos = await Promise.all(names.map(readModel));
    const sessions = await Promise.all(infos.map(openSession));
    const [ls, ts, ms] = sessions;
    lstm = { info: infos[0], session: ls.session };
    tf = { info: infos[1], session: ts.session };
    if (ms) mg = { info: infos[2], session: ms.session };
    ort = ls.ort;
    status.textContent = "Ready: press the button to generate.";
  };
  // What the build measured (onnxruntime in Python, same loop), drawn when the runtime cannot
  // run here.
  const fallback = async () => {
    const built = JSON.parse(root.dataset.default);
    drawChart(built.series, built.max_len);
  };
  const begin = attach(root, { start, fallback });
  button.addEventListener("click", async () => {
    await begin();
    if (root.dataset.state !== "fallback") await run();
  });
}
